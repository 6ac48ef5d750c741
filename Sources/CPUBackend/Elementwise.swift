import Foundation
import TensorKit

/// Elements per parallel chunk below which an elementwise op is not worth splitting further.
let elementwiseGrain = 1 << 14

extension CPUBackend {
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        let width = try OpChecks.rmsNorm(x, weight: weight)
        let input = try floats(x, op: "rmsNorm", argument: "x")
        let gain = try floatVector(weight, op: "rmsNorm")
        let (output, result) = try makeFloatTensor(shape: x.shape)
        guard width > 0 else { return output }
        let rows = x.elementCount / width
        gain.withUnsafeBufferPointer { gainBuffer in
            guard let gain = gainBuffer.baseAddress else { return }
            parallel.forEachChunk(of: rows, minChunk: max(1, elementwiseGrain / width)) { chunk in
                for row in chunk {
                    let source = input + row * width
                    let destination = result + row * width
                    let meanSquare = sumOfSquares(source, count: width) / Float(width)
                    let inverse = 1 / (meanSquare + eps).squareRoot()
                    for i in 0..<width { destination[i] = source[i] * inverse * gain[i] }
                }
            }
        }
        return output
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try OpChecks.sameShape("add", a, b, names: ("a", "b"))
        let left = try floats(a, op: "add", argument: "a")
        let right = try floats(b, op: "add", argument: "b")
        return try mapElements(shape: a.shape) { range, result in
            for i in range { result[i] = left[i] + right[i] }
        }
    }

    public func siluMul(gate: Tensor, up: Tensor) throws -> Tensor {
        try OpChecks.sameShape("siluMul", gate, up, names: ("gate", "up"))
        let gates = try floats(gate, op: "siluMul", argument: "gate")
        let ups = try floats(up, op: "siluMul", argument: "up")
        return try mapElements(shape: gate.shape) { range, result in
            for i in range {
                let g = gates[i]
                result[i] = g / (1 + Foundation.exp(-g)) * ups[i]
            }
        }
    }

    public func gelu(_ x: Tensor) throws -> Tensor {
        let input = try floats(x, op: "gelu", argument: "x")
        let inverseSqrt2: Float = 0.70710678118654752
        return try mapElements(shape: x.shape) { range, result in
            for i in range {
                let v = input[i]
                result[i] = 0.5 * v * (1 + Foundation.erf(v * inverseSqrt2))
            }
        }
    }

    public func applyRope(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor {
        let sizes = try OpChecks.rope(x, cos: cos, sin: sin)
        let input = try floats(x, op: "applyRope", argument: "x")
        let cosines = try floats(cos, op: "applyRope", argument: "cos")
        let sines = try floats(sin, op: "applyRope", argument: "sin")
        let (output, result) = try makeFloatTensor(shape: x.shape)
        let (heads, dim) = (sizes.heads, sizes.headDim)
        let half = dim / 2
        guard heads > 0, dim > 0 else { return output }
        parallel.forEachChunk(of: sizes.tokens, minChunk: max(1, elementwiseGrain / (heads * dim))) { chunk in
            for token in chunk {
                let c = cosines + token * dim
                let s = sines + token * dim
                for head in 0..<heads {
                    let source = input + (token * heads + head) * dim
                    let destination = result + (token * heads + head) * dim
                    for i in 0..<half {
                        destination[i] = source[i] * c[i] - source[i + half] * s[i]
                        destination[i + half] = source[i + half] * c[i + half] + source[i] * s[i + half]
                    }
                }
            }
        }
        return output
    }

    /// A new fp32 tensor of `shape` whose elements `body` fills, a range of flat indices at a time.
    private func mapElements(
        shape: [Int], _ body: @escaping (Range<Int>, UnsafeMutablePointer<Float>) -> Void
    ) throws -> Tensor {
        let (output, result) = try makeFloatTensor(shape: shape)
        parallel.forEachChunk(of: output.elementCount, minChunk: elementwiseGrain) { range in body(range, result) }
        return output
    }
}

/// Sum of squares in fp32 with eight independent partial sums (vectorisable, and less rounding
/// error than one running sum).
@inline(__always)
func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var partial = SIMD8<Float>(repeating: 0)
    let raw = UnsafeRawPointer(values)
    var i = 0
    while i + 8 <= count {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        partial += v * v
        i += 8
    }
    var total = partial.sum()
    while i < count {
        total += values[i] * values[i]
        i += 1
    }
    return total
}
