import ArgumentParser
import Foundation
import Qwen25VL

/// `lychee-rerank inspect --model DIR|ID`: describes a checkpoint and lists everything wrong with it.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract:
            "Describe a model directory (architecture, parameters, dtypes, 8-bit weights and their scales, layout, shards, settings) and check it."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        let directory = try await modelOptions.resolve()
        let report = CheckpointInspection(directory: directory)
        print(json ? report.json() : report.rendered())
        if !report.isUsable { throw ExitCode.failure }
    }
}
