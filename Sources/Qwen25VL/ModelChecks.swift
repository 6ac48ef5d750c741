import Foundation
import SafeTensors
import Tokenizers

/// Cheap checks of a model folder that opening its files alone does not make: the tokenizer against the
/// embedding table, NaN or infinity in small weights, and image pixel limits against the prompt length.
///
/// `inspect` lists what they find; loading a model refuses a folder they find anything in, so a server
/// fails before it binds its port rather than answering every request with an error.
public enum ModelChecks {
    /// The prompt length Lychee-Rerank-MM was trained with (SPEC: 3200 tokens), used where no
    /// `--max-length` applies.
    public static let trainingPromptLength = 3200

    /// Tokens the tokenizer can produce whose ids are not rows of the embedding table (`embeddingRows`,
    /// the config's `vocab_size`): the model would read outside its table.
    public static func tokenizerProblems(_ tokenizer: Tokenizer, embeddingRows: Int) -> [String] {
        var problems: [String] = []
        let largest = Int(tokenizer.largestVocabularyID)
        if largest >= embeddingRows {
            problems.append(
                "the tokenizer's vocabulary reaches id \(largest), beyond the \(embeddingRows)-row embedding table "
                    + "(vocab_size in config.json): tokenizer.json belongs to another model")
        }
        let outside = tokenizer.addedTokenIDs.filter { Int($0.id) >= embeddingRows }
        if !outside.isEmpty {
            let shown = outside.prefix(5).map { "\($0.token) (id \($0.id))" }.joined(separator: ", ")
            let more = outside.count > 5 ? " and \(outside.count - 5) more" : ""
            problems.append(
                "added token\(outside.count == 1 ? "" : "s") \(shown)\(more) of tokenizer.json "
                    + "\(outside.count == 1 ? "lies" : "lie") beyond the "
                    + "\(embeddingRows)-row embedding table (vocab_size in config.json): tokenizer.json belongs to "
                    + "another model")
        }
        return problems
    }

    /// Small tensors (norm weights, biases: at most `elementLimit` values) holding NaN or infinity.
    public static func nonFiniteProblems(in checkpoint: Checkpoint, elementLimit: Int = 1 << 16) -> [String] {
        checkpoint.nonFiniteSmallTensors(elementLimit: elementLimit).map {
            "tensor \($0.name) holds \($0.nonFiniteCount) NaN or infinite value\($0.nonFiniteCount == 1 ? "" : "s") "
                + "(of \($0.elementCount)): every score would be NaN; the checkpoint is corrupt, download it again"
        }
    }

    /// A `min_pixels` under which even the smallest image takes more tokens than a whole prompt of
    /// `maxPromptTokens` tokens: no image could be scored, and a server would fail its warm-up. (A large
    /// `max_pixels` is no such problem: small images still fit, and large ones are refused one by one.)
    public static func pixelLimitProblems(_ preprocessor: PreprocessorConfiguration, maxPromptTokens: Int) -> [String] {
        let pixelsPerToken = preprocessor.factor * preprocessor.factor
        guard pixelsPerToken > 0, preprocessor.minPixels > 0, preprocessor.maxPixels >= preprocessor.minPixels else {
            return []  // PreprocessorConfiguration.problems() reports these
        }
        let smallest = preprocessor.minPixels / pixelsPerToken
        guard smallest >= maxPromptTokens else { return [] }
        return [
            "min_pixels \(preprocessor.minPixels) in \(PreprocessorConfiguration.fileName) makes even the "
                + "smallest image \(smallest) tokens, as long as a whole \(maxPromptTokens)-token prompt or longer, "
                + "so no image could be scored; lower min_pixels (Lychee uses "
                + "\(PreprocessorConfiguration.lychee.minPixels)) or raise the prompt length (--max-length)"
        ]
    }
}
