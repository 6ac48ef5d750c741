import Foundation
import TensorKit

/// Micro-benchmarks of the CPU backend's heavy ops, for the `bench` command and for choosing block
/// sizes. Inputs are random; each figure is the best of `repeats` runs after one warm-up.
public enum CPUBackendBenchmark {
    /// One measurement.
    public struct Result: Sendable, CustomStringConvertible {
        public var label: String
        /// Best wall time of one call, in seconds.
        public var seconds: Double
        /// Floating-point operations per call.
        public var flops: Double
        public var gflopsPerSecond: Double { flops / seconds / 1e9 }
        public var description: String {
            String(format: "%@: %.2f ms, %.1f GFLOP/s", label, seconds * 1e3, gflopsPerSecond)
        }
    }

    /// Times `linear` of `[tokens, inFeatures]` by a `[outFeatures, inFeatures]` weight of `dtype`.
    public static func linear(
        backend: CPUBackend, tokens: Int, inFeatures: Int, outFeatures: Int, dtype: DType, repeats: Int = 3
    ) throws -> Result {
        let weightBytes = UnsafeMutableRawBufferPointer.allocate(
            byteCount: outFeatures * inFeatures * dtype.byteSize, alignment: 64)
        defer { weightBytes.deallocate() }
        var generator = FastGenerator()
        for i in 0..<(outFeatures * inFeatures) {
            let value = Float.random(in: -1...1, using: &generator)
            switch dtype {
            case .f32: weightBytes.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
            case .bf16: weightBytes.storeBytes(of: HalfConversion.bf16Bits(value), toByteOffset: i * 2, as: UInt16.self)
            case .f16: weightBytes.storeBytes(of: HalfConversion.f16Bits(value), toByteOffset: i * 2, as: UInt16.self)
            case .f8e4m3: weightBytes.storeBytes(of: FP8E4M3.bits(value * 400), toByteOffset: i, as: UInt8.self)
            }
        }
        let shape = [outFeatures, inFeatures]
        let weight =
            dtype == .f8e4m3
            ? try backend.scaledWeight(
                UnsafeRawBufferPointer(weightBytes), rowScales: Array(repeating: 1 / 400, count: outFeatures),
                shape: shape)
            : try backend.weight(UnsafeRawBufferPointer(weightBytes), dtype: dtype, shape: shape, keepingAlive: nil)
        let x = try backend.upload(
            (0..<(tokens * inFeatures)).map { _ in Float.random(in: -1...1, using: &generator) },
            shape: [tokens, inFeatures])
        let seconds = try best(of: repeats) { _ = try backend.linear(x, weight: weight, bias: nil) }
        return Result(
            label: "linear \(tokens)x\(inFeatures) -> \(outFeatures) \(dtype) (panel \(backend.linearPanelRows), "
                + "\(backend.threads) threads)",
            seconds: seconds, flops: 2 * Double(tokens * inFeatures * outFeatures))
    }

    /// Times causal or full attention over `sequences` sequences of `length` tokens each.
    public static func attention(
        backend: CPUBackend, sequences: Int, length: Int, heads: Int, kvHeads: Int, headDim: Int, causal: Bool,
        repeats: Int = 3
    ) throws -> Result {
        let tokens = sequences * length
        var generator = FastGenerator()
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &generator) } }
        let q = try backend.upload(random(tokens * heads * headDim), shape: [tokens, heads, headDim])
        let k = try backend.upload(random(tokens * kvHeads * headDim), shape: [tokens, kvHeads, headDim])
        let v = try backend.upload(random(tokens * kvHeads * headDim), shape: [tokens, kvHeads, headDim])
        let cuSeqlens = (0...sequences).map { Int32($0 * length) }
        let seconds = try best(of: repeats) {
            _ = try backend.attention(
                query: q, key: k, value: v, cuSeqlens: cuSeqlens, causal: causal, scale: 1 / Float(headDim).squareRoot()
            )
        }
        let pairs = Double(sequences) * Double(length) * Double(causal ? (length + 1) / 2 : length)
        return Result(
            label: "attention \(sequences)x\(length) tokens, \(heads)/\(kvHeads) heads of \(headDim)"
                + "\(causal ? ", causal" : "") (block \(backend.attentionRowBlock), \(backend.threads) threads)",
            seconds: seconds, flops: 4 * pairs * Double(heads * headDim))
    }

    private static func best(of repeats: Int, _ body: () throws -> Void) throws -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }
}

/// A cheap xorshift generator: benchmark inputs need no quality, and the system generator makes
/// a system call per number.
private struct FastGenerator: RandomNumberGenerator {
    private var state: UInt64 = 0x2545_F491_4F6C_DD1D
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
