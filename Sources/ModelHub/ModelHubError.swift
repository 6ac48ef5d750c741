import Foundation

/// Everything that can go wrong while finding or downloading a model, each with what to do about it.
public enum ModelHubError: Error, CustomStringConvertible, Equatable {
    /// `--model` is neither an existing directory nor a valid `org/name` model id.
    case invalidModelID(String)
    /// `--model` looks like a path, but nothing is there; `suggestion` is a model folder it probably meant.
    case modelDirectoryNotFound(String, suggestion: String? = nil)
    /// `--model` names a file, not a folder.
    case notAFolder(String)
    /// `--model` names a folder this user may not read.
    case permissionDenied(String)
    /// The model could not be fetched because there is no network or no cache (offline mode, a transport
    /// failure): the underlying error, with how to serve a local folder instead.
    indirect case unreachable(ModelHubError)
    /// A file name sent by the server that would escape the model folder or is otherwise unusable.
    case unsafeFileName(String)
    /// Offline mode is on and the model is not (completely) in the cache.
    case notCachedOffline(model: String, cache: String, variable: String)
    /// The hub answered with an HTTP error.
    case httpStatus(url: String, status: Int, hint: String)
    /// The hub could not be reached or the connection broke.
    case transport(url: String, reason: String)
    /// A reply the client cannot use (bad JSON, missing headers).
    case unexpectedResponse(url: String, reason: String)
    /// A downloaded file does not have the checksum the hub announced, even after one retry.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// A downloaded file does not have the size the hub announced.
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    /// The repository holds none of the weight files the engine reads.
    case noWeights(model: String, files: [String])
    /// A file system step failed (cache not writable, disk full).
    case fileSystem(path: String, reason: String)
    /// More redirects than any hub sends.
    case tooManyRedirects(url: String)

    public var description: String {
        switch self {
        case .invalidModelID(let value):
            return "'\(value)' is neither an existing model directory nor a model id like 'vec-ai/lychee-rerank-mm'; "
                + "give a folder that holds config.json and the safetensors files, or an id 'org/name'"
        case .modelDirectoryNotFound(let path, let suggestion):
            let guess = suggestion.map { " (did you mean \($0)?)" } ?? ""
            return "no such folder: \(path)\(guess); give a model folder (config.json, tokenizer.json and the "
                + "safetensors files) or a model id like 'vec-ai/lychee-rerank-mm' to download"
        case .notAFolder(let path):
            return "'\(path)' is a file, not a model folder; give the folder that holds config.json, tokenizer.json "
                + "and the safetensors files"
        case .permissionDenied(let path):
            return "permission denied: this user may not read the model folder '\(path)'; make it (and the folders "
                + "above it) readable and searchable (chmod a+rX), or run as its owner"
        case .unreachable(let error):
            return error.description + "\n" + Self.localModelHint
        case .unsafeFileName(let name):
            return "the hub listed a file named '\(name)', which would land outside the model folder; "
                + "refusing it (is HF_ENDPOINT/MODELSCOPE_DOMAIN pointing at a trustworthy server?)"
        case .notCachedOffline(let model, let cache, let variable):
            return "\(variable) is set, so nothing is downloaded, and '\(model)' is not completely in the cache at "
                + "\(cache); unset \(variable) to download it, run `lychee-rerank download \(model)` where there is "
                + "network access and copy the cache, or pass --model with a local directory"
        case .httpStatus(let url, let status, let hint):
            return "GET \(url) failed with HTTP \(status): \(hint)"
        case .transport(let url, let reason):
            return "could not download \(url): \(reason); check the network (or HF_ENDPOINT / MODELSCOPE_DOMAIN) "
                + "and run the command again: partial files are kept and resumed"
        case .unexpectedResponse(let url, let reason):
            return "unexpected reply from \(url): \(reason); is the endpoint a Hugging Face Hub or ModelScope server?"
        case .checksumMismatch(let file, let expected, let actual):
            return "'\(file)' was downloaded twice and its checksum is still wrong (expected \(expected), got "
                + "\(actual)); the file was deleted. The server or a proxy is corrupting it: try again later or "
                + "another endpoint (HF_ENDPOINT)"
        case .sizeMismatch(let file, let expected, let actual):
            return "'\(file)' has \(actual) bytes but the hub announced \(expected); it was deleted, run the command "
                + "again to fetch it anew"
        case .noWeights(let model, let files):
            let shown = files.prefix(12).joined(separator: ", ")
            return "'\(model)' has no safetensors weights (model.safetensors or model-*.safetensors with "
                + "model.safetensors.index.json); files seen: \(shown). Only safetensors checkpoints are supported"
        case .fileSystem(let path, let reason):
            return "cannot write \(path): \(reason); check free disk space and permissions, or point HF_HUB_CACHE "
                + "(MODELSCOPE_CACHE) somewhere writable"
        case .tooManyRedirects(let url):
            return "too many redirects while fetching \(url); check HF_ENDPOINT / MODELSCOPE_DOMAIN"
        }
    }

    /// How to run without the network: a local folder, or the random-weight fixture bundled with the sources.
    public static let localModelHint =
        "To run without the network, pass --model with a local model folder (config.json, tokenizer.json and the "
        + "safetensors files), for example one copied from a machine that ran `lychee-rerank download`. To try the "
        + "server at once, serve the bundled random-weight fixture (meaningless scores, exact computation): "
        + "`MODEL=Fixtures/checkpoints/tiny-untied-legacy make run` in the source folder, or "
        + "`lychee-rerank serve --model Fixtures/checkpoints/tiny-untied-legacy`."

    /// Whether the error comes from having no network or no cached copy (rather than from a hub that answered).
    var isNetworkUnavailable: Bool {
        switch self {
        case .notCachedOffline, .transport: true
        default: false
        }
    }
}
