import Crypto
import Foundation

/// A repository the fake hub serves: files in memory, the large ones stored as LFS objects.
struct FakeRepository: Sendable {
    var id: String
    var commit: String
    var files: [String: Data]
    /// Files served through a redirect to the CDN path, like LFS objects on the Hub.
    var lfsFiles: Set<String>
    /// When set, every Hub request must carry `Authorization: Bearer <token>`.
    var requiredToken: String?

    init(
        id: String, commit: String = "0123456789abcdef0123456789abcdef01234567", files: [String: Data],
        requiredToken: String? = nil
    ) {
        self.id = id
        self.commit = commit
        self.files = files
        self.lfsFiles = Set(
            files.keys.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".onnx") })
        self.requiredToken = requiredToken
    }

    /// The tiny fixture checkpoint plus files the downloader must skip.
    static func tinyCheckpoint(id: String = "test-org/tiny", requiredToken: String? = nil) throws -> FakeRepository {
        let folder = fixtureCheckpoint
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        files["pytorch_model.bin"] = Data(repeating: 7, count: 3000)
        files["onnx/model.onnx"] = Data(repeating: 9, count: 2000)
        files["README.md"] = Data("# tiny\n".utf8)
        files[".gitattributes"] = Data("*.safetensors filter=lfs\n".utf8)
        return FakeRepository(id: id, files: files, requiredToken: requiredToken)
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    static func gitBlobID(_ data: Data) -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: Data("blob \(data.count)\0".utf8))
        hasher.update(data: data)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The blob name `huggingface_hub` gives a file: sha256 for LFS objects, git blob id otherwise.
    func etag(_ path: String) -> String? {
        guard let data = files[path] else { return nil }
        return lfsFiles.contains(path) ? Self.sha256(data) : Self.gitBlobID(data)
    }
}
