import Foundation
import Qwen25VL
import TensorKit
import TestSupport

/// Decoded `Fixtures/positions/*.json` (written by `tools/make_position_fixtures.py` from transformers).
enum PositionFixtures {
    struct RopeCase: Decodable, CustomTestStringConvertibleName {
        let name: String
        let inputIDs: [Int32]
        let imageGridTHW: [[Int]]
        let positionIDs: [[Int32]]
        let ropeDelta: Int32

        enum CodingKeys: String, CodingKey {
            case name, inputIDs = "input_ids", imageGridTHW = "image_grid_thw", positionIDs = "position_ids"
            case ropeDelta = "rope_delta"
        }
    }

    struct WindowCase: Decodable, CustomTestStringConvertibleName {
        let name: String
        let gridTHW: [[Int]]
        let windowIndex: [Int32]
        let reverseIndex: [Int32]
        let cuWindowSeqlens: [Int32]
        let cuSeqlens: [Int32]
        let patchRows: [Int32]
        let patchCols: [Int32]

        enum CodingKeys: String, CodingKey {
            case name, gridTHW = "grid_thw", windowIndex = "window_index", reverseIndex = "reverse_index"
            case cuWindowSeqlens = "cu_window_seqlens", cuSeqlens = "cu_seqlens"
            case patchRows = "patch_rows", patchCols = "patch_cols"
        }
    }

    private struct File<Case: Decodable>: Decodable { let cases: [Case] }

    static func load<Case: Decodable>(_ name: String, as _: Case.Type) -> [Case] {
        // A missing or malformed fixture yields no cases; `fixturesPresent` tests catch that.
        guard let data = try? Data(contentsOf: Fixtures.url("positions/\(name)")),
            let file = try? JSONDecoder().decode(File<Case>.self, from: data)
        else { return [] }
        return file.cases
    }

    static let rope = load("rope_index.json", as: RopeCase.self)
    static let windows = load("window_index.json", as: WindowCase.self)

    static func grids(_ rows: [[Int]]) -> [VisionGrid] {
        rows.map { VisionGrid(t: $0[0], h: $0[1], w: $0[2]) }
    }
}

/// Shows a fixture case by its name in test output.
protocol CustomTestStringConvertibleName: CustomStringConvertible { var name: String { get } }
extension CustomTestStringConvertibleName { var description: String { name } }
