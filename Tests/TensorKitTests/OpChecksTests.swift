import Testing
import TensorKit

/// The shared checks compute the sizes backends rely on.
@Suite("Shared op checks")
struct OpChecksTests {
    func tensor(_ shape: [Int], _ dtype: DType = .f32) throws -> Tensor {
        try Tensor(shape: shape, dtype: dtype, storage: TestStorage(byteCount: shape.reduce(1, *) * dtype.byteSize))
    }

    @Test func linearSizes() throws {
        let sizes = try OpChecks.linear(try tensor([2, 3, 8]), weight: try tensor([5, 8], .bf16), bias: try tensor([5]))
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
        #expect(throws: TensorError.shapeMismatch(op: "attention", detail: "28 query heads cannot be grouped over 0 kv heads")) {
            try OpChecks.attention(
                query: try tensor([10, 28, 4]), key: try tensor([10, 0, 4]), value: try tensor([10, 0, 4]),
                cuSeqlens: [0, 10])
        }
    }

    @Test func rowChunksMakeUpTheWhole() throws {
        let whole = try tensor([5, 3])
        try OpChecks.rowChunks("addRMSNorm", [try tensor([2, 3]), try tensor([0, 3]), try tensor([3, 3])], of: whole)
        try OpChecks.rowChunks("addRMSNorm", [whole], of: whole)
        let wrong = [[], [try tensor([4, 3])], [try tensor([2, 3]), try tensor([3, 2])], [try tensor([5, 3], .bf16)]]
        for chunks in wrong {
            #expect { try OpChecks.rowChunks("addRMSNorm", chunks, of: whole) } throws: {
                "\($0)".hasPrefix("addRMSNorm: shapes do not fit: row chunks")
            }
        }
    }

    @Test func scatterAllowsEmptyIndexList() throws {
        try OpChecks.scatterRows(try tensor([0, 3]), into: try tensor([4, 3]), at: [])
    }
}
