import Foundation
import Qwen25VL
import TensorKit
import Testing

@Suite("Rotary tables (host)")
struct RotaryTablesTests {
    /// Positions of a text + image + text sequence (t, h, w), starting past a shared prefix.
    static let positions: (t: [Int32], h: [Int32], w: [Int32]) = {
        let text = Array(Int32(37)..<Int32(45))
        let image = (0..<12).map { Int32($0) }
        let after = Array(Int32(49)..<Int32(55))
        return (
            text + image.map { _ in 45 } + after, text + image.map { 45 + $0 / 4 } + after,
            text + image.map { 45 + $0 % 4 } + after
        )
    }()

    @Test("M-RoPE tables equal the per-token computation they replace, and their plan expands to them")
    func multimodal() throws {
        let (t, h, w) = Self.positions
        let tables = try RotaryTables.multimodal(
            temporal: t, height: h, width: w, headDim: 128, theta: 1_000_000, mropeSection: [16, 24, 24])
        let expected = PerTokenReference.multimodal(
            temporal: t, height: h, width: w, headDim: 128, theta: 1_000_000, mropeSection: [16, 24, 24])
        #expect(tables.cos == expected.cos && tables.sin == expected.sin)
        let plan = try RotaryTables.multimodalPlan(
            temporal: t, height: h, width: w, headDim: 128, theta: 1_000_000, mropeSection: [16, 24, 24])
        #expect(plan.tokens == t.count && plan.angleRows == 54 - 37 + 1 && plan.frequencies == 64)
        #expect(plan.expanded().cos == expected.cos)
    }

    @Test("2D vision tables equal the per-token computation they replace")
    func vision() throws {
        let rows = (0..<48).map { Int32($0 / 8) }, cols = (0..<48).map { Int32(($0 * 5) % 8) }
        let tables = try RotaryTables.vision(rows: rows, cols: cols, headDim: 80, theta: 10_000)
        let expected = PerTokenReference.vision(rows: rows, cols: cols, headDim: 80, theta: 10_000)
        #expect(tables.cos == expected.cos && tables.sin == expected.sin)
        let plan = try RotaryTables.visionPlan(rows: rows, cols: cols, headDim: 80, theta: 10_000)
        #expect(plan.components == 2 && plan.frequencies == 20 && plan.columns.count == 40)
    }

    @Test("sections past half the head and an empty sequence are fine; odd or mismatched sizes throw")
    func edges() throws {
        let (t, h, w) = Self.positions
        let long = try RotaryTables.multimodal(
            temporal: t, height: h, width: w, headDim: 8, theta: 10_000, mropeSection: [2, 2, 2, 2])
        let reference = PerTokenReference.multimodal(
            temporal: t, height: h, width: w, headDim: 8, theta: 10_000, mropeSection: [2, 2])
        #expect(long.cos == reference.cos && long.sin == reference.sin)
        let empty = try RotaryTables.multimodal(
            temporal: [], height: [], width: [], headDim: 8, theta: 10_000, mropeSection: [2, 1, 1])
        #expect(empty.cos.isEmpty)
        #expect(throws: TensorError.self) {
            try RotaryTables.multimodal(
                temporal: t, height: h, width: w, headDim: 7, theta: 10_000, mropeSection: [1, 1, 1])
        }
        #expect(throws: TensorError.self) {
            try RotaryTables.multimodal(
                temporal: t, height: Array(h.dropLast()), width: w, headDim: 8, theta: 10_000, mropeSection: [2, 1, 1])
        }
        #expect(throws: TensorError.self) { try RotaryTables.vision(rows: [0], cols: [0], headDim: 6, theta: 10_000) }
        #expect(throws: TensorError.self) {
            try RotaryTables.vision(rows: [0, 1], cols: [0], headDim: 8, theta: 10_000)
        }
    }
}

/// The per-token loops `RotaryTables` used before it built plans, kept as the reference.
enum PerTokenReference {
    static func multimodal(
        temporal: [Int32], height: [Int32], width: [Int32], headDim: Int, theta: Double, mropeSection: [Int]
    ) -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        let inverse = RotaryTables.inverseFrequencies(dim: headDim, theta: theta)
        var component = [Int](repeating: 0, count: half)
        var start = 0
        for (section, size) in mropeSection.enumerated() {
            for j in start..<min(start + size, half) { component[j] = section % 3 }
            start += size
        }
        let count = temporal.count
        let rows = [temporal, height, width]
        let angles = AngleTable(positions: rows.flatMap { $0 }, inverse: inverse)
        var cosTable = [Float](repeating: 0, count: count * headDim)
        var sinTable = [Float](repeating: 0, count: count * headDim)
        for token in 0..<count {
            let base = token * headDim
            for j in 0..<half {
                let (c, s) = angles.value(position: rows[component[j]][token], j: j)
                cosTable[base + j] = c
                cosTable[base + half + j] = c
                sinTable[base + j] = s
                sinTable[base + half + j] = s
            }
        }
        return (cosTable, sinTable)
    }

    static func vision(rows: [Int32], cols: [Int32], headDim: Int, theta: Double) -> (cos: [Float], sin: [Float]) {
        let quarter = headDim / 4
        let half = headDim / 2
        let inverse = RotaryTables.inverseFrequencies(dim: half, theta: theta)
        let count = rows.count
        let angles = AngleTable(positions: rows + cols, inverse: inverse, columns: quarter)
        var cosTable = [Float](repeating: 0, count: count * headDim)
        var sinTable = [Float](repeating: 0, count: count * headDim)
        for token in 0..<count {
            let base = token * headDim
            for j in 0..<quarter {
                let (rowCos, rowSin) = angles.value(position: rows[token], j: j)
                let (colCos, colSin) = angles.value(position: cols[token], j: j)
                cosTable[base + j] = rowCos
                cosTable[base + half + j] = rowCos
                sinTable[base + j] = rowSin
                sinTable[base + half + j] = rowSin
                cosTable[base + quarter + j] = colCos
                cosTable[base + half + quarter + j] = colCos
                sinTable[base + quarter + j] = colSin
                sinTable[base + half + quarter + j] = colSin
            }
        }
        return (cosTable, sinTable)
    }

    private struct AngleTable {
        let first: Int32
        let columns: Int
        var cos: [Float] = []
        var sin: [Float] = []

        init(positions: [Int32], inverse: [Float], columns: Int? = nil) {
            let columns = columns ?? inverse.count
            first = positions.min() ?? 0
            self.columns = columns
            let span = Int((positions.max() ?? first) - first) + 1
            for offset in 0..<span {
                for j in 0..<columns {
                    let angle = Float(first + Int32(offset)) * inverse[j]
                    cos.append(Foundation.cos(angle))
                    sin.append(Foundation.sin(angle))
                }
            }
        }

        func value(position: Int32, j: Int) -> (Float, Float) {
            let index = Int(position - first) * columns + j
            return (cos[index], sin[index])
        }
    }
}
