import CPUBackend
import TensorKit
import Testing

/// rmsNorm, add, siluMul and gelu against the scalar reference on several shapes, one of them large
/// enough to be split over threads. Tolerances: 1e-6 + 1e-5 * |expected| (one fp32 rounding per step).
@Suite("CPU elementwise ops")
struct ElementwiseTests {
    static let shapes: [[Int]] = [[1], [1, 1], [5, 7], [3, 4, 96], [40, 1025]]

    @Test(arguments: Backends.all, [DType.f32, .bf16, .f16])
    func rmsNorm(backend: CPUBackend, weightType: DType) throws {
        var random = SeededGenerator(seed: 21)
        for shape in Self.shapes {
            let width = shape.last!
            let values = random.floats(shape.reduce(1, *), in: -3...3)
            let (weight, exactWeight) = try makeWeight(
                backend, random.floats(width, in: 0.5...1.5), shape: [width], dtype: weightType)
            let y = try backend.rmsNorm(try backend.upload(values, shape: shape), weight: weight, eps: 1e-6)
            let expected = ScalarReference.rmsNorm(values, width: width, weight: exactWeight, eps: 1e-6)
            expectClose(try backend.download(y), expected, absolute: 1e-6, relative: 1e-5)
        }
    }

    @Test("rmsNorm of an all-zero row is zero (eps keeps it finite)")
    func rmsNormZeroRow() throws {
        let backend = CPUBackend(threads: 1)
        let (weight, _) = try makeWeight(backend, [1, 1, 1], shape: [3], dtype: .f32)
        let y = try backend.rmsNorm(try backend.upload([0, 0, 0], shape: [1, 3]), weight: weight, eps: 1e-6)
        #expect(try backend.download(y) == [0, 0, 0])
    }

    @Test(arguments: Backends.all)
    func add(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 22)
        for shape in Self.shapes {
            let count = shape.reduce(1, *)
            let (a, b) = (random.floats(count), random.floats(count))
            let sum = try backend.add(try backend.upload(a, shape: shape), try backend.upload(b, shape: shape))
            #expect(sum.shape == shape)
            expectClose(
                try backend.download(sum), zip(a, b).map { Double($0) + Double($1) }, absolute: 1e-7, relative: 1e-6)
        }
    }

    @Test(arguments: Backends.all)
    func siluMul(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 23)
        for shape in Self.shapes {
            let count = shape.reduce(1, *)
            let (gate, up) = (random.floats(count, in: -8...8), random.floats(count, in: -2...2))
            let y = try backend.siluMul(
                gate: try backend.upload(gate, shape: shape), up: try backend.upload(up, shape: shape))
            let expected = zip(gate, up).map { ScalarReference.silu(Double($0)) * Double($1) }
            expectClose(try backend.download(y), expected, absolute: 1e-6, relative: 1e-5)
        }
    }

    @Test(arguments: Backends.all)
    func gelu(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 24)
        for shape in Self.shapes {
            let values = random.floats(shape.reduce(1, *), in: -6...6)
            let y = try backend.gelu(try backend.upload(values, shape: shape))
            expectClose(
                try backend.download(y), values.map { ScalarReference.gelu(Double($0)) }, absolute: 1e-6, relative: 1e-5
            )
        }
    }

    @Test("gelu is the exact erf form, not the tanh approximation")
    func geluIsExact() throws {
        let backend = CPUBackend(threads: 1)
        // At x = 1 the erf form gives 0.8413447, the tanh approximation 0.8411920.
        let y = try backend.download(try backend.gelu(try backend.upload([1], shape: [1])))
        #expect(abs(y[0] - 0.8413447) < 1e-6)
    }
}
