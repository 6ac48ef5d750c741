import Testing

@testable import CUDABackend

@Suite("Kernel launches are checked against the kernels' CUDA declarations (no GPU needed)")
struct KernelSignatureTests {
    @Test("every kernel the backend launches has a declaration whose parameters a launch can pass")
    func everyLaunchedKernelIsDeclared() throws {
        let signatures = try #require(KernelSignatures(source: KernelSources.all))
        for name in KernelCompileTests.launched {
            #expect(signatures.parameters[name] != nil, "\(name)")
        }
        #expect(signatures.parameters["rms_norm_warp8_v8"] == [.pointer, .pointer, .pointer, .int32, .int32, .float])
        #expect(signatures.parameters["add_v8"] == [.pointer, .pointer, .pointer, .int64])
        #expect(
            signatures.parameters["attention_d80"]
                == [.pointer, .pointer, .pointer, .pointer, .pointer, .int32, .int32, .float, .int32])
    }

    @Test("C parameter declarations map to launch argument kinds; others are refused")
    func parameterKinds() {
        #expect(KernelSignatures.kind(ofParameter: " const bf16_t* __restrict__ q") == .pointer)
        #expect(KernelSignatures.kind(ofParameter: "uint4* out") == .pointer)
        #expect(KernelSignatures.kind(ofParameter: "int width") == .int32)
        #expect(KernelSignatures.kind(ofParameter: "\n    long long n8") == .int64)
        #expect(KernelSignatures.kind(ofParameter: "float eps") == .float)
        #expect(KernelSignatures.kind(ofParameter: "bool flag") == nil)
        #expect(KernelSignatures(source: #"extern "C" __global__ void k(double x) {}"#) == nil)
    }

    @Test("a launch whose arguments differ from the declaration fails with the kernel and the argument named")
    func mismatchedLaunchesFail() throws {
        let signatures = try #require(
            KernelSignatures(
                source:
                    #"extern "C" __global__ void __launch_bounds__(256) scale(const float* x, float* out, int n, float s) {}"#
            ))
        try signatures.check("scale", [.pointer(1), .pointer(2), .int32(3), .float(4)])
        #expect(throws: CUDAError.kernelArguments(kernel: "scale", detail: "3 arguments given, the kernel declares 4"))
        {
            try signatures.check("scale", [.pointer(1), .pointer(2), .int32(3)])
        }
        #expect(
            throws: CUDAError.kernelArguments(kernel: "scale", detail: "argument 2 is int64, the kernel declares int32")
        ) {
            try signatures.check("scale", [.pointer(1), .pointer(2), .int64(3), .float(4)])
        }
        #expect(throws: CUDAError.kernelArguments(kernel: "missing", detail: "no kernel of that name is declared")) {
            try signatures.check("missing", [])
        }
        #expect(
            CUDAError.kernelArguments(kernel: "scale", detail: "x").description.contains("run with --backend cpu"))
    }
}
