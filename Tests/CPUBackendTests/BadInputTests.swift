import CPUBackend
import TensorKit
import Testing

/// Every kind of bad argument throws a `TensorError` with a message that says what to change.
@Suite("CPU backend rejects bad input")
struct BadInputTests {
    let backend = CPUBackend(threads: 2)

    func zeros(_ shape: [Int]) throws -> Tensor {
        try backend.upload([Float](repeating: 0, count: shape.reduce(1, *)), shape: shape)
    }

    /// Runs `body`, expects a `TensorError`, and checks its message contains every fragment.
    func expectError(
        _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
        } catch let error as TensorError {
            for fragment in fragments {
                #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("expected a TensorError, got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func uploadAndWeightSizes() throws {
        expectError(["upload", "3 values", "[2, 2]"]) { _ = try backend.upload([1, 2, 3], shape: [2, 2]) }
        expectError(["[-1, 2]", "invalid"]) { _ = try backend.upload([], shape: [-1, 2]) }
        let owner = ByteOwner(count: 6)
        expectError(["6 bytes", "need 8"]) {
            _ = try backend.weight(
                UnsafeRawBufferPointer(owner.bytes), dtype: .bf16, shape: [2, 2], keepingAlive: owner)
        }
    }

    @Test func linearShapes() throws {
        let (weight, _) = try makeWeight(backend, [Float](repeating: 0, count: 12), shape: [3, 4], dtype: .bf16)
        expectError(["linear", "[2, 5]", "[3, 4]"]) {
            _ = try backend.linear(try zeros([2, 5]), weight: weight, bias: nil)
        }
        let (bias, _) = try makeWeight(backend, [0, 0], shape: [2], dtype: .bf16)
        expectError(["linear", "bias [3]", "[2]"]) {
            _ = try backend.linear(try zeros([2, 4]), weight: weight, bias: bias)
        }
        let flat = try weight.reshaped([12])
        expectError(["linear", "[12]"]) { _ = try backend.linear(try zeros([2, 4]), weight: flat, bias: nil) }
    }

    @Test func activationsMustBeFloat32() throws {
        let (half, _) = try makeWeight(backend, [1, 2], shape: [2], dtype: .bf16)
        expectError(["add", "bf16", "f32"]) { _ = try backend.add(half, half) }
        expectError(["gelu", "bf16"]) { _ = try backend.gelu(half) }
    }

    @Test func elementwiseShapes() throws {
        expectError(["add", "[2, 3]", "[3, 2]"]) { _ = try backend.add(try zeros([2, 3]), try zeros([3, 2])) }
        expectError(["siluMul", "gate", "up"]) { _ = try backend.siluMul(gate: try zeros([4]), up: try zeros([5])) }
        let (weight, _) = try makeWeight(backend, [1, 1], shape: [2], dtype: .f32)
        expectError(["rmsNorm", "[3]", "[2]"]) {
            _ = try backend.rmsNorm(try zeros([4, 3]), weight: weight, eps: 1e-6)
        }
    }

    @Test func ropeShapes() throws {
        expectError(["applyRope", "even"]) {
            _ = try backend.applyRope(try zeros([2, 1, 3]), cos: try zeros([2, 3]), sin: try zeros([2, 3]))
        }
        expectError(["applyRope", "[2, 4]"]) {
            _ = try backend.applyRope(try zeros([2, 1, 4]), cos: try zeros([3, 4]), sin: try zeros([2, 4]))
        }
        expectError(["applyRope", "[tokens, heads, headDim]"]) {
            _ = try backend.applyRope(try zeros([2, 4]), cos: try zeros([2, 4]), sin: try zeros([2, 4]))
        }
    }

    @Test func rowIndices() throws {
        expectError(["gatherRows", "index 5", "0..<5"]) {
            _ = try backend.gatherRows(try zeros([5, 2]), indices: [0, 5])
        }
        expectError(["gatherRows", "index -1"]) { _ = try backend.gatherRows(try zeros([5, 2]), indices: [-1]) }
        let destination = try zeros([4, 2])
        expectError(["scatterRows", "2 rows but 1 indices"]) {
            try backend.scatterRows(try zeros([2, 2]), into: destination, at: [0])
        }
        expectError(["scatterRows", "row 1", "more than once"]) {
            try backend.scatterRows(try zeros([2, 2]), into: destination, at: [1, 1])
        }
        expectError(["scatterRows", "index 4"]) {
            try backend.scatterRows(try zeros([1, 2]), into: destination, at: [4])
        }
        expectError(["scatterRows", "every axis but the first"]) {
            try backend.scatterRows(try zeros([1, 3]), into: destination, at: [0])
        }
        let (weight, _) = try makeWeight(backend, [0, 0, 0, 0], shape: [2, 2], dtype: .f32)
        expectError(["scatterRows", "read-only"]) { try backend.scatterRows(try zeros([1, 2]), into: weight, at: [0]) }
    }

    @Test func embeddingIds() throws {
        let (table, _) = try makeWeight(backend, [Float](repeating: 0, count: 12), shape: [4, 3], dtype: .bf16)
        expectError(["embedding", "index 4", "0..<4", "token ids"]) { _ = try backend.embedding(table, ids: [1, 4]) }
        expectError(["embedding", "index -3"]) { _ = try backend.embedding(table, ids: [-3]) }
        expectError(["embedding", "[vocab, dim]"]) { _ = try backend.embedding(try table.reshaped([12]), ids: [0]) }
    }

    @Test func attentionArguments() throws {
        let q = try zeros([6, 4, 2])
        let kv = try zeros([6, 2, 2])
        func attend(_ query: Tensor, _ key: Tensor, _ value: Tensor, _ cu: [Int32]) throws {
            _ = try backend.attention(query: query, key: key, value: value, cuSeqlens: cu, causal: true, scale: 1)
        }
        expectError(["4 query heads", "3 kv heads"]) {
            try attend(q, try zeros([6, 3, 2]), try zeros([6, 3, 2]), [0, 6])
        }
        expectError(["key [6, 2, 2]", "value [6, 1, 2]"]) { try attend(q, kv, try zeros([6, 1, 2]), [0, 6]) }
        expectError(["tokens and headDim"]) { try attend(q, try zeros([5, 2, 2]), try zeros([5, 2, 2]), [0, 6]) }
        expectError(["[tokens, heads, headDim]"]) { try attend(try zeros([6, 8]), kv, kv, [0, 6]) }
        expectError(["empty"]) { try attend(q, kv, kv, []) }
        expectError(["first entry is 1"]) { try attend(q, kv, kv, [1, 6]) }
        expectError(["2 follows 4"]) { try attend(q, kv, kv, [0, 4, 2, 6]) }
        expectError(["last entry is 5", "6 tokens"]) { try attend(q, kv, kv, [0, 5]) }
    }

    @Test func foreignTensors() throws {
        final class ElsewhereStorage: TensorStorage, @unchecked Sendable {
            let byteCount = 64
            let deviceName = "CUDA device 0"
        }
        let foreign = try Tensor(shape: [4], dtype: .f32, storage: ElsewhereStorage())
        expectError(["download", "CUDA device 0", "CPU", "same backend"]) { _ = try backend.download(foreign) }
        expectError(["gelu", "CUDA device 0"]) { _ = try backend.gelu(foreign) }
    }
}
