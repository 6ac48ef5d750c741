import ArgumentParser
import Foundation
import Qwen25VL

/// `lychee-rerank inspect --model DIR`: describes a checkpoint and lists everything wrong with it.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model directory (architecture, parameters, dtypes, layout, shards, settings) and check it."
    )

    @Option(name: .long, help: "The model directory (config.json, safetensors files, preprocessor_config.json).")
    var model: String

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let report = CheckpointInspection(directory: URL(fileURLWithPath: model))
        print(json ? report.json() : report.rendered())
        if !report.isUsable { throw ExitCode.failure }
    }
}
