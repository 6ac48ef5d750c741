import Foundation
import TensorKit

/// Per-token cos/sin tables for the rotary embeddings, computed on the host in fp32 the way
/// transformers computes them (inverse frequencies in fp32, angle = position x frequency in fp32).
///
/// Each table has one row of `headDim` values per token: the angles of the first half repeated in the
/// second half, as `cat(freqs, freqs)` does, so that one `applyRope` op serves both kinds of rotary.
///
/// The model does not expand them itself: it hands a plan (the exact angles once per position value and
/// each token's positions, from `multimodalPlan` or `visionPlan`) to ``Backend/rotaryTables(_:)``, which a
/// GPU backend expands on the device. `multimodal` and `vision` expand the same plans on the host.
public struct RotaryTables: Sendable, Equatable {
    /// `tokens x headDim` cosines, row-major.
    public var cos: [Float]
    /// `tokens x headDim` sines, row-major.
    public var sin: [Float]
    public var headDim: Int

    /// Inverse frequencies `1 / theta^(2i / dim)` for `i < dim / 2`, rounded to fp32 like torch.
    public static func inverseFrequencies(dim: Int, theta: Double) -> [Float] {
        (0..<(dim / 2)).map { i in
            let exponent = Float(2 * i) / Float(dim)
            return Float(1.0 / Float(Foundation.pow(theta, Double(exponent))))
        }
    }

    /// M-RoPE tables for the decoder (SPEC section 6): dimension j of the rotated half uses the
    /// position component (t, h or w) of the `mropeSection` chunk it falls in.
    ///
    /// - Parameters:
    ///   - temporal, height, width: one position per token each.
    ///   - mropeSection: chunk sizes over `headDim / 2`, e.g. [16, 24, 24].
    /// - Throws: ``TensorError`` for an odd `headDim` or position rows of different lengths.
    public static func multimodal(
        temporal: [Int32], height: [Int32], width: [Int32], headDim: Int, theta: Double, mropeSection: [Int]
    ) throws -> RotaryTables {
        RotaryTables(
            try multimodalPlan(
                temporal: temporal, height: height, width: width, headDim: headDim, theta: theta,
                mropeSection: mropeSection))
    }

    /// What ``multimodal(temporal:height:width:headDim:theta:mropeSection:)`` expands, for
    /// ``Backend/rotaryTables(_:)`` (which may expand it on the device).
    public static func multimodalPlan(
        temporal: [Int32], height: [Int32], width: [Int32], headDim: Int, theta: Double, mropeSection: [Int]
    ) throws -> RotaryTablePlan {
        guard headDim >= 0, headDim % 2 == 0 else {
            throw TensorError.shapeMismatch(
                op: "rotaryTables", detail: "rotary needs an even head dimension, got \(headDim)")
        }
        let half = headDim / 2
        var component = [Int](repeating: 0, count: half)
        var start = 0
        for (section, size) in mropeSection.enumerated() {
            for j in start..<max(start, min(start + size, half)) { component[j] = section % 3 }
            start += max(0, size)
        }
        // Angles depend only on (position, j): cos and sin once per distinct position value.
        let rows = [temporal, height, width]
        let angles = try AngleTable(positions: rows, inverse: inverseFrequencies(dim: headDim, theta: theta))
        return try RotaryTablePlan(
            headDim: headDim, frequencies: angles.columns, angleCos: angles.cos, angleSin: angles.sin,
            positions: angles.rows, columns: component.enumerated().map { .init(component: $1, frequency: $0) })
    }

    /// 2D vision tables (SPEC section 5): a patch at (row, col) gets angles
    /// `[row * f_0..f_{q-1}, col * f_0..f_{q-1}]` with `q = headDim / 4`, repeated to `headDim`.
    ///
    /// - Throws: ``TensorError`` when `headDim` is not a multiple of 4 or `rows` and `cols` differ in length.
    public static func vision(rows: [Int32], cols: [Int32], headDim: Int, theta: Double) throws -> RotaryTables {
        RotaryTables(try visionPlan(rows: rows, cols: cols, headDim: headDim, theta: theta))
    }

    /// What ``vision(rows:cols:headDim:theta:)`` expands, for ``Backend/rotaryTables(_:)``.
    public static func visionPlan(rows: [Int32], cols: [Int32], headDim: Int, theta: Double) throws -> RotaryTablePlan {
        guard headDim >= 0, headDim % 4 == 0 else {
            throw TensorError.shapeMismatch(
                op: "rotaryTables",
                detail: "2D vision rotary needs a head dimension that is a multiple of 4, got \(headDim)")
        }
        let quarter = headDim / 4
        let angles = try AngleTable(
            positions: [rows, cols], inverse: inverseFrequencies(dim: headDim / 2, theta: theta), columns: quarter)
        // Columns j < quarter read the patch row's angles, the next quarter its column's.
        let columns = (0..<(2 * quarter)).map { j in
            RotaryTablePlan.Column(component: j < quarter ? 0 : 1, frequency: j % max(1, quarter))
        }
        return try RotaryTablePlan(
            headDim: headDim, frequencies: angles.columns, angleCos: angles.cos, angleSin: angles.sin,
            positions: angles.rows, columns: columns)
    }

    /// The expanded tables of `plan`.
    init(_ plan: RotaryTablePlan) {
        (cos, sin) = plan.expanded()
        headDim = plan.headDim
    }
}

/// cos and sin of `Float(position) * inverse[j]` for every position from the smallest to the largest
/// given and every j < `columns`, each computed once, and the positions as rows of these tables.
private struct AngleTable {
    let columns: Int
    var cos: [Float] = []
    var sin: [Float] = []
    /// Each position minus the smallest: its row of the tables.
    var rows: [[Int32]] = []

    init(positions: [[Int32]], inverse: [Float], columns: Int? = nil) throws {
        let columns = columns ?? inverse.count
        let first = positions.lazy.compactMap { $0.min() }.min() ?? 0
        let last = positions.lazy.compactMap { $0.max() }.max() ?? first
        self.columns = columns
        let span = Int(last) - Int(first) + 1
        // Positions count tokens and patches: a span past Int32 means they are corrupt.
        guard span <= Int(Int32.max) else {
            throw TensorError.shapeMismatch(
                op: "rotaryTables", detail: "positions \(first)...\(last) span too many values")
        }
        rows = positions.map { row in row.map { Int32(Int($0) - Int(first)) } }
        cos.reserveCapacity(span * columns)
        sin.reserveCapacity(span * columns)
        for offset in 0..<span {
            for j in 0..<columns {
                let angle = Float(first + Int32(offset)) * inverse[j]
                cos.append(Foundation.cos(angle))
                sin.append(Foundation.sin(angle))
            }
        }
    }
}
