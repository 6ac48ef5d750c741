import Foundation

/// The Hugging Face cache of one model, laid out as `huggingface_hub` writes it:
///
/// ```
/// <HF_HUB_CACHE>/models--org--name/
///   blobs/<etag>                    file contents, named by git blob id or sha256
///   blobs/<etag>.incomplete         a partial download, resumed with a Range request
///   refs/<revision>                 the commit hash a branch or tag pointed to (no newline)
///   snapshots/<commit>/<file>       relative symlink to ../../blobs/<etag>
/// ```
public struct HuggingFaceCache: Sendable {
    /// `<HF_HUB_CACHE>/models--org--name`.
    public let repositoryFolder: URL

    public init(root: URL, model: ModelID) {
        let folder = (["models"] + [model.owner, model.name].compactMap { $0 }).joined(separator: "--")
        repositoryFolder = root.appendingPathComponent(folder, isDirectory: true)
    }

    public var blobsFolder: URL { repositoryFolder.appendingPathComponent("blobs", isDirectory: true) }

    public func blob(etag: String) -> URL { blobsFolder.appendingPathComponent(etag) }

    public func incompleteBlob(etag: String) -> URL { blobsFolder.appendingPathComponent(etag + ".incomplete") }

    public func snapshotFolder(commit: String) -> URL {
        repositoryFolder.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(
            commit, isDirectory: true)
    }

    /// The ref file of a branch or tag (`refs/main`, `refs/pr/1`).
    public func refFile(revision: String) -> URL {
        repositoryFolder.appendingPathComponent("refs", isDirectory: true).appendingPathComponent(revision)
    }

    /// The commit a revision stands for in this cache: the revision itself when it is a full commit hash,
    /// else the content of its ref file.
    public func cachedCommit(revision: String) -> String? {
        if isCommitHash(revision) { return revision }
        guard let text = try? String(contentsOf: refFile(revision: revision), encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return isCommitHash(commit) ? commit : nil
    }

    /// Records that `revision` points at `commit` (skipped when the revision is the commit); written
    /// through a temporary file and a rename so readers never see half a hash.
    public func writeRef(revision: String, commit: String) throws {
        guard revision != commit else { return }
        let file = refFile(revision: revision)
        if (try? String(contentsOf: file, encoding: .utf8)) == commit { return }
        try createDirectory(file.deletingLastPathComponent())
        let temporary = file.deletingLastPathComponent().appendingPathComponent(
            ".\(file.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(commit.utf8).write(to: temporary)
            guard rename(temporary.path, file.path) == 0 else {
                throw ModelHubError.fileSystem(path: file.path, reason: String(cString: strerror(errno)))
            }
        } catch let error as ModelHubError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ModelHubError.fileSystem(path: file.path, reason: "\(error)")
        }
    }

    /// Points `snapshots/<commit>/<path>` at `blobs/<etag>` with a relative symlink, replacing what was there.
    public func linkSnapshotFile(commit: String, path: String, etag: String) throws {
        let link = snapshotFolder(commit: commit).appendingPathComponent(path)
        try createDirectory(link.deletingLastPathComponent())
        let depth = path.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        let fileManager = FileManager.default
        if let existing = try? fileManager.destinationOfSymbolicLink(atPath: link.path), existing == target { return }
        try? fileManager.removeItem(at: link)
        do {
            try fileManager.createSymbolicLink(atPath: link.path, withDestinationPath: target)
        } catch {
            throw ModelHubError.fileSystem(path: link.path, reason: "cannot create symlink: \(error)")
        }
    }
}

/// `mkdir -p`, with the project's error.
func createDirectory(_ url: URL) throws {
    do {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
        throw ModelHubError.fileSystem(path: url.path, reason: "\(error)")
    }
}
