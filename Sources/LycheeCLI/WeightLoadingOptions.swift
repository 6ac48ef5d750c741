import ArgumentParser
import CUDABackend
import Qwen25VL
import SafeTensors
import TensorKit

/// `--dtype auto|bf16|fp8|fp8-weight-only`: the precision of the linear layers' weights and products.
enum DTypeChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// fp8 on GPUs with FP8 tensor cores (compute capability 8.9+: Ada, Hopper, Blackwell), else bf16.
    case auto
    case bf16
    /// 8-bit weights; products on FP8 tensor cores where the GPU has them, else widened to bf16.
    case fp8
    /// 8-bit weights always widened to bf16 just before each product (the path of GPUs without FP8
    /// tensor cores, e.g. A100): half the weight memory, bf16 products.
    case fp8WeightOnly = "fp8-weight-only"
}

/// `--no-mmap` and `--dtype`, shared by the commands that load a model (serve, rerank, bench).
struct WeightLoadingOptions: ParsableArguments {
    /// The help text: says what mapping means for an operator.
    static let help = ArgumentHelp(
        "Read the weights into memory instead of memory-mapping the safetensors files.",
        discussion: """
            By default the CPU backend computes straight on the mapped files: they must not be truncated or \
            rewritten in place while the process runs (it would die with SIGBUS). With --no-mmap the weights are \
            read once (the files can then change freely), at the cost of their size in process memory. The CUDA \
            backend copies every weight (the embedding table to host memory, the rest to the GPU) and unmaps the \
            files after loading either way.
            """)

    @Flag(name: .customLong("no-mmap"), help: help)
    var noMmap = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Precision of the linear layers: auto, bf16, fp8 or fp8-weight-only.",
            discussion: """
                auto: fp8 on GPUs with FP8 tensor cores (Ada, Hopper, Blackwell), bf16 elsewhere and on the CPU. \
                fp8: weights quantized at load to 8-bit E4M3 with one scale per output channel (an FP8 checkpoint \
                is used as stored), activations quantized per token, FP8 tensor-core products with fp32 \
                accumulation; on GPUs without FP8 tensor cores the 8-bit weights are widened to bf16 before each \
                product. fp8-weight-only: always that widening path. Embeddings, norms, attention, the vision \
                patch embedding and the score head stay in bf16/fp32.
                """))
    var dtype: DTypeChoice = .auto

    /// How the shards are opened.
    var weightLoading: WeightLoading { noMmap ? .readIntoMemory : .memoryMapped }

    /// The precision of the linear weights on `backend`, after setting a CUDA backend's product path;
    /// `note` hears what was chosen where it differs from what was asked.
    func linearPrecision(on backend: any Backend, note: (String) -> Void = BackendSelection.printToStandardError)
        -> LinearWeightPrecision
    {
        let cuda = backend as? CUDABackend
        switch dtype {
        case .bf16:
            return .bf16
        case .auto:
            guard let cuda, cuda.hasFP8TensorCores else { return .bf16 }
            cuda.fp8TensorCores = true
            return .fp8
        case .fp8:
            if let cuda {
                cuda.fp8TensorCores = cuda.hasFP8TensorCores
                if !cuda.hasFP8TensorCores {
                    note(
                        "\(cuda.device.name) has no FP8 tensor cores: 8-bit weights are widened to bf16 before each product"
                    )
                }
            }
            return .fp8
        case .fp8WeightOnly:
            cuda?.fp8TensorCores = false
            return .fp8
        }
    }
}
