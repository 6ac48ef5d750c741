import CPUBackend
import Foundation
import TensorKit
import Testing

/// Timings, not checks: run with `LYCHEE_BENCH=1 swift test -c release --filter CPUBackendBenchmarks`.
@Suite("CPU backend benchmarks", .enabled(if: ProcessInfo.processInfo.environment["LYCHEE_BENCH"] == "1"))
struct CPUBackendBenchmarks {
    @Test("linear: weight panel sizes")
    func linearPanels() throws {
        for (tokens, inFeatures, outFeatures) in [
            (16, 3584, 3584), (256, 3584, 3584), (256, 18944, 3584), (1024, 1280, 3840),
        ] {
            let f32 = try CPUBackendBenchmark.linear(
                backend: CPUBackend(), tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures, dtype: .f32)
            print(f32)
            for panel in [32, 128, 256, 512] {
                print(
                    try CPUBackendBenchmark.linear(
                        backend: CPUBackend(linearPanelRows: panel), tokens: tokens, inFeatures: inFeatures,
                        outFeatures: outFeatures, dtype: .bf16))
            }
        }
    }

    @Test("attention: row block sizes")
    func attentionBlocks() throws {
        for block in [32, 64, 128, 256] {
            let backend = CPUBackend(attentionRowBlock: block)
            print(
                try CPUBackendBenchmark.attention(
                    backend: backend, sequences: 1, length: 2048, heads: 28, kvHeads: 4, headDim: 128, causal: true))
            print(
                try CPUBackendBenchmark.attention(
                    backend: backend, sequences: 30, length: 64, heads: 16, kvHeads: 16, headDim: 80, causal: false))
        }
    }
}
