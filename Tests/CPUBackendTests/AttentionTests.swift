import CPUBackend
import Foundation
import TensorKit
import Testing

/// attention against a one-query-at-a-time reference in Double: GQA ratios 1, 2 and 7, causal and
/// not, several sequences of different lengths (one empty) packed on one token axis, odd head sizes,
/// and sequences longer than the backend's row block. Tolerance 2e-6 + 1e-4 * |expected|.
@Suite("CPU attention")
struct AttentionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var heads: Int
        var kvHeads: Int
        var dim: Int
        var lengths: [Int]
        var testDescription: String { "heads \(heads)/\(kvHeads), dim \(dim), lengths \(lengths)" }
    }

    static let cases: [Case] = [
        Case(heads: 1, kvHeads: 1, dim: 4, lengths: [1]),
        Case(heads: 2, kvHeads: 2, dim: 8, lengths: [5, 3]),
        Case(heads: 4, kvHeads: 2, dim: 5, lengths: [7, 0, 13, 1]),
        Case(heads: 7, kvHeads: 1, dim: 16, lengths: [9, 22]),
        Case(heads: 14, kvHeads: 2, dim: 3, lengths: [4, 70]),
        Case(heads: 2, kvHeads: 1, dim: 80, lengths: [130]),
    ]

    @Test(arguments: Backends.all, cases)
    func matchesReference(backend: CPUBackend, shape: Case) throws {
        var random = SeededGenerator(seed: UInt64(shape.heads * 1000 + shape.dim))
        let tokens = shape.lengths.reduce(0, +)
        var cuSeqlens: [Int32] = [0]
        for length in shape.lengths { cuSeqlens.append(cuSeqlens.last! + Int32(length)) }
        let q = random.floats(tokens * shape.heads * shape.dim, in: -2...2)
        let k = random.floats(tokens * shape.kvHeads * shape.dim, in: -2...2)
        let v = random.floats(tokens * shape.kvHeads * shape.dim)
        let scale = 1 / Float(shape.dim).squareRoot()
        for causal in [false, true] {
            let y = try backend.attention(
                query: try backend.upload(q, shape: [tokens, shape.heads, shape.dim]),
                key: try backend.upload(k, shape: [tokens, shape.kvHeads, shape.dim]),
                value: try backend.upload(v, shape: [tokens, shape.kvHeads, shape.dim]),
                cuSeqlens: cuSeqlens, causal: causal, scale: scale)
            #expect(y.shape == [tokens, shape.heads, shape.dim])
            let expected = ScalarReference.attention(
                q: q, k: k, v: v, cuSeqlens: cuSeqlens, heads: shape.heads, kvHeads: shape.kvHeads, dim: shape.dim,
                causal: causal, scale: Double(scale))
            expectClose(try backend.download(y), expected, absolute: 2e-6, relative: 1e-4)
        }
    }

    @Test("Sequences do not see each other: changing one leaves the other's output unchanged")
    func sequencesAreIsolated() throws {
        let backend = CPUBackend(threads: 2, attentionRowBlock: 3)
        var random = SeededGenerator(seed: 52)
        let (q, k, v) = (random.floats(10 * 2 * 4), random.floats(10 * 4), random.floats(10 * 4))
        func run(_ v: [Float]) throws -> [Float] {
            try backend.download(
                backend.attention(
                    query: backend.upload(q, shape: [10, 2, 4]), key: backend.upload(k, shape: [10, 1, 4]),
                    value: backend.upload(v, shape: [10, 1, 4]), cuSeqlens: [0, 6, 10], causal: false, scale: 0.5))
        }
        var changed = v
        for i in 24..<40 { changed[i] += 1 }  // values of the second sequence (tokens 6..<10)
        #expect(try Array(run(v)[0..<48]) == Array(run(changed)[0..<48]))
    }

    @Test("Large scores do not overflow: the softmax subtracts the row maximum")
    func largeScoresStayFinite() throws {
        let backend = CPUBackend(threads: 1)
        let q = try backend.upload([100, 100, 100, 100], shape: [2, 1, 2])
        let k = try backend.upload([100, 100, -100, -100], shape: [2, 1, 2])
        let v = try backend.upload([1, 2, 3, 4], shape: [2, 1, 2])
        let y = try backend.download(
            backend.attention(query: q, key: k, value: v, cuSeqlens: [0, 2], causal: false, scale: 1))
        #expect(y == [1, 2, 1, 2])
    }
}
