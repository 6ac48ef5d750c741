import Foundation

/// Plain, obviously-correct scalar versions of every op, in Double, on row-major arrays.
enum ScalarReference {
    static func linear(_ x: [Float], rows: Int, weight: [Float], out: Int, inFeatures: Int, bias: [Float]?) -> [Double]
    {
        var y = [Double](repeating: 0, count: rows * out)
        for r in 0..<rows {
            for o in 0..<out {
                var sum = bias.map { Double($0[o]) } ?? 0
                for i in 0..<inFeatures { sum += Double(x[r * inFeatures + i]) * Double(weight[o * inFeatures + i]) }
                y[r * out + o] = sum
            }
        }
        return y
    }

    static func rmsNorm(_ x: [Float], width: Int, weight: [Float], eps: Double) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        for r in 0..<(x.count / width) {
            var meanSquare = 0.0
            for i in 0..<width { meanSquare += Double(x[r * width + i]) * Double(x[r * width + i]) }
            meanSquare /= Double(width)
            for i in 0..<width {
                y[r * width + i] = Double(x[r * width + i]) / (meanSquare + eps).squareRoot() * Double(weight[i])
            }
        }
        return y
    }

    static func silu(_ g: Double) -> Double { g / (1 + Foundation.exp(-g)) }

    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot())) }

    /// `x * cos + rotate_half(x) * sin` for x `[tokens, heads, dim]`, cos/sin `[tokens, dim]`.
    static func rope(_ x: [Float], tokens: Int, heads: Int, dim: Int, cos: [Float], sin: [Float]) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        let half = dim / 2
        for t in 0..<tokens {
            for h in 0..<heads {
                let base = (t * heads + h) * dim
                for i in 0..<dim {
                    let rotated = i < half ? -Double(x[base + i + half]) : Double(x[base + i - half])
                    y[base + i] = Double(x[base + i]) * Double(cos[t * dim + i]) + rotated * Double(sin[t * dim + i])
                }
            }
        }
        return y
    }

    /// Attention for every token and head, one query at a time, straight from the definition.
    static func attention(
        q: [Float], k: [Float], v: [Float], cuSeqlens: [Int32], heads: Int, kvHeads: Int, dim: Int,
        causal: Bool, scale: Double
    ) -> [Double] {
        var out = [Double](repeating: 0, count: q.count)
        for (start, end) in zip(cuSeqlens.map(Int.init), cuSeqlens.dropFirst().map(Int.init)) {
            for t in start..<end {
                for h in 0..<heads {
                    let kvHead = h / (heads / kvHeads)
                    let keys = causal ? start...t : start...(end - 1)
                    var scores: [Double] = []
                    for s in keys {
                        var dot = 0.0
                        for i in 0..<dim {
                            dot += Double(q[(t * heads + h) * dim + i]) * Double(k[(s * kvHeads + kvHead) * dim + i])
                        }
                        scores.append(dot * scale)
                    }
                    let maximum = scores.max() ?? 0
                    let weights = scores.map { Foundation.exp($0 - maximum) }
                    let total = weights.reduce(0, +)
                    for i in 0..<dim {
                        var sum = 0.0
                        for (w, s) in zip(weights, keys) {
                            sum += w / total * Double(v[(s * kvHeads + kvHead) * dim + i])
                        }
                        out[(t * heads + h) * dim + i] = sum
                    }
                }
            }
        }
        return out
    }
}
