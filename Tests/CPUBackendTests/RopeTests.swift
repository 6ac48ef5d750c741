import CPUBackend
import Foundation
import TensorKit
import Testing

/// applyRope against the scalar reference, with per-token cos/sin built from random angles (the same
/// op serves M-RoPE and 2D vision RoPE; only the tables differ). Tolerance 1e-6 + 1e-5 * |expected|.
@Suite("CPU rotary embedding")
struct RopeTests {
    /// (tokens, heads, head dim)
    static let shapes: [(Int, Int, Int)] = [(1, 1, 2), (5, 3, 6), (9, 16, 80), (4, 2, 128), (300, 4, 16)]

    @Test(arguments: Backends.all)
    func matchesReference(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 31)
        for (tokens, heads, dim) in Self.shapes {
            let x = random.floats(tokens * heads * dim, in: -2...2)
            let angles = random.floats(tokens * dim, in: -50...50)
            let cos = angles.map { Float(Foundation.cos(Double($0))) }
            let sin = angles.map { Float(Foundation.sin(Double($0))) }
            let y = try backend.applyRope(
                try backend.upload(x, shape: [tokens, heads, dim]),
                cos: try backend.upload(cos, shape: [tokens, dim]), sin: try backend.upload(sin, shape: [tokens, dim]))
            #expect(y.shape == [tokens, heads, dim])
            let expected = ScalarReference.rope(x, tokens: tokens, heads: heads, dim: dim, cos: cos, sin: sin)
            expectClose(try backend.download(y), expected, absolute: 1e-6, relative: 1e-5)
        }
    }

    @Test("Angle zero is the identity; a quarter turn maps (a, b) to (-b, a)")
    func knownRotations() throws {
        let backend = CPUBackend(threads: 1)
        let x = try backend.upload([1, 2, 3, 4], shape: [1, 1, 4])
        let identity = try backend.applyRope(
            x, cos: try backend.upload([1, 1, 1, 1], shape: [1, 4]),
            sin: try backend.upload([0, 0, 0, 0], shape: [1, 4]))
        #expect(try backend.download(identity) == [1, 2, 3, 4])
        let quarter = try backend.applyRope(
            x, cos: try backend.upload([0, 0, 0, 0], shape: [1, 4]),
            sin: try backend.upload([1, 1, 1, 1], shape: [1, 4]))
        #expect(try backend.download(quarter) == [-3, -4, 1, 2])
    }
}
