import Foundation
import ImageProcessing
import Qwen25VL
import RegularFiles
import SafeTensors
import Tokenizers

extension Reranker {
    /// Throws unless `directory` is a readable folder holding a readable `config.json` and `tokenizer.json`:
    /// a missing file and a folder this user may not read are told apart.
    static func requireModelFiles(in directory: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw RerankerError.missingFile(
                path: directory.path, hint: "give the folder that holds config.json, tokenizer.json and the weights")
        }
        for (file, hint) in [
            ("config.json", "the model's configuration; download the whole model folder"),
            ("tokenizer.json", "the model's tokenizer; download the whole model folder"),
        ] {
            let path = directory.appendingPathComponent(file).path
            do { try RegularFile.check(path) } catch .notFound(_) {
                throw RerankerError.missingFile(path: path, hint: hint)
            } catch {
                throw RerankerError.unreadableFile(path: path, reason: error.reason)
            }
        }
    }

    /// The cheap checks `inspect` makes too (tokenizer ids inside the embedding table, finite norm weights and
    /// biases, pixel limits that fit a prompt), so that a broken folder fails at load, before a server binds.
    static func checkModel(
        directory: URL, configuration: Qwen25VLConfiguration, preprocessing: PreprocessorConfiguration,
        tokenizer: Tokenizer, checkpoint: Checkpoint, maxLength: Int
    ) throws {
        let problems =
            ModelChecks.tokenizerProblems(tokenizer, embeddingRows: configuration.text.vocabSize)
            + ModelChecks.pixelLimitProblems(preprocessing, maxPromptTokens: maxLength)
            + ModelChecks.nonFiniteProblems(in: checkpoint)
        guard problems.isEmpty else { throw RerankerError.unusableModel(directory: directory.path, problems: problems) }
    }
}
