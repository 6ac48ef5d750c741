import ArgumentParser
import Dispatch
import Foundation
import ModelHub

/// `lychee-rerank download MODEL_ID`: fetches the files the engine needs into the hub's standard cache.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract:
            "Download a model (config, tokenizer, safetensors weights) into the Hugging Face or ModelScope cache.",
        discussion: """
            Files go where the Python tools look for them: $HF_HUB_CACHE (or $HF_HOME/hub, \
            ~/.cache/huggingface/hub) for Hugging Face, $MODELSCOPE_CACHE/models (~/.cache/modelscope/hub/models) \
            for ModelScope. Honoured: HF_ENDPOINT (mirrors), HF_TOKEN, HF_HUB_OFFLINE, MODELSCOPE_DOMAIN, \
            MODELSCOPE_API_TOKEN. Ctrl-C keeps partial files; running the command again resumes them. \
            Prints the model directory on standard output.
            """
    )

    @Argument(help: "The model id, e.g. vec-ai/lychee-rerank-mm.")
    var modelID: String = defaultModelID

    @Option(name: .long, help: "Branch, tag or commit (default: main on Hugging Face, master on ModelScope).")
    var revision: String?

    @Option(name: .long, help: "huggingface or modelscope.")
    var source: ModelSource = .huggingFace

    @Flag(name: .long, help: "Re-hash files already in the cache and fetch again those that do not match.")
    var verify = false

    func run() async throws {
        let model = try ModelID(modelID)
        let environment = HubEnvironment()
        let progress = ConsoleProgress(label: modelID)
        installInterruptNotice()
        let directory: URL
        switch source {
        case .huggingFace:
            directory = try await HuggingFaceHub(environment: environment)
                .download(
                    model, revision: revision ?? source.defaultRevision, progress: progress, verifyExisting: verify)
        case .modelScope:
            directory = try await ModelScopeHub(environment: environment)
                .download(
                    model, revision: revision ?? source.defaultRevision, progress: progress, verifyExisting: verify)
        }
        print(directory.path)
    }
}

/// Ctrl-C during a download: say that partial files are kept, then exit with the usual status 130.
/// Nothing is deleted: `.incomplete` files are resumed by the next run.
private func installInterruptNotice() {
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    source.setEventHandler {
        FileHandle.standardError.write(
            Data(
                "\ninterrupted: partial files are kept in the cache; run the same command again to resume\n".utf8))
        exit(130)
    }
    source.resume()
    interruptSource.withLock { $0 = source }
}

/// Keeps the signal source alive for the life of the process.
private let interruptSource = SignalSourceBox()

private final class SignalSourceBox: @unchecked Sendable {
    private let lock = NSLock()
    private var source: (any DispatchSourceSignal)?
    func withLock(_ body: (inout (any DispatchSourceSignal)?) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&source)
    }
}
