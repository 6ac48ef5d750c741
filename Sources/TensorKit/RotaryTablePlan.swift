/// What ``Backend/rotaryTables(_:)`` needs to build the per-token cos and sin tables of a rotary
/// embedding: small exact angle tables and, per token, which of their rows to read.
///
/// The angle tables hold `cos` and `sin` of one angle per (position value, frequency), computed once by
/// the caller (one row per distinct position value). Each token has one position per *component* (t, h
/// and w for M-RoPE; row and column for the 2D vision rotary), given as a row number of the angle
/// tables. Column `j < headDim / 2` of a token's table row reads the angle of ``columns``[j]: its
/// component's row, its frequency's column. The second half of each row repeats the first
/// (`cat(freqs, freqs)`), so that one ``Backend/applyRope(_:cos:sin:)`` serves every kind of rotary.
///
/// Every index is checked when the plan is made, so a backend can read the tables without checks.
public struct RotaryTablePlan: Sendable, Equatable {
    /// Where one rotary column reads its angle.
    public struct Column: Sendable, Equatable {
        /// Which position component (row of ``RotaryTablePlan/positions``) picks the angle-table row.
        public var component: Int
        /// Which column of the angle tables (which frequency).
        public var frequency: Int

        public init(component: Int, frequency: Int) {
            self.component = component
            self.frequency = frequency
        }
    }

    /// Values per table row (the head dimension): the first half from the angle tables, repeated.
    public let headDim: Int
    /// Number of tokens (table rows).
    public let tokens: Int
    /// Columns of the angle tables.
    public let frequencies: Int
    /// `cos` of each angle, `angleRows x frequencies`, row-major.
    public let angleCos: [Float]
    /// `sin` of each angle, laid out as ``angleCos``.
    public let angleSin: [Float]
    /// Number of position components.
    public let components: Int
    /// Each component's angle-table row of each token, `components x tokens`, component-major.
    public let positions: [Int32]
    /// The source of each column `j < headDim / 2`.
    public let columns: [Column]

    /// Rows of the angle tables.
    public var angleRows: Int { frequencies == 0 ? 0 : angleCos.count / frequencies }

    /// Shape of each expanded table: `[tokens, headDim]`.
    public var tableShape: [Int] { [tokens, headDim] }

    /// - Parameters:
    ///   - positions: one row per component, each with one angle-table row per token (all rows equally long).
    ///   - columns: `headDim / 2` sources.
    /// - Throws: ``TensorError/shapeMismatch(op:detail:)`` when the sizes disagree,
    ///   ``TensorError/indexOutOfRange(op:index:limit:)`` for a position or column source outside its table.
    public init(
        headDim: Int, frequencies: Int, angleCos: [Float], angleSin: [Float], positions: [[Int32]], columns: [Column]
    ) throws {
        let op = "rotaryTables"
        guard headDim >= 0, headDim % 2 == 0, columns.count == headDim / 2 else {
            throw TensorError.shapeMismatch(
                op: op,
                detail: "head dimension \(headDim) needs to be even, with \(headDim / 2) column sources, "
                    + "got \(columns.count)")
        }
        guard frequencies >= 0, angleCos.count == angleSin.count,
            frequencies == 0 ? angleCos.isEmpty : angleCos.count % frequencies == 0
        else {
            throw TensorError.shapeMismatch(
                op: op,
                detail: "angle tables of \(angleCos.count) cosines and \(angleSin.count) sines are not "
                    + "rows of \(frequencies) frequencies")
        }
        let tokens = positions.first?.count ?? 0
        guard positions.allSatisfy({ $0.count == tokens }) else {
            throw TensorError.shapeMismatch(
                op: op, detail: "every position component needs one row per token, got \(positions.map(\.count))")
        }
        let rows = frequencies == 0 ? 0 : angleCos.count / frequencies
        for column in columns {
            guard (0..<positions.count).contains(column.component) else {
                throw TensorError.indexOutOfRange(op: op, index: column.component, limit: positions.count)
            }
            guard (0..<frequencies).contains(column.frequency) else {
                throw TensorError.indexOutOfRange(op: op, index: column.frequency, limit: frequencies)
            }
        }
        if !columns.isEmpty {
            for row in positions {
                for position in row where position < 0 || Int(position) >= rows {
                    throw TensorError.indexOutOfRange(op: op, index: Int(position), limit: rows)
                }
            }
        }
        self.headDim = headDim
        self.tokens = tokens
        self.frequencies = frequencies
        self.angleCos = angleCos
        self.angleSin = angleSin
        self.components = positions.count
        self.positions = positions.flatMap { $0 }
        self.columns = columns
    }

    /// The `tokens x headDim` cos and sin tables, row-major, in fp32: the values
    /// ``Backend/rotaryTables(_:)`` returns, before rounding to the activation type.
    public func expanded() -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        var cosTable = [Float](repeating: 0, count: tokens * headDim)
        var sinTable = [Float](repeating: 0, count: tokens * headDim)
        for token in 0..<tokens {
            let base = token * headDim
            for (j, column) in columns.enumerated() {
                let index = Int(positions[column.component * tokens + token]) * frequencies + column.frequency
                let (c, s) = (angleCos[index], angleSin[index])
                cosTable[base + j] = c
                cosTable[base + half + j] = c
                sinTable[base + j] = s
                sinTable[base + half + j] = s
            }
        }
        return (cosTable, sinTable)
    }
}
