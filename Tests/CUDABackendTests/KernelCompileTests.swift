import Foundation
import Testing

@testable import CUDABackend

/// The kernel sources compiled by the real NVRTC, which runs without a GPU: a typo in a kernel fails here,
/// on any machine with NVRTC (`make test` fetches it with scripts/install-nvrtc.sh), not first on the GPU
/// machine. Skipped, with a note, where NVRTC cannot be loaded.
@Suite("CUDA kernel sources compile (NVRTC, no GPU needed)")
struct KernelCompileTests {
    static let nvrtc = try? NVRTCLibrary()

    /// Every kernel name the backend launches (CUDABackend+Ops.swift).
    static let launched =
        [
            "rms_norm", "rms_norm_v8", "rms_norm_warp8_v8", "rms_norm_warp16_v8", "add", "add_v8",
            "silu_mul", "silu_mul_fused", "silu_mul_fused_v8", "gelu", "rotary_tables", "rope", "split_rope",
            "split_rope_v8", "gather_rows", "scatter_rows", "linear_fallback", "patchify_rgb8",
        ] + AttentionKernelSource.headDims.map(AttentionKernelSource.kernelName(headDim:))
        + AttentionWideKernelSource.headDims.map(AttentionWideKernelSource.kernelName(headDim:))
        + AttentionHopperKernelSource.headDims.map(AttentionHopperKernelSource.kernelName(headDim:))
        + AttentionWindowKernelSource.headDims.map(AttentionWindowKernelSource.kernelName(headDim:))

    @Test(
        "every kernel compiles for the GPUs we support and every launched name is in the module",
        .enabled(if: nvrtc != nil, "NVRTC (libnvrtc.so.13 or .12) not found: run scripts/install-nvrtc.sh"),
        arguments: ["sm_80", "sm_90", "sm_90a"])
    func compiles(architecture: String) throws {
        let nvrtc = try #require(Self.nvrtc)
        let compiler = KernelCompiler(nvrtc: nvrtc, architecture: architecture, driverVersion: 0, cacheDirectory: nil)
        let cubin = try compiler.compile(KernelSources.all, name: "lychee_kernels.cu")
        #expect(cubin.count > 10_000)
        let declared = try #require(KernelSignatures(source: KernelSources.all)).parameters.keys
        #expect(
            Set(Self.launched).isSubset(of: Set(declared)),
            "launched but not declared: \(Set(Self.launched).subtracting(declared))")
        for name in declared {
            // extern "C" names stand unmangled in the CUBIN's symbol table.
            #expect(
                cubin.range(of: Data((name + "\u{0}").utf8)) != nil, "\(name) is missing from the \(architecture) CUBIN"
            )
        }
    }

    @Test(
        "a kernel that does not compile is reported with the architecture and NVRTC's log",
        .enabled(if: nvrtc != nil, "NVRTC (libnvrtc.so.13 or .12) not found: run scripts/install-nvrtc.sh"))
    func compileError() throws {
        let nvrtc = try #require(Self.nvrtc)
        let compiler = KernelCompiler(nvrtc: nvrtc, architecture: "sm_90", driverVersion: 0, cacheDirectory: nil)
        #expect {
            _ = try compiler.compile(
                #"extern "C" __global__ void broken(float* x) { x[0] = undefined_name; }"#, name: "broken.cu")
        } throws: { error in
            let text = "\(error)"
            return text.contains("sm_90") && text.contains("undefined_name")
        }
    }
}
