import ArgumentParser
import CPUBackend
import CUDABackend
import Foundation
import Qwen25VL
import Reranker
import TensorKit

/// Which engine runs the model: `--backend auto|cpu|cuda`.
enum BackendChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// CUDA when a usable GPU is found, else the CPU (with a note on stderr).
    case auto
    case cpu
    case cuda
}

extension HostWait: ExpressibleByArgument {}

/// Why the requested backend could not start.
enum BackendSelectionError: Error, CustomStringConvertible {
    case cudaUnavailable(reason: String)

    var description: String {
        switch self {
        case .cudaUnavailable(let reason):
            return "--backend cuda was requested but no usable CUDA GPU was found: \(reason). "
                + "Use --backend cpu, or --backend auto to fall back to the CPU."
        }
    }
}

/// Builds the backend a command asked for.
enum BackendSelection {
    /// Makes the backend; `auto` tries CUDA first and says on stderr why it fell back to the CPU.
    /// - Parameters:
    ///   - gpuMemoryLimitGiB: the most GPU memory a CUDA backend may take (context included); ignored on the CPU.
    ///   - hostWait: `--gpu-wait` (nil: `$LYCHEE_GPU_WAIT`, else ``HostWait/block``).
    static func make(
        _ choice: BackendChoice, gpuMemoryLimitGiB: Double? = nil, hostWait: HostWait? = nil,
        note: (String) -> Void = BackendSelection.printToStandardError
    ) throws -> any Backend {
        let backend = try make(choice, hostWait: hostWait ?? .fromEnvironment, note: note)
        if let cuda = backend as? CUDABackend, let gpuMemoryLimitGiB {
            cuda.memoryLimitBytes = Int(gpuMemoryLimitGiB * 1_073_741_824)
        }
        return backend
    }

    /// The backends of `--gpus all|0,1,...`: one CUDA backend per listed device, each under the memory limit.
    static func gpus(_ list: String, gpuMemoryLimitGiB: Double?, hostWait: HostWait? = nil) throws -> [any Backend] {
        let ordinals: [Int]
        if list == "all" {
            ordinals = Array(0..<CUDABackend.deviceCount())
            guard !ordinals.isEmpty else {
                throw BackendSelectionError.cudaUnavailable(reason: "--gpus all found no CUDA device")
            }
        } else {
            let parsed = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw ValidationError("--gpus takes all or device numbers such as 0,1; got \(list)")
            }
            // A device may be listed twice: two engines share it (each with its own weights).
            ordinals = parsed.compactMap { $0 }
        }
        return try ordinals.map { ordinal in
            let backend: CUDABackend
            do {
                backend = try CUDABackend(ordinal: ordinal, hostWait: hostWait ?? .fromEnvironment)
            } catch {
                throw BackendSelectionError.cudaUnavailable(reason: "GPU \(ordinal): \(error)")
            }
            if let gpuMemoryLimitGiB { backend.memoryLimitBytes = Int(gpuMemoryLimitGiB * 1_073_741_824) }
            return backend
        }
    }

    /// "bf16", "fp8 (E4M3 tensor cores)" or "fp8 weights, bf16 products": what the linear layers run in.
    static func describe(_ precision: LinearWeightPrecision, on backend: any Backend) -> String {
        switch precision {
        case .bf16: return backend.activationDType == .f32 ? "bf16 weights, fp32 products (CPU)" : "bf16"
        case .fp8:
            return backend.runsFP8Products
                ? "fp8 (E4M3 tensor cores, per-token activation scales)" : "fp8 weights, widened for each product"
        }
    }

    /// Checks a `--gpu-memory-limit-gib` value.
    static func validate(gpuMemoryLimitGiB: Double?) throws {
        if let gpuMemoryLimitGiB, !(gpuMemoryLimitGiB > 0 && gpuMemoryLimitGiB.isFinite) {
            throw ValidationError("--gpu-memory-limit-gib must be a positive number of GiB, got \(gpuMemoryLimitGiB)")
        }
    }

    static let gpuMemoryLimitHelp: ArgumentHelp =
        "The most GPU memory to use, in GiB (context included); batches that would need more are split."

    static let gpuWaitHelp = ArgumentHelp(
        "How host threads wait for the GPU: block (sleep until it signals: no core spent waiting), spin, yield, or "
            + "driver (CUDA's own choice: spin where cores outnumber GPUs). Default: $LYCHEE_GPU_WAIT, else block.")

    private static func make(_ choice: BackendChoice, hostWait: HostWait, note: (String) -> Void) throws
        -> any Backend
    {
        switch choice {
        case .cpu:
            return CPUBackend()
        case .cuda:
            do {
                return try CUDABackend(hostWait: hostWait)
            } catch {
                throw BackendSelectionError.cudaUnavailable(reason: "\(error)")
            }
        case .auto:
            do {
                let backend = try CUDABackend(hostWait: hostWait)
                note("lychee-rerank: using CUDA on \(backend.device)")
                return backend
            } catch {
                note("lychee-rerank: no usable CUDA GPU, using the CPU (--backend cuda says why)")
                return CPUBackend()
            }
        }
    }

    /// The token budget that memory and latency allow on `backend` once the model is loaded (see
    /// ``TokenBudget``): on CUDA what is left under the memory limit (or of the device's free memory, less
    /// a safety margin) after weights and context; and the MLP row chunks to run with: larger decoder chunks
    /// where the GPU has room for them at the same budget (``TokenBudget/gpuPlan(availableBytes:dims:chunks:)``).
    static func automaticPlan(backend: any Backend, dimensions: ModelDimensions, mlpRowChunks: MLPRowChunks)
        -> (budget: Int, chunks: MLPRowChunks)
    {
        guard let cuda = backend as? CUDABackend else { return (TokenBudget.cpu(dims: dimensions), mlpRowChunks) }
        return TokenBudget.gpuPlan(availableBytes: activationRoom(cuda), dims: dimensions, chunks: mlpRowChunks)
    }

    /// Device memory a CUDA backend has for activations once the model is loaded (before any pass).
    private static func activationRoom(_ cuda: CUDABackend) -> Int {
        // Under a limit the pool holds the room left after the weights as one arena, so the driver's figures
        // show the device as full: count the pool's capacity and what is live in it (weights) instead.
        let memory = cuda.memoryStatistics()
        let margin = 1 << 28
        if let capacity = cuda.poolCapacityBytes {
            // What this backend's pool may hold, less what is live (weights): right also when several
            // engines share one device.
            return capacity - memory.peakLiveBytes - margin
        }
        // What the driver has free (other processes count) plus the pool's own free ranges.
        return memory.totalBytes - memory.currentDeviceUsedBytes + memory.pooledBytes - memory.peakLiveBytes
            - 4 * margin
    }

    /// Most device memory, by default, for copies of cached prefixes kept between passes: 16 prefixes of a
    /// 768x512 query image (32 MB of keys and values each for the 7B).
    static let defaultPrefixCopyBytes = 512 << 20

    static let prefixCopyHelp = ArgumentHelp(
        "Device memory in MiB for cached prompt prefixes kept on the GPU between passes (0: upload them each pass).",
        discussion: "Default: on a GPU up to 512 MiB of what the token budget leaves free; none on the CPU. "
            + "Needs the prefix cache (--prefix-cache-mib).")

    /// The device memory for copies of cached prefixes on `backend` (``DevicePrefixCopies``): `requestedMiB`
    /// when given; else on CUDA up to ``defaultPrefixCopyBytes`` of what passes of `budget` tokens leave free
    /// for `model` (so the copies never cost the budget), and none on the CPU (the host cache is its memory).
    static func prefixCopyBytes(requestedMiB: Int?, backend: any Backend, model: Qwen25VLModel, budget: Int) -> Int {
        if let requestedMiB { return requestedMiB << 20 }
        guard let cuda = backend as? CUDABackend else { return 0 }
        let spare = TokenBudget.spareBytes(
            availableBytes: activationRoom(cuda), dims: model.dimensions, chunks: model.mlpRowChunks, budget: budget)
        // Whole MiB (what the startup log and the flag speak in): a few bytes to spare mean none.
        return (min(defaultPrefixCopyBytes, max(0, spare)) >> 20) << 20
    }

    static func printToStandardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
