import Foundation
import TensorKit

extension CPUBackend {
    public func siluMul(gateUp: Tensor) throws -> Tensor {
        let width = try OpChecks.gateUp(gateUp)
        let input = try floats(gateUp, op: "siluMul", argument: "gateUp")
        let rows = width == 0 ? 0 : gateUp.elementCount / (2 * width)
        let (output, result) = try makeFloatTensor(shape: Array(gateUp.shape.dropLast()) + [width])
        guard rows > 0 else { return output }
        parallel.forEachChunk(of: rows, minChunk: max(1, elementwiseGrain / width)) { chunk in
            for row in chunk {
                let gates = input + row * 2 * width, ups = gates + width, target = result + row * width
                for i in 0..<width {
                    let g = gates[i]
                    target[i] = g / (1 + Foundation.exp(-g)) * ups[i]
                }
            }
        }
        return output
    }

    public func splitRope(_ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor) throws
        -> (query: Tensor, key: Tensor, value: Tensor)
    {
        let sizes = try OpChecks.splitRope(qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
        let input = try floats(qkv, op: "splitRope", argument: "qkv")
        let (tokens, d) = (sizes.tokens, sizes.headDim)
        let widths = [heads * d, kvHeads * d, kvHeads * d]
        let rowWidth = widths.reduce(0, +)
        var parts = [Tensor]()
        var offset = 0
        for (index, width) in widths.enumerated() {
            let (part, target) = try makeFloatTensor(shape: [tokens, index == 0 ? heads : kvHeads, d])
            let column = offset
            parallel.forEachChunk(of: tokens, minChunk: max(1, elementwiseGrain / max(1, width))) { chunk in
                for token in chunk {
                    (target + token * width).update(from: input + token * rowWidth + column, count: width)
                }
            }
            parts.append(part)
            offset += width
        }
        return (
            try applyRope(parts[0], cos: cos, sin: sin), try applyRope(parts[1], cos: cos, sin: sin), parts[2]
        )
    }
}
