import ArgumentParser
import SafeTensors

/// `--no-mmap`, shared by the commands that load a model (serve, rerank, bench).
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

    /// How the shards are opened.
    var weightLoading: WeightLoading { noMmap ? .readIntoMemory : .memoryMapped }
}
