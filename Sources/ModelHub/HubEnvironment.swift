import Foundation

/// The environment variables the Hugging Face and ModelScope Python clients read, read the same way.
///
/// Hugging Face: `HF_ENDPOINT` (mirror, default `https://huggingface.co`), `HF_TOKEN` (else the file at
/// `HF_TOKEN_PATH` or `$HF_HOME/token`), `HF_HUB_CACHE` (else legacy `HUGGINGFACE_HUB_CACHE`, else
/// `$HF_HOME/hub`, with `HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`),
/// `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`; `1`, `ON`, `YES`, `TRUE`).
/// ModelScope: `MODELSCOPE_DOMAIN` (default `www.modelscope.cn`; a value with `://` is used as a full endpoint),
/// `MODELSCOPE_API_TOKEN`, `MODELSCOPE_CACHE` (default `~/.cache/modelscope/hub`).
public struct HubEnvironment: Sendable {
    public var huggingFaceEndpoint: URL
    public var huggingFaceToken: String?
    public var huggingFaceCache: URL
    public var modelScopeEndpoint: URL
    public var modelScopeToken: String?
    /// The ModelScope cache root; models live under `models/<org>/<name>` inside it.
    public var modelScopeCache: URL
    /// When true nothing is downloaded: models come from the cache or an error says they are missing.
    public var offline: Bool
    /// Files fetched at the same time.
    public var maxParallelDownloads: Int = 4

    /// Reads the variables from `values` (the process environment by default).
    public init(values: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ name: String) -> String? {
            guard let raw = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else {
                return nil
            }
            return raw
        }
        let home = value("HOME") ?? FileManager.default.homeDirectoryForCurrentUser.path
        func expand(_ path: String) -> String {
            if path == "~" { return home }
            if path.hasPrefix("~/") { return home + path.dropFirst(1) }
            return path
        }
        let hfHome = expand(value("HF_HOME") ?? ((value("XDG_CACHE_HOME") ?? home + "/.cache") + "/huggingface"))
        let hubCache = value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") ?? hfHome + "/hub"
        huggingFaceCache = URL(fileURLWithPath: expand(hubCache), isDirectory: true)
        let endpoint = value("HF_ENDPOINT").map { String($0.reversed().drop { $0 == "/" }.reversed()) }
        huggingFaceEndpoint = URL(string: endpoint ?? "https://huggingface.co") ?? URL(fileURLWithPath: "/")
        if let token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN") {
            huggingFaceToken = token
        } else {
            let tokenPath = expand(value("HF_TOKEN_PATH") ?? hfHome + "/token")
            huggingFaceToken = (try? String(contentsOfFile: tokenPath, encoding: .utf8))
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .flatMap { $0.isEmpty ? nil : $0 }
        }
        let domain = value("MODELSCOPE_DOMAIN") ?? "www.modelscope.cn"
        let scopeEndpoint = domain.contains("://") ? domain : "https://" + domain
        modelScopeEndpoint =
            URL(string: String(scopeEndpoint.reversed().drop { $0 == "/" }.reversed()))
            ?? URL(fileURLWithPath: "/")
        modelScopeToken = value("MODELSCOPE_API_TOKEN")
        modelScopeCache = URL(
            fileURLWithPath: expand(value("MODELSCOPE_CACHE") ?? home + "/.cache/modelscope/hub"), isDirectory: true)
        let truthy: Set<String> = ["1", "ON", "YES", "TRUE"]
        offline = [value("HF_HUB_OFFLINE"), value("TRANSFORMERS_OFFLINE")]
            .contains { $0.map { truthy.contains($0.uppercased()) } ?? false }
        offlineVariable = value("HF_HUB_OFFLINE") != nil ? "HF_HUB_OFFLINE" : "TRANSFORMERS_OFFLINE"
    }

    /// The variable that switched offline mode on, for messages.
    public var offlineVariable: String
}
