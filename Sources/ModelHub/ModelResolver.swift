import Foundation

/// Where a model id is downloaded from.
public enum ModelSource: String, Sendable, CaseIterable {
    case huggingFace = "huggingface"
    case modelScope = "modelscope"

    /// The branch a repository is read from when no revision is given (`main` on the Hub, `master` on ModelScope).
    public var defaultRevision: String { self == .huggingFace ? "main" : "master" }
}

/// The model the commands use when `--model` is not given.
public let defaultModelID = "vec-ai/lychee-rerank-mm"

/// Turns a `--model` argument into a local model directory.
///
/// - An existing directory is returned as it is (after checking that this user may read it).
/// - An argument that can only be a path (``ModelFolderArgument/looksLikePath(_:)``) but names nothing is
///   ``ModelHubError/modelDirectoryNotFound(_:suggestion:)`` at once: no Hub lookup, no DNS wait.
/// - A model id (`org/name`) is looked up in the cache of `source` first (Hugging Face:
///   `snapshots/<commit of refs/<revision>>`; ModelScope: `models/<org>/<name>`) and returned when it holds
///   every file the engine needs.
/// - Otherwise, with `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) set, it throws
///   ``ModelHubError/notCachedOffline(model:cache:variable:)``; without it, the files are downloaded
///   (resuming partial ones) and the new cache folder is returned. Failures that come from having no network
///   say how to serve a local folder instead (``ModelHubError/unreachable(_:)``).
public func resolveModel(
    _ argument: String, revision: String? = nil, source: ModelSource = .huggingFace,
    environment: HubEnvironment = HubEnvironment(), progress: any DownloadProgressReporting = SilentProgress()
) async throws -> URL {
    var isDirectory: ObjCBool = false
    let expanded = ModelFolderArgument.expanded(argument)
    if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else { throw ModelHubError.notAFolder(argument) }
        try ModelFolderArgument.checkReadable(expanded, argument: argument)
        return URL(fileURLWithPath: expanded, isDirectory: true)
    }
    if ModelFolderArgument.looksLikePath(argument) {
        throw ModelHubError.modelDirectoryNotFound(argument, suggestion: ModelFolderArgument.suggestion(for: expanded))
    }
    let model = try ModelID(argument)
    // A single word is far more likely a mistyped folder than a legacy one-part Hub id.
    guard model.owner != nil else { throw ModelHubError.modelDirectoryNotFound(argument) }
    let revision = revision ?? source.defaultRevision
    do {
        switch source {
        case .huggingFace:
            let hub = HuggingFaceHub(environment: environment)
            if let folder = hub.cachedSnapshot(model, revision: revision) { return folder }
            return try await hub.download(model, revision: revision, progress: progress)
        case .modelScope:
            let hub = ModelScopeHub(environment: environment)
            if let folder = hub.cachedModel(model) { return folder }
            return try await hub.download(model, revision: revision, progress: progress)
        }
    } catch let error as ModelHubError where error.isNetworkUnavailable {
        throw ModelHubError.unreachable(error)
    }
}
