import Foundation
import TestSupport

@testable import ImageProcessing

/// `Fixtures/images/golden.json`, written by `tools/make_image_fixtures.py` from Pillow + transformers.
struct Golden: Decodable {
    struct PixelValues: Decodable {
        let rows: Int
        let columns: Int
        let sum: Double
        let absSum: Double
        let samples: [[Double]]
        let f32: String?
        enum CodingKeys: String, CodingKey { case rows, columns, sum, absSum = "abs_sum", samples, f32 }
    }

    struct Pipeline: Decodable {
        let gridThw: [Int]
        let tokens: Int
        let resizedWidth: Int
        let resizedHeight: Int
        let resizedFnv1a64: String
        let resizedPng: String?
        let pixelValues: PixelValues
        enum CodingKeys: String, CodingKey {
            case gridThw = "grid_thw", tokens, resizedWidth = "resized_width", resizedHeight = "resized_height"
            case resizedFnv1a64 = "resized_fnv1a64", resizedPng = "resized_png", pixelValues = "pixel_values"
        }
    }

    struct Case: Decodable, CustomStringConvertible {
        let file: String
        let format: String
        let pilMode: String
        let width: Int
        let height: Int
        let decodedFnv1a64: String
        let decodedRgb: String?
        let pipeline: Pipeline
        let compositedFnv1a64: String?
        let composited: Pipeline?
        var description: String { file }

        enum CodingKeys: String, CodingKey {
            case file, format, pilMode = "pil_mode", width, height, decodedFnv1a64 = "decoded_fnv1a64"
            case decodedRgb = "decoded_rgb", compositedFnv1a64 = "composited_fnv1a64", composited
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            file = try container.decode(String.self, forKey: .file)
            format = try container.decode(String.self, forKey: .format)
            pilMode = try container.decode(String.self, forKey: .pilMode)
            width = try container.decode(Int.self, forKey: .width)
            height = try container.decode(Int.self, forKey: .height)
            decodedFnv1a64 = try container.decode(String.self, forKey: .decodedFnv1a64)
            decodedRgb = try container.decodeIfPresent(String.self, forKey: .decodedRgb)
            compositedFnv1a64 = try container.decodeIfPresent(String.self, forKey: .compositedFnv1a64)
            composited = try container.decodeIfPresent(Pipeline.self, forKey: .composited)
            pipeline = try Pipeline(from: decoder)
        }
    }

    struct Bad: Decodable, CustomStringConvertible {
        let file: String
        let error: String
        var description: String { file }
    }

    struct SmartResizeCase: Decodable, CustomStringConvertible {
        let height: Int
        let width: Int
        let expected: [Int]?
        var description: String { "\(height)x\(width)" }
    }

    let minPixels: Int
    let maxPixels: Int
    let cases: [Case]
    let bad: [Bad]
    let smartResize: [SmartResizeCase]

    enum CodingKeys: String, CodingKey {
        case minPixels = "min_pixels", maxPixels = "max_pixels", cases, bad, smartResize = "smart_resize"
    }

    /// Loaded once; an unreadable file yields an empty golden so the count checks fail loudly.
    static let shared: Golden = {
        let url = Fixtures.url("images/golden.json")
        guard let data = try? Data(contentsOf: url), let golden = try? JSONDecoder().decode(Golden.self, from: data)
        else { return Golden(minPixels: 0, maxPixels: 0, cases: [], bad: [], smartResize: []) }
        return golden
    }()

    static func url(_ file: String) -> URL { Fixtures.url("images/\(file)") }
}

/// 64-bit FNV-1a, hex: the checksum the fixture script writes.
func fnv1a64(_ bytes: [UInt8]) -> String {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// Largest absolute difference between two equally long byte arrays (Int.max when lengths differ).
func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    guard a.count == b.count else { return Int.max }
    var worst = 0
    for index in a.indices { worst = max(worst, abs(Int(a[index]) - Int(b[index]))) }
    return worst
}
