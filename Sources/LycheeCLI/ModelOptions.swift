import ArgumentParser
import Foundation
import ModelHub

extension ModelSource: ExpressibleByArgument {}

/// `--model`, `--revision` and `--source`, shared by every command that runs or reads a model.
///
/// Commands use it as `@OptionGroup var model: ModelOptions` and call `try await model.resolve()` to get a
/// local directory: an existing folder as it is, a model id from the cache, or downloaded first (with a
/// progress bar on stderr). `HF_HUB_OFFLINE=1` keeps it to the cache.
struct ModelOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "A model directory (config.json, tokenizer.json, safetensors files) or a model id to download.")
    var model: String = defaultModelID

    @Option(
        name: .long, help: "Branch, tag or commit of a model id (default: main on Hugging Face, master on ModelScope).")
    var revision: String?

    @Option(name: .long, help: "Where a model id is downloaded from: huggingface or modelscope.")
    var source: ModelSource = .huggingFace

    /// The local directory of `--model`, downloading it when it is an id that is not cached yet.
    func resolve() async throws -> URL {
        try await resolveModel(
            model, revision: revision, source: source, progress: ConsoleProgress(label: "downloading \(model)"))
    }
}
