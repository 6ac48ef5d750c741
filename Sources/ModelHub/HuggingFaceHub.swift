import AsyncHTTPClient
import Foundation

/// The files of a repository at one commit, as the Hub's API lists them.
public struct RepositoryListing: Sendable, Equatable {
    /// The commit the revision resolved to.
    public var commit: String
    /// Every file path in the repository.
    public var files: [String]
}

/// Where and what one repository file is, from a HEAD request on its `resolve` URL.
struct HubFileMetadata: Sendable {
    var path: String
    var commit: String?
    /// `X-Linked-Etag` (sha256 of an LFS file) or `ETag` (git blob id), without quotes and `W/`.
    var etag: String
    var size: Int64?
    /// Where the bytes are: the `Location` of a redirect to a CDN, or the `resolve` URL itself.
    var location: URL
}

/// A Hugging Face Hub client that speaks the Hub's HTTP API and fills the standard cache
/// (see ``HuggingFaceCache``), so Python tools find the same files.
public struct HuggingFaceHub: Sendable {
    public var environment: HubEnvironment
    var policy = TransferPolicy()

    public init(environment: HubEnvironment = HubEnvironment()) {
        self.environment = environment
    }

    public func cache(for model: ModelID) -> HuggingFaceCache {
        HuggingFaceCache(root: environment.huggingFaceCache, model: model)
    }

    /// The snapshot folder of `revision` when it is in the cache with every file the engine needs.
    public func cachedSnapshot(_ model: ModelID, revision: String = "main") -> URL? {
        let cache = cache(for: model)
        guard let commit = cache.cachedCommit(revision: revision) else { return nil }
        let folder = cache.snapshotFolder(commit: commit)
        return ModelFileSelection.isComplete(directory: folder) ? folder : nil
    }

    /// Lists the repository through `GET /api/models/{id}/revision/{revision}`.
    public func listFiles(_ model: ModelID, revision: String = "main") async throws -> RepositoryListing {
        try await withHTTP { http in try await listFiles(model, revision: revision, http: http) }
    }

    /// Downloads the files the engine needs (see ``ModelFileSelection``) into the cache and returns the
    /// snapshot folder `snapshots/<commit>`. Files already cached with the right size are kept (and
    /// re-hashed first when `verifyExisting`); partial files are resumed.
    public func download(
        _ model: ModelID, revision: String = "main", progress: any DownloadProgressReporting = SilentProgress(),
        verifyExisting: Bool = false
    ) async throws -> URL {
        if environment.offline {
            if let folder = cachedSnapshot(model, revision: revision) { return folder }
            throw ModelHubError.notCachedOffline(
                model: model.description, cache: cache(for: model).repositoryFolder.path,
                variable: environment.offlineVariable)
        }
        return try await withHTTP { http in
            let listing = try await listFiles(model, revision: revision, http: http)
            let wanted = try ModelFileSelection.select(from: listing.files, model: model.description)
            let limit = environment.maxParallelDownloads
            let metadata = try await mapConcurrently(wanted, limit: limit) { path in
                try await fileMetadata(model, commit: listing.commit, path: path, http: http)
            }
            let cache = cache(for: model)
            var transfers: [(HubFileMetadata, FileTransfer)] = []
            var present: Int64 = 0
            for file in metadata {
                let blob = cache.blob(etag: file.etag)
                if try isUsable(blob: blob, file: file, verify: verifyExisting, progress: progress) {
                    present += file.size ?? 0
                } else {
                    let transfer = FileTransfer(
                        name: file.path, source: file.location, destination: blob,
                        incomplete: cache.incompleteBlob(etag: file.etag), expectedSize: file.size,
                        digest: ExpectedDigest(hubETag: file.etag))
                    transfers.append((file, transfer))
                }
            }
            progress.planned(
                files: metadata.count, totalBytes: metadata.reduce(0) { $0 + ($1.size ?? 0) }, presentBytes: present)
            let policy = self.policy
            _ = try await mapConcurrently(transfers, limit: limit) { file, transfer in
                try await transfer.run(http: http, policy: policy, progress: progress)
                try cache.linkSnapshotFile(commit: listing.commit, path: file.path, etag: file.etag)
                progress.finished(file: file.path)
            }
            for file in metadata {
                try cache.linkSnapshotFile(commit: listing.commit, path: file.path, etag: file.etag)
            }
            try cache.writeRef(revision: revision, commit: listing.commit)
            progress.completed()
            return cache.snapshotFolder(commit: listing.commit)
        }
    }

    /// A cached blob counts when its size is the announced one (and its checksum, when asked to verify);
    /// otherwise it is deleted so it is fetched again.
    private func isUsable(
        blob: URL, file: HubFileMetadata, verify: Bool, progress: any DownloadProgressReporting
    ) throws -> Bool {
        guard FileManager.default.fileExists(atPath: blob.path) else { return false }
        var good = file.size.map { (try? fileSize(at: blob)) == $0 } ?? true
        if good, verify, let digest = ExpectedDigest(hubETag: file.etag) {
            good = (try? digestOfFile(at: blob, like: digest)) == digest.hex
        }
        if !good {
            progress.note("\(file.path): the cached copy is corrupt or incomplete; fetching it again")
            try? FileManager.default.removeItem(at: blob)
        }
        return good
    }

    func listFiles(_ model: ModelID, revision: String, http: HubHTTPClient) async throws -> RepositoryListing {
        let url = try endpointURL("api/models/\(model.urlPath)/revision/\(percentEncodePathSegment(revision))")
        let data = try await http.getJSON(url, what: "model '\(model)' at revision '\(revision)'")
        struct Info: Decodable {
            struct Sibling: Decodable { var rfilename: String }
            var sha: String?
            var siblings: [Sibling]?
        }
        guard let info = try? JSONDecoder().decode(Info.self, from: data), let sha = info.sha, isCommitHash(sha),
            let siblings = info.siblings
        else {
            throw ModelHubError.unexpectedResponse(
                url: url.absoluteString, reason: "no commit 'sha' or 'siblings' list")
        }
        return RepositoryListing(commit: sha, files: try siblings.map { try validatedRepositoryPath($0.rfilename) })
    }

    /// HEAD on `{endpoint}/{id}/resolve/{commit}/{path}`, following only same-host redirects, like
    /// `huggingface_hub.get_hf_file_metadata`.
    func fileMetadata(_ model: ModelID, commit: String, path: String, http: HubHTTPClient) async throws
        -> HubFileMetadata
    {
        let url = try endpointURL("\(model.urlPath)/resolve/\(commit)/\(percentEncodeFilePath(path))")
        let response = try await http.send(
            .HEAD, url, headers: [("Accept-Encoding", "identity")], followCrossOrigin: false)
        let isRedirect = (300...399).contains(response.status)
        if !isRedirect { try HubHTTPClient.check(response, what: "'\(path)' of '\(model)'") }
        let rawETag = response.header("X-Linked-Etag") ?? response.header("ETag")
        guard let etag = rawETag.map(normalizeETag), !etag.isEmpty, !etag.contains("/"), etag != ".", etag != "..",
            !etag.hasSuffix(".incomplete")
        else {
            throw ModelHubError.unexpectedResponse(
                url: url.absoluteString, reason: "no usable ETag header for '\(path)'")
        }
        let sizeText = response.header("X-Linked-Size") ?? (isRedirect ? nil : response.header("Content-Length"))
        let location = response.header("Location").flatMap { URL(string: $0, relativeTo: response.url)?.absoluteURL }
        return HubFileMetadata(
            path: path, commit: response.header("X-Repo-Commit"), etag: etag, size: sizeText.flatMap { Int64($0) },
            location: location ?? response.url)
    }

    private func endpointURL(_ path: String) throws -> URL {
        let base = environment.huggingFaceEndpoint.absoluteString
        guard let url = URL(string: base + "/" + path) else {
            throw ModelHubError.unexpectedResponse(url: base, reason: "HF_ENDPOINT is not a usable URL")
        }
        return url
    }

    private func withHTTP<T: Sendable>(_ body: (HubHTTPClient) async throws -> T) async throws -> T {
        try await HubHTTPClient.with(
            token: environment.huggingFaceToken, endpoint: environment.huggingFaceEndpoint, body)
    }
}

/// `W/"abc"` -> `abc`, as `huggingface_hub` names blobs.
func normalizeETag(_ etag: String) -> String {
    var value = Substring(etag.trimmingCharacters(in: .whitespaces))
    if value.hasPrefix("W/") { value = value.dropFirst(2) }
    return String(value).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
}
