import ArgumentParser
import Reranker

/// `--min-pixels` and `--max-pixels`, shared by `serve`, `rerank` and `bench`: the image area bounds
/// images are resized into. The defaults come from the model's preprocessor_config.json.
struct ImageBoundsOptions: ParsableArguments {
    @Option(
        name: .long, help: "Smallest image area in pixels after resizing (default: the model's preprocessor config).")
    var minPixels: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Largest image area in pixels after resizing (default: the model's preprocessor config, 1003520).",
            discussion: "Fewer pixels mean fewer visual tokens: a 1920x1080 photo is about 1,300 tokens at the "
                + "default, about 500 at 768x432 (max-pixels 331776). Requests may narrow the bounds "
                + "(mm_processor_kwargs), never widen them."))
    var maxPixels: Int?

    func validate() throws {
        for (name, value) in [("--min-pixels", minPixels), ("--max-pixels", maxPixels)] {
            if let value, value < 28 * 28 {
                throw ValidationError("\(name) must be at least 784 (one 28x28 tile), got \(value)")
            }
        }
        if let minPixels, let maxPixels, minPixels > maxPixels {
            throw ValidationError("--min-pixels \(minPixels) is larger than --max-pixels \(maxPixels)")
        }
    }

    /// `reranker` with these bounds (itself when neither is given).
    func apply(to reranker: Reranker) throws -> Reranker {
        guard minPixels != nil || maxPixels != nil else { return reranker }
        return try reranker.withImageBounds(minPixels: minPixels, maxPixels: maxPixels)
    }
}
