import Foundation

/// Per-token cos/sin tables for the rotary embeddings, computed on the host in fp32 the way
/// transformers computes them (inverse frequencies in fp32, angle = position x frequency in fp32).
///
/// Each table has one row of `headDim` values per token: the angles of the first half repeated in the
/// second half, as `cat(freqs, freqs)` does, so that one `applyRope` op serves both kinds of rotary.
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
    ///   - positions: three rows (t, h, w) of one position per token.
    ///   - mropeSection: chunk sizes over `headDim / 2`, e.g. [16, 24, 24].
    public static func multimodal(
        temporal: [Int32], height: [Int32], width: [Int32], headDim: Int, theta: Double, mropeSection: [Int]
    ) -> RotaryTables {
        let half = headDim / 2
        let inverse = inverseFrequencies(dim: headDim, theta: theta)
        var component = [Int](repeating: 0, count: half)
        var start = 0
        for (section, size) in mropeSection.enumerated() {
            for j in start..<min(start + size, half) { component[j] = section % 3 }
            start += size
        }
        // Angles depend only on (position, j): compute cos and sin once per distinct position value
        // (the same fp32 operations, so the same values) and copy them into each token's row.
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
        return RotaryTables(cos: cosTable, sin: sinTable, headDim: headDim)
    }

    /// 2D vision tables (SPEC section 5): a patch at (row, col) gets angles
    /// `[row * f_0..f_{q-1}, col * f_0..f_{q-1}]` with `q = headDim / 4`, repeated to `headDim`.
    public static func vision(rows: [Int32], cols: [Int32], headDim: Int, theta: Double) -> RotaryTables {
        let quarter = headDim / 4
        let half = headDim / 2
        let inverse = inverseFrequencies(dim: half, theta: theta)
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
        return RotaryTables(cos: cosTable, sin: sinTable, headDim: headDim)
    }
}

/// cos and sin of `Float(position) * inverse[j]` for every position from the smallest to the largest
/// given and every j < `columns`: each computed once, as the per-token loops computed them.
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

    @inline(__always)
    func value(position: Int32, j: Int) -> (Float, Float) {
        let index = Int(position - first) * columns + j
        return (cos[index], sin[index])
    }
}
