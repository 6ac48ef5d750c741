import TensorKit
import Testing

@Suite("Rotary table plans")
struct RotaryTablePlanTests {
    /// Two frequencies over three position values: angle (row r, frequency f) has cos 10 r + f, sin -(10 r + f).
    static let cos: [Float] = [0, 1, 10, 11, 20, 21]
    static let sin: [Float] = cos.map { -$0 }

    @Test("each column reads its component's row and its frequency; the second half repeats the first")
    func expands() throws {
        let plan = try RotaryTablePlan(
            headDim: 6, frequencies: 2, angleCos: Self.cos, angleSin: Self.sin, positions: [[0, 2], [1, 0]],
            columns: [
                .init(component: 0, frequency: 0), .init(component: 1, frequency: 1), .init(component: 0, frequency: 1),
            ])
        #expect(plan.tokens == 2 && plan.angleRows == 3 && plan.tableShape == [2, 6])
        let tables = plan.expanded()
        #expect(tables.cos == [0, 11, 1, 0, 11, 1, 20, 1, 21, 20, 1, 21])
        #expect(tables.sin == tables.cos.map { -$0 })
    }

    @Test("no tokens or no columns make empty tables")
    func empty() throws {
        let none = try RotaryTablePlan(
            headDim: 4, frequencies: 2, angleCos: Self.cos, angleSin: Self.sin, positions: [[], []],
            columns: [.init(component: 0, frequency: 0), .init(component: 1, frequency: 1)])
        #expect(none.tokens == 0 && none.expanded().cos.isEmpty)
        let zero = try RotaryTablePlan(
            headDim: 0, frequencies: 0, angleCos: [], angleSin: [], positions: [[5, 6]], columns: [])
        #expect(zero.tableShape == [2, 0] && zero.expanded().sin.isEmpty)
    }

    @Test("sizes and indices outside the tables are refused with what is wrong")
    func refusesBadPlans() {
        let column = RotaryTablePlan.Column(component: 0, frequency: 0)
        func plan(
            headDim: Int = 2, frequencies: Int = 2, cos: [Float] = Self.cos, sin: [Float] = Self.sin,
            positions: [[Int32]] = [[0, 1]], columns: [RotaryTablePlan.Column] = [column]
        ) throws {
            _ = try RotaryTablePlan(
                headDim: headDim, frequencies: frequencies, angleCos: cos, angleSin: sin, positions: positions,
                columns: columns)
        }
        #expect(throws: Never.self) { try plan() }
        #expect { try plan(headDim: 3) } throws: { "\($0)".contains("needs to be even") }
        #expect { try plan(headDim: 4) } throws: { "\($0)".contains("2 column sources, got 1") }
        #expect { try plan(sin: [1]) } throws: { "\($0)".contains("6 cosines and 1 sines") }
        #expect { try plan(frequencies: 4) } throws: { "\($0)".contains("rows of 4 frequencies") }
        #expect { try plan(positions: [[0, 1], [0]]) } throws: { "\($0)".contains("[2, 1]") }
        #expect(throws: TensorError.indexOutOfRange(op: "rotaryTables", index: 3, limit: 3)) {
            try plan(positions: [[0, 3]])
        }
        #expect(throws: TensorError.indexOutOfRange(op: "rotaryTables", index: -1, limit: 3)) {
            try plan(positions: [[-1, 0]])
        }
        #expect(throws: TensorError.indexOutOfRange(op: "rotaryTables", index: 1, limit: 1)) {
            try plan(columns: [.init(component: 1, frequency: 0)])
        }
        #expect(throws: TensorError.indexOutOfRange(op: "rotaryTables", index: 2, limit: 2)) {
            try plan(columns: [.init(component: 0, frequency: 2)])
        }
    }
}
