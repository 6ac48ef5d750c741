import CPUBackend
import Foundation
import TensorKit
import Testing

/// The ops a GPU uses for fused weights and shared prefixes, checked on the CPU against the plain ops
/// they replace: attention with a prefix against attention over the prefix and sequence laid end to end,
/// `siluMul(gateUp:)` against `siluMul(gate:up:)`, `splitRope` against `applyRope` on the split parts.
@Suite("CPU fused ops")
struct FusedOpsTests {
    @Test(
        "a sequence attending to a shared prefix equals the prefix and sequence packed as one",
        arguments: [false, true])
    func prefixAttention(causal: Bool) throws {
        let backend = CPUBackend(threads: 2, attentionRowBlock: 4)
        let (heads, kvHeads, d) = (4, 2, 8)
        let (prefix, first, second) = (6, 5, 9)
        var random = SeededGenerator(seed: 71)
        let tokens = prefix + first + second
        let q = random.floats(tokens * heads * d, in: -2...2)
        let k = random.floats(tokens * kvHeads * d, in: -2...2)
        let v = random.floats(tokens * kvHeads * d)
        func run(_ rows: [Int], cuSeqlens: [Int32], prefixes: [Range<Int32>]) throws -> [Float] {
            func pick(_ values: [Float], _ width: Int) -> [Float] {
                rows.flatMap { values[($0 * width)..<(($0 + 1) * width)] }
            }
            return try backend.download(
                backend.attention(
                    query: backend.upload(pick(q, heads * d), shape: [rows.count, heads, d]),
                    key: backend.upload(pick(k, kvHeads * d), shape: [rows.count, kvHeads, d]),
                    value: backend.upload(pick(v, kvHeads * d), shape: [rows.count, kvHeads, d]),
                    cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, scale: 0.3))
        }
        let shared = Int32(prefix)
        let packed = try run(
            Array(0..<tokens), cuSeqlens: [0, shared, shared + Int32(first), Int32(tokens)],
            prefixes: [0..<0, 0..<shared, 0..<shared])
        let alone = try run(Array(0..<(prefix + first)), cuSeqlens: [0, Int32(prefix + first)], prefixes: [])
        let secondAlone = try run(
            Array(0..<prefix) + Array((prefix + first)..<tokens), cuSeqlens: [0, Int32(prefix + second)], prefixes: [])
        let row = heads * d
        // The prefix rows themselves match only when causal (unmasked, they would also see the sequence).
        let from = causal ? 0 : prefix * row
        let firstRows = Array(packed[from..<((prefix + first) * row)])
        expectClose(firstRows, alone[from...].map(Double.init), absolute: 1e-6, relative: 1e-5)
        let secondRows = Array(packed[((prefix + first) * row)...])
        expectClose(secondRows, secondAlone[(prefix * row)...].map(Double.init), absolute: 1e-6, relative: 1e-5)
    }

    @Test("a prefix that does not come before its sequence is refused")
    func badPrefix() throws {
        let backend = CPUBackend()
        let x = try backend.upload(Array(repeating: 0.5, count: 8 * 2), shape: [8, 1, 2])
        #expect {
            _ = try backend.attention(
                query: x, key: x, value: x, cuSeqlens: [0, 4, 8], prefixes: [0..<0, 2..<6], causal: true, scale: 1)
        } throws: { "\($0)".contains("a prefix must come before its sequence") }
        #expect {
            _ = try backend.attention(
                query: x, key: x, value: x, cuSeqlens: [0, 4, 8], prefixes: [0..<0], causal: true, scale: 1)
        } throws: { "\($0)".contains("1 prefixes for 2 sequences") }
    }

    @Test("siluMul of a fused [gate | up] product equals siluMul of its halves")
    func gateUp() throws {
        let backend = CPUBackend(threads: 2)
        var random = SeededGenerator(seed: 72)
        let (rows, width) = (7, 13)
        let fused = random.floats(rows * 2 * width, in: -4...4)
        func half(_ second: Bool) -> [Float] {
            var values = [Float]()
            for r in 0..<rows {
                let start = r * 2 * width + (second ? width : 0)
                values += fused[start..<(start + width)]
            }
            return values
        }
        let (gate, up) = (half(false), half(true))
        let got = try backend.siluMul(gateUp: try backend.upload(fused, shape: [rows, 2 * width]))
        #expect(got.shape == [rows, width])
        let want = try backend.siluMul(
            gate: try backend.upload(gate, shape: [rows, width]), up: try backend.upload(up, shape: [rows, width]))
        #expect(try backend.download(got) == backend.download(want))
        #expect {
            _ = try backend.siluMul(gateUp: try backend.upload([1, 2, 3], shape: [1, 3]))
        } throws: { "\($0)".contains("an even last axis") }
    }

    @Test("splitRope equals applyRope on the split q and k, and copies v")
    func splitRope() throws {
        let backend = CPUBackend(threads: 2)
        var random = SeededGenerator(seed: 73)
        let (tokens, heads, kvHeads, d) = (5, 4, 2, 6)
        let width = (heads + 2 * kvHeads) * d
        let qkv = random.floats(tokens * width, in: -2...2)
        let cos = try backend.upload(random.floats(tokens * d), shape: [tokens, d])
        let sin = try backend.upload(random.floats(tokens * d), shape: [tokens, d])
        func columns(_ range: Range<Int>) -> [Float] {
            (0..<tokens).flatMap { qkv[($0 * width + range.lowerBound)..<($0 * width + range.upperBound)] }
        }
        let parts = try backend.splitRope(
            try backend.upload(qkv, shape: [tokens, width]), heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
        let q = try backend.applyRope(
            try backend.upload(columns(0..<(heads * d)), shape: [tokens, heads, d]), cos: cos, sin: sin)
        let k = try backend.applyRope(
            try backend.upload(columns((heads * d)..<((heads + kvHeads) * d)), shape: [tokens, kvHeads, d]), cos: cos,
            sin: sin)
        #expect(try backend.download(parts.query) == backend.download(q))
        #expect(try backend.download(parts.key) == backend.download(k))
        #expect(try backend.download(parts.value) == columns(((heads + kvHeads) * d)..<width))
        #expect {
            _ = try backend.splitRope(
                try backend.upload(qkv, shape: [tokens, width]), heads: heads, kvHeads: 1, cos: cos, sin: sin)
        } throws: { "\($0)".contains("must be [tokens, (4 + 2 x 1) x d]") }
    }

    @Test(
        "linear adding a residual is linear then add; over row chunks made one at a time it is the same; shapes are checked"
    )
    func linearAddingResidual() throws {
        let backend = CPUBackend(threads: 2)
        var random = SeededGenerator(seed: 74)
        let (rows, inFeatures, outFeatures) = (7, 12, 5)
        let x = try backend.upload(random.floats(rows * inFeatures, in: -2...2), shape: [rows, inFeatures])
        let weight = try backend.upload(
            random.floats(outFeatures * inFeatures, in: -1...1), shape: [outFeatures, inFeatures])
        let bias = try backend.upload(random.floats(outFeatures, in: -1...1), shape: [outFeatures])
        let residual = try backend.upload(random.floats(rows * outFeatures, in: -3...3), shape: [rows, outFeatures])
        let want = try backend.download(try backend.add(residual, try backend.linear(x, weight: weight, bias: bias)))
        #expect(try backend.download(try backend.linear(x, weight: weight, bias: bias, adding: residual)) == want)
        var made = [Range<Int>]()
        let chunked = try backend.linear(
            rowChunks: [0..<3, 3..<7],
            of: {
                made.append($0); return try x.rows($0)
            }, weight: weight, bias: bias,
            adding: residual)
        #expect(made == [0..<3, 3..<7])
        expectClose(try backend.download(chunked), want.map(Double.init), absolute: 1e-5, relative: 1e-5)
        #expect {
            _ = try backend.linear(x, weight: weight, bias: bias, adding: try residual.rows(0..<6))
        } throws: { "\($0)".contains("the residual [6, 5] must have the product's shape [7, 5]") }
        #expect {
            _ = try backend.linear(
                rowChunks: [0..<3], of: { try x.rows($0) }, weight: weight, bias: bias, adding: residual)
        } throws: { "\($0)".contains("row chunks [Range(0..<3)] do not split 7 rows") }
    }

    @Test("upload(concatenating:) lays the parts end to end; a count that does not fill the shape is refused")
    func uploadParts() throws {
        let backend = CPUBackend()
        let tensor = try backend.upload(concatenating: [[1, 2], [], [3, 4, 5, 6]], shape: [3, 2])
        #expect(try backend.download(tensor) == [1, 2, 3, 4, 5, 6])
        #expect {
            _ = try backend.upload(concatenating: [[1, 2], [3]], shape: [2, 2])
        } throws: { "\($0)".contains("3 values cannot fill shape [2, 2]") }
    }

    @Test("concatenateRows joins parts of the same trailing shape and refuses others")
    func concatenate() throws {
        let backend = CPUBackend()
        let a = try backend.upload([1, 2, 3, 4], shape: [2, 2]), b = try backend.upload([5, 6], shape: [1, 2])
        let joined = try backend.concatenateRows([a, b])
        #expect(joined.shape == [3, 2])
        #expect(try backend.download(joined) == [1, 2, 3, 4, 5, 6])
        #expect {
            _ = try backend.concatenateRows([a, try backend.upload([1, 2, 3], shape: [1, 3])])
        } throws: { "\($0)".contains("part 1 is [1, 3]") }
        #expect { _ = try backend.concatenateRows([]) } throws: { "\($0)".contains("at least one part") }
    }
}
