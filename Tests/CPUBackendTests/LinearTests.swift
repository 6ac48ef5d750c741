import CPUBackend
import TensorKit
import Testing

/// `linear` against the scalar reference. Weights are rounded to their dtype first, so the reference
/// sees exactly the values the backend multiplies; the remaining error is fp32 accumulation in sgemm.
/// Tolerance: 1e-5 + 1e-4 * |expected| for inner sizes up to 300 (inputs in [-1, 1]).
@Suite("CPU linear")
struct LinearTests {
    /// (x shape, out features)
    static let shapes: [([Int], Int)] = [
        ([1, 1], 1), ([3, 7], 5), ([17, 33], 65), ([64, 128], 130), ([2, 300], 9), ([2, 3, 16], 11), ([1, 40], 200),
    ]

    @Test(arguments: Backends.all, DType.allCases)
    func matchesReference(backend: CPUBackend, dtype: DType) throws {
        var random = SeededGenerator(seed: 11)
        for (xShape, out) in Self.shapes {
            for withBias in [false, true] {
                let inFeatures = xShape.last!
                let rows = xShape.dropLast().reduce(1, *)
                let xValues = random.floats(rows * inFeatures)
                let (weight, exactWeight) = try makeWeight(
                    backend, random.floats(out * inFeatures), shape: [out, inFeatures], dtype: dtype)
                var bias: Tensor? = nil
                var exactBias: [Float]? = nil
                if withBias {
                    (bias, exactBias) = try makeWeight(backend, random.floats(out), shape: [out], dtype: dtype)
                }
                let x = try backend.upload(xValues, shape: xShape)
                let y = try backend.linear(x, weight: weight, bias: bias)
                #expect(y.shape == Array(xShape.dropLast()) + [out])
                let expected = ScalarReference.linear(
                    xValues, rows: rows, weight: exactWeight, out: out, inFeatures: inFeatures, bias: exactBias)
                expectClose(try backend.download(y), expected, absolute: 1e-5, relative: 1e-4)
            }
        }
    }

    @Test("Empty axes: no rows gives no rows; no input features gives the bias", arguments: Backends.all)
    func emptyAxes(backend: CPUBackend) throws {
        let (weight, _) = try makeWeight(backend, [], shape: [3, 0], dtype: .bf16)
        let (bias, exactBias) = try makeWeight(backend, [1, -2, 3], shape: [3], dtype: .bf16)
        let noFeatures = try backend.linear(try backend.upload([], shape: [2, 0]), weight: weight, bias: bias)
        #expect(try backend.download(noFeatures) == exactBias + exactBias)
        let unbiased = try backend.linear(try backend.upload([], shape: [2, 0]), weight: weight, bias: nil)
        #expect(try backend.download(unbiased) == [0, 0, 0, 0, 0, 0])
        let (square, _) = try makeWeight(backend, [1, 2, 3, 4], shape: [2, 2], dtype: .f32)
        let noRows = try backend.linear(try backend.upload([], shape: [0, 2]), weight: square, bias: nil)
        #expect(noRows.shape == [0, 2])
    }

    @Test("A slice of weight rows (split fused qkv) multiplies like a separate weight", arguments: Backends.all)
    func weightRowSlice(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 12)
        let (fused, exact) = try makeWeight(backend, random.floats(9 * 6), shape: [9, 6], dtype: .bf16)
        let xValues = random.floats(4 * 6)
        let x = try backend.upload(xValues, shape: [4, 6])
        let middle = try backend.linear(x, weight: try fused.rows(3..<6), bias: nil)
        let expected = ScalarReference.linear(
            xValues, rows: 4, weight: Array(exact[18..<36]), out: 3, inFeatures: 6, bias: nil)
        expectClose(try backend.download(middle), expected, absolute: 1e-5, relative: 1e-4)
    }
}
