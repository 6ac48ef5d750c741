import CPUBackend
import Foundation
import TensorKit
import Testing

@testable import CUDABackend

@Suite("CUDA backend without a GPU")
struct CUDABackendTests {
    @Test("kernel sources name every kernel the backend launches and need no header")
    func kernelSources() {
        let source = KernelSources.all
        #expect(!source.contains("#include"))
        for name in ["rms_norm", "add", "silu_mul", "gelu", "rope", "gather_rows", "scatter_rows", "linear_fallback"] {
            #expect(source.contains("__global__ void \(name)("), "missing kernel \(name)")
        }
        for d in [80, 128] {
            #expect(AttentionKernelSource.headDims.contains(d))
            #expect(
                source.contains(
                    "void __launch_bounds__(128, \(AttentionKernelSource.blocksPerMultiprocessor(headDim: d))) \(AttentionKernelSource.kernelName(headDim: d))("
                ))
            #expect(source.contains("attention_tile<\(d)>"))
        }
        // The decoder's head dimension also has the kernel with two 16-row tiles a warp.
        #expect(AttentionWideKernelSource.headDims == [128])
        // Hopper (228 KB a multiprocessor) and the A100 (164 KB) run it; Ada and consumer Ampere (100 KB) do not.
        #expect(AttentionWideKernelSource.runsWell(sharedMemoryPerMultiprocessor: 228 * 1024))
        #expect(AttentionWideKernelSource.runsWell(sharedMemoryPerMultiprocessor: 164 * 1024))
        #expect(!AttentionWideKernelSource.runsWell(sharedMemoryPerMultiprocessor: 100 * 1024))
        #expect(source.contains("void __launch_bounds__(64, 4) \(AttentionWideKernelSource.kernelName(headDim: 128))("))
        #expect(AttentionWideKernelSource.sharedBytes(headDim: 128) == 3 * 64 * 136 * 2)
        #expect(source.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"))
        // Hopper's warpgroup kernel: one warpgroup a block, the products as wgmma, 4 blocks a multiprocessor.
        #expect(AttentionHopperKernelSource.headDims == [64, 80, 128])
        for (d, blocks) in [(64, 4), (80, 4), (128, 4)] {
            let name = AttentionHopperKernelSource.kernelName(headDim: d)
            #expect(source.contains("void __launch_bounds__(128, \(blocks)) \(name)("))
            #expect(source.contains("wgmma.mma_async.sync.aligned.m64n\(d)k16.f32.bf16.bf16"))
        }
        #expect(source.contains("wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1,"))
        #expect(AttentionHopperKernelSource.sharedBytes(headDim: 128) == 3 * 64 * 128 * 2 + 1024)
        #expect(4 * (AttentionHopperKernelSource.sharedBytes(headDim: 128) + 1024) <= 228 * 1024)
        // The window kernel: one warpgroup, 4 blocks of 52 KB a multiprocessor at the vision tower's d = 80.
        for d in AttentionWindowKernelSource.headDims {
            let name = AttentionWindowKernelSource.kernelName(headDim: d)
            #expect(source.contains("void __launch_bounds__(128, 4) \(name)("))
        }
        #expect(AttentionWindowKernelSource.sharedBytes(headDim: 80) == 5 * 64 * 80 * 2 + 1024)
        #expect(4 * (AttentionWindowKernelSource.sharedBytes(headDim: 80) + 1024) <= 228 * 1024)
    }

    @Test("the vision tower's attention runs the window kernel only for sequences of one key tile it compiles")
    func windowKernelRouting() {
        func runs(
            enabled: Bool = true, headDim: Int = 80, heads: Int = 16, kvHeads: Int = 16,
            lengths: [Int32] = [0, 64, 112, 112, 113], elements: Int = 1000
        ) -> Bool {
            CUDABackend.runsWindowKernel(
                enabled: enabled, headDim: headDim, heads: heads, kvHeads: kvHeads, cuSeqlens: lengths,
                elements: elements)
        }
        #expect(runs())
        #expect(runs(headDim: 64, heads: 8, kvHeads: 4))
        #expect(!runs(enabled: false))
        #expect(!runs(headDim: 128))
        #expect(!runs(heads: 6, kvHeads: 4))
        #expect(!runs(lengths: [0, 64, 129]))  // a 65-row sequence: the split path
        #expect(!runs(elements: Int(Int32.max)))
    }

    @Test("Hopper's own instructions are compiled for compute capability 9.0 only (sm_90a)")
    func compilerArchitecture() {
        func info(_ major: Int, _ minor: Int) -> CUDABackend.DeviceInfo {
            CUDABackend.DeviceInfo(
                name: "GPU", computeCapability: (major, minor), multiprocessors: 1, sharedMemoryPerMultiprocessor: 0,
                totalMemoryBytes: 0, driverVersion: 13000, libraries: [])
        }
        #expect(info(9, 0).compilerArchitecture == "sm_90a")
        #expect(info(9, 0).architecture == "sm_90")
        #expect(info(9, 0).hasHopperInstructions)
        #expect(info(8, 0).compilerArchitecture == "sm_80")
        #expect(info(8, 9).compilerArchitecture == "sm_89")
        #expect(!info(10, 0).hasHopperInstructions)
        #expect(info(10, 0).compilerArchitecture == "sm_100")
    }

    @Test("bench and serve name the attention kernels in use: warpgroup products on Hopper")
    func attentionDescription() {
        #expect(CUDABackend.attentionDescription(hopper: true, wide: true).contains("wgmma"))
        #expect(!CUDABackend.attentionDescription(hopper: true, wide: true).contains("vision windows"))
        #expect(
            CUDABackend.attentionDescription(hopper: true, wide: true, fusedWindows: true).contains(
                "vision windows read the q/k/v product"))
        #expect(CUDABackend.attentionDescription(hopper: false, wide: true).contains("32 query rows"))
        #expect(CUDABackend.attentionDescription(hopper: false, wide: false).contains("16 query rows"))
    }

    @Test("attention tiles cover every query row once, inside its own sequence, with its prefix")
    func attentionTiles() {
        let cuSeqlens: [Int32] = [0, 1, 1, 65, 200]
        let prefixes: [Range<Int32>] = [0..<0, 0..<0, 0..<1, 1..<65]
        let tiles = AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes)
        #expect(tiles.count % 5 == 0)
        var covered = [Int32]()
        for i in stride(from: 0, to: tiles.count, by: 5) {
            let (first, start, end) = (tiles[i], tiles[i + 1], tiles[i + 2])
            #expect(start <= first && first < end)
            let expected: Range<Int32> = start == 65 ? 1..<65 : (start == 1 ? 0..<1 : 0..<0)
            #expect(tiles[i + 3] == expected.lowerBound && tiles[i + 4] == expected.upperBound)
            covered += Array(first..<min(end, first + Int32(AttentionTiling.rowsPerBlock)))
        }
        #expect(covered == Array(0..<200))
        #expect(AttentionTiling.tiles(cuSeqlens: [0]).isEmpty)
        #expect(AttentionTiling.tiles(cuSeqlens: [0, 3]) == [0, 0, 3, 0, 0])
    }

    @Test("causal tiles end at their sequence's end and come heaviest first")
    func causalAttentionTiles() {
        let cuSeqlens: [Int32] = [0, 40, 240, 300]
        let prefixes: [Range<Int32>] = [0..<0, 0..<40, 0..<40]
        let plain = AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes)
        let ordered = AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes, causal: true)
        func groups(_ tiles: [Int32]) -> [[Int32]] {
            stride(from: 0, to: tiles.count, by: 5).map { Array(tiles[$0..<$0 + 5]) }
        }
        #expect(groups(ordered).count == groups(plain).count)
        // Every row once, each block's rows inside its sequence; the last block of a sequence ends at its end,
        // so the partly filled block is the first (it starts before the sequence).
        var covered = [Int32]()
        for tile in groups(ordered) {
            covered += Array(max(tile[0], tile[1])..<min(tile[2], tile[0] + 64))
            #expect((tile[2] - tile[0]) % 64 == 0)
            #expect(tile[0] > tile[1] - 64 && tile[0] < tile[2])
        }
        #expect(covered.sorted() == Array(0..<300))
        #expect(groups(ordered).contains([-24, 0, 40, 0, 0]))
        #expect(groups(ordered).contains([-16, 40, 240, 0, 40]))
        // Key rows a causal block reads: its prefix, then its sequence up to its last query row.
        let work = groups(ordered).map { Int($0[4] - $0[3]) + Int(min($0[2], $0[0] + 64) - $0[1]) }
        #expect(work == work.sorted(by: >))
        // The last block of the 200-row sequence (40 prefix rows + 200 own rows) leads; the first sequence's
        // single block (40 rows, no prefix) is at the end.
        #expect(groups(ordered).first == [176, 40, 240, 0, 40])
        #expect(work.last == 40)
    }

    @Test(
        "packed tiles cover every (token, head of the group) once, in whole blocks where the rows allow",
        arguments: [false, true])
    func packedAttentionTiles(causal: Bool) {
        let group: Int32 = 7
        let cuSeqlens: [Int32] = [0, 1, 151, 711]
        let prefixes: [Range<Int32>] = [0..<0, 0..<1, 0..<1]
        let tiles = AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, group: Int(group))
        let blocks = stride(from: 0, to: tiles.count, by: 5).map { Array(tiles[$0..<$0 + 5]) }
        // 1, 150 and 560 tokens of 7 heads: 7, 1,050 and 3,920 rows fill 1 + 17 + 62 = 80 blocks; one head a
        // block takes 1 + 3 + 9 blocks a head, 91 for the group.
        #expect(blocks.count == 1 + 17 + 62)
        #expect(AttentionTiling.tiles(cuSeqlens: cuSeqlens, causal: causal).count / 5 * Int(group) == 91)
        var covered = [[Int32]]()
        for block in blocks {
            let (start, end) = (block[1], block[2])
            for row in block[0]..<block[0] + 64 {
                let token = AttentionTiling.token(ofRow: row, group: group)
                guard token >= start && token < end else { continue }
                covered.append([token, row - token * group])
            }
            #expect(block[3..<5] == (start == 0 ? [0, 0] : [0, 1]))
            if causal {
                // Blocks end at their sequence's last row: only the first of a sequence is partly filled.
                #expect((end * group - block[0]) % 64 == 0)
            }
        }
        let expected = (0..<Int32(711)).flatMap { token in (0..<group).map { [token, $0] } }
        #expect(covered.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) } == expected)
        #expect(AttentionTiling.token(ofRow: -3, group: group) == -1)
        #expect(AttentionTiling.token(ofRow: 13, group: group) == 1)
        // One head a block is the packing of a group of 1.
        #expect(
            AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, group: 1)
                == AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal))
    }

    @Test("kernel cache files are keyed by source, architecture and driver")
    func cacheKeys() throws {
        let folder = URL(fileURLWithPath: "/tmp/lychee-cache-test")
        func file(_ arch: String, _ driver: Int32, _ source: String) throws -> String {
            let nvrtc = try? NVRTCLibrary()
            guard let nvrtc else { return "\(KernelCompiler.fnv1a64(source))-\(arch)-\(driver)" }
            let compiler = KernelCompiler(
                nvrtc: nvrtc, architecture: arch, driverVersion: driver, cacheDirectory: folder)
            return try #require(compiler.cacheFile(for: source)).lastPathComponent
        }
        #expect(KernelCompiler.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(KernelCompiler.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        let base = try file("sm_90", 13000, "x")
        #expect(try file("sm_90", 13000, "x") == base)
        #expect(try file("sm_80", 13000, "x") != base)
        #expect(try file("sm_90", 12080, "x") != base)
        #expect(try file("sm_90", 13000, "y") != base)
    }

    @Test("pool segments: small requests share 4 MiB segments, large ones get 64 MiB or their own 2 MiB-rounded size")
    func poolSegments() {
        #expect(DeviceMemoryPool.segmentSize(forRequest: 1) == 4 << 20)
        #expect(DeviceMemoryPool.segmentSize(forRequest: (1 << 20) - 1) == 4 << 20)
        #expect(DeviceMemoryPool.segmentSize(forRequest: 1 << 20) == 64 << 20)
        #expect(DeviceMemoryPool.segmentSize(forRequest: (100 << 20) + 1) == 102 << 20)
        #expect(RangeAllocator.rounded(1) == 256)
        #expect(RangeAllocator.rounded(257) == 512)
    }

    @Test("a missing library is reported with every name tried and what to do")
    func missingLibrary() {
        #expect {
            try DynamicLibrary.open("a test library", candidates: ["liblychee-does-not-exist.so.9"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("liblychee-does-not-exist.so.9") && text.contains("--backend cpu")
        }
    }

    @Test("without a driver, creating the backend throws an actionable error")
    func noDriver() throws {
        guard (try? DynamicLibrary.open("probe", candidates: ["libcuda.so.1"])) == nil else { return }
        #expect {
            _ = try CUDABackend(kernelCacheDirectory: nil)
        } throws: { error in
            guard case CUDAError.libraryNotFound(let library, _, _) = error else { return false }
            return library.contains("libcuda") && "\(error)".contains("--backend cpu")
        }
    }

    @Test("error messages name the failing call and status")
    func errorMessages() {
        #expect(
            "\(CUDAError.driver(call: "cuMemAlloc", code: 2, name: "CUDA_ERROR_OUT_OF_MEMORY"))"
                .contains("cuMemAlloc failed with CUDA_ERROR_OUT_OF_MEMORY"))
        #expect(
            "\(CUDAError.cublas(call: "cublasLtMatmul", status: 15, name: CUBLASStatus.name(15)))"
                .contains("CUBLAS_STATUS_NOT_SUPPORTED"))
        #expect("\(CUDAError.compilation(architecture: "sm_90", log: "line 3: oops"))".contains("line 3: oops"))
    }

    @Test("host conversions to bf16 round to nearest even")
    func hostConversion() throws {
        let values: [Float] = [1, -2.5, 1.00390625, 3.14159]
        let bits = values.withUnsafeBytes { HostConversion.bf16Bits($0, dtype: .f32) }
        #expect(bits == values.map(HalfConversion.bf16Bits))
        let back = try HostRows(dtype: .bf16, bytes: bits.withUnsafeBytes { Array($0) }).floats()
        #expect(back[0] == 1 && back[1] == -2.5)
    }
}
