import TensorKit
import Testing

/// The shared checks compute the sizes backends rely on.
@Suite("Shared op checks")
struct OpChecksTests {
    func tensor(_ shape: [Int], _ dtype: DType = .f32) throws -> Tensor {
        try Tensor(shape: shape, dtype: dtype, storage: TestStorage(byteCount: shape.reduce(1, *) * dtype.byteSize))
    }

    @Test func linearSizes() throws {
        let sizes = try OpChecks.linear(
            try tensor([2, 3, 8]), weight: try tensor([5, 8], .bf16), bias: try tensor([5]))
        #expect(sizes.rows == 6)
        #expect(sizes.inFeatures == 8)
        #expect(sizes.outFeatures == 5)
        #expect(sizes.outputShape == [2, 3, 5])
        let empty = try OpChecks.linear(try tensor([4, 0]), weight: try tensor([3, 0]), bias: nil)
        #expect(empty.rows == 4)
    }

    @Test func attentionSizes() throws {
        let sizes = try OpChecks.attention(
            query: try tensor([10, 28, 4]), key: try tensor([10, 4, 4]), value: try tensor([10, 4, 4]),
            cuSeqlens: [0, 3, 3, 10])
        #expect(sizes.groupSize == 7)
        #expect(
            throws: TensorError.shapeMismatch(
                op: "attention", detail: "28 query heads cannot be grouped over 0 kv heads")
        ) {
            try OpChecks.attention(
                query: try tensor([10, 28, 4]), key: try tensor([10, 0, 4]), value: try tensor([10, 0, 4]),
                cuSeqlens: [0, 10])
        }
    }

    @Test func rowRangesSplitTheRowsFromZero() throws {
        try OpChecks.rowRanges("linear", [0..<2, 2..<5], rows: 5)
        try OpChecks.rowRanges("linear", [0..<5], rows: 5)
        let wrong: [[Range<Int>]] = [
            [], [0..<4], [1..<5], [0..<2, 3..<5], [0..<5, 0..<5], [0..<0, 0..<5], [0..<3, 2..<5],
        ]
        for ranges in wrong {
            #expect { try OpChecks.rowRanges("linear", ranges, rows: 5) } throws: {
                "\($0)".hasPrefix("linear: shapes do not fit: row chunks")
            }
        }
    }

    @Test func residualHasTheProductsShape() throws {
        let sizes = try OpChecks.linear(
            try tensor([4, 3]), weight: try tensor([2, 3]), bias: nil, adding: try tensor([4, 2]))
        #expect(sizes.outputShape == [4, 2])
        #expect {
            _ = try OpChecks.linear(
                try tensor([4, 3]), weight: try tensor([2, 3]), bias: nil, adding: try tensor([4, 3]))
        } throws: {
            "\($0)".contains("the residual [4, 3] must have the product's shape [4, 2]")
        }
    }

    @Test func scatterAllowsEmptyIndexList() throws {
        try OpChecks.scatterRows(try tensor([0, 3]), into: try tensor([4, 3]), at: [])
    }
}
