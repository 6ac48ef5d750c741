import Foundation

/// One file of a ModelScope repository listing.
public struct ModelScopeFile: Sendable, Equatable {
    public var path: String
    public var size: Int64?
    public var sha256: String?
    public var revision: String?
}

/// A ModelScope client: lists files through `GET /api/v1/models/{id}/repo/files?Revision=&Recursive=True`,
/// downloads them from `GET /api/v1/models/{id}/repo?Revision=&FilePath=` and stores them where the
/// `modelscope` Python package does: `<MODELSCOPE_CACHE>/models/<owner>/<name with . as ___>/<file>`, with
/// partial files in `<MODELSCOPE_CACHE>/models/._____temp/<owner>/<name>/<file>`.
public struct ModelScopeHub: Sendable {
    public var environment: HubEnvironment
    var policy = TransferPolicy()

    public init(environment: HubEnvironment = HubEnvironment()) {
        self.environment = environment
    }

    /// The folder that holds the model's files.
    public func modelFolder(_ model: ModelID) -> URL {
        environment.modelScopeCache.appendingPathComponent("models", isDirectory: true)
            .appendingPathComponent(model.owner ?? "", isDirectory: true)
            .appendingPathComponent(model.name.replacingOccurrences(of: ".", with: "___"), isDirectory: true)
    }

    func temporaryFolder(_ model: ModelID) -> URL {
        environment.modelScopeCache.appendingPathComponent("models/._____temp", isDirectory: true)
            .appendingPathComponent(model.owner ?? "", isDirectory: true)
            .appendingPathComponent(model.name, isDirectory: true)
    }

    /// The model folder when it holds every file the engine needs.
    public func cachedModel(_ model: ModelID) -> URL? {
        let folder = modelFolder(model)
        return ModelFileSelection.isComplete(directory: folder) ? folder : nil
    }

    /// Lists every file of the repository at `revision`.
    public func listFiles(_ model: ModelID, revision: String = "master") async throws -> [ModelScopeFile] {
        try await withHTTP { http in try await listFiles(model, revision: revision, http: http) }
    }

    /// Downloads the files the engine needs into the ModelScope cache and returns the model folder.
    public func download(
        _ model: ModelID, revision: String = "master", progress: any DownloadProgressReporting = SilentProgress(),
        verifyExisting: Bool = false
    ) async throws -> URL {
        guard model.owner != nil else { throw ModelHubError.invalidModelID(model.description) }
        if environment.offline {
            if let folder = cachedModel(model) { return folder }
            throw ModelHubError.notCachedOffline(
                model: model.description, cache: modelFolder(model).path, variable: environment.offlineVariable)
        }
        return try await withHTTP { http in
            let files = try await listFiles(model, revision: revision, http: http)
            let wanted = Set(try ModelFileSelection.select(from: files.map(\.path), model: model.description))
            let selected = files.filter { wanted.contains($0.path) }
            let folder = modelFolder(model), temporary = temporaryFolder(model)
            var transfers: [FileTransfer] = []
            var present: Int64 = 0
            for file in selected {
                let destination = folder.appendingPathComponent(file.path)
                let digest = file.sha256.map { ExpectedDigest.sha256($0.lowercased()) }
                if isUsable(destination, file: file, digest: digest, verify: verifyExisting, progress: progress) {
                    present += file.size ?? 0
                    continue
                }
                transfers.append(
                    FileTransfer(
                        name: file.path, source: try downloadURL(model, revision: revision, path: file.path),
                        destination: destination, incomplete: temporary.appendingPathComponent(file.path),
                        expectedSize: file.size, digest: digest))
            }
            progress.planned(
                files: selected.count, totalBytes: selected.reduce(0) { $0 + ($1.size ?? 0) }, presentBytes: present)
            let policy = self.policy
            _ = try await mapConcurrently(transfers, limit: environment.maxParallelDownloads) { transfer in
                try await transfer.run(http: http, policy: policy, progress: progress)
                progress.finished(file: transfer.name)
            }
            progress.completed()
            return folder
        }
    }

    private func isUsable(
        _ url: URL, file: ModelScopeFile, digest: ExpectedDigest?, verify: Bool,
        progress: any DownloadProgressReporting
    ) -> Bool {
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        var good = file.size.map { (try? fileSize(at: url)) == $0 } ?? true
        if good, verify, let digest { good = (try? digestOfFile(at: url, like: digest)) == digest.hex }
        if !good {
            progress.note("\(file.path): the cached copy is corrupt or incomplete; fetching it again")
            try? FileManager.default.removeItem(at: url)
        }
        return good
    }

    func listFiles(_ model: ModelID, revision: String, http: HubHTTPClient) async throws -> [ModelScopeFile] {
        let url = try apiURL(model, "repo/files", query: [("Revision", revision), ("Recursive", "True")])
        let data = try await http.getJSON(url, what: "ModelScope model '\(model)' at revision '\(revision)'")
        struct Envelope: Decodable {
            struct Listing: Decodable { var Files: [Entry]? }
            struct Entry: Decodable {
                var Path: String
                var `Type`: String?
                var Size: Int64?
                var Sha256: String?
                var Revision: String?
            }
            var Code: Int?
            var Message: String?
            var Data: Listing?
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: data) else {
            throw ModelHubError.unexpectedResponse(url: url.absoluteString, reason: "not a ModelScope file listing")
        }
        guard envelope.Code == 200 || envelope.Code == nil, let entries = envelope.Data?.Files else {
            throw ModelHubError.unexpectedResponse(
                url: url.absoluteString, reason: "ModelScope said: \(envelope.Message ?? "code \(envelope.Code ?? 0)")")
        }
        return try entries.filter { $0.Type != "tree" }.map { entry in
            ModelScopeFile(
                path: try validatedRepositoryPath(entry.Path), size: entry.Size,
                sha256: entry.Sha256.flatMap { $0.isEmpty ? nil : $0 }, revision: entry.Revision)
        }
    }

    func downloadURL(_ model: ModelID, revision: String, path: String) throws -> URL {
        try apiURL(model, "repo", query: [("Revision", revision), ("FilePath", path)])
    }

    private func apiURL(_ model: ModelID, _ tail: String, query: [(String, String)]) throws -> URL {
        var allowed = CharacterSet.alphanumerics.intersection(
            CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~/")
        let queryText = query.map { name, value in
            name + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }.joined(separator: "&")
        let base = environment.modelScopeEndpoint.absoluteString
        guard let url = URL(string: "\(base)/api/v1/models/\(model.urlPath)/\(tail)?\(queryText)") else {
            throw ModelHubError.unexpectedResponse(url: base, reason: "MODELSCOPE_DOMAIN is not a usable host")
        }
        return url
    }

    private func withHTTP<T: Sendable>(_ body: (HubHTTPClient) async throws -> T) async throws -> T {
        try await HubHTTPClient.with(token: environment.modelScopeToken, endpoint: environment.modelScopeEndpoint, body)
    }
}
