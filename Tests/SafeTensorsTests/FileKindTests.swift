import Foundation
import SafeTensors
import TestSupport
import Testing

/// Shards and indexes that are not regular files are refused before they are opened (a FIFO used to block
/// `inspect`, `rerank` and `serve` forever), and `.readIntoMemory` shards survive changes on disk.
@Suite("Checkpoint files: non-regular files and weights read into memory")
struct FileKindTests {
    static let sharded = Fixtures.url("checkpoints/tiny-untied-legacy")

    /// The error opening `open()` gives within a few seconds; fails the test when it blocks.
    static func openingError(fifo: URL, _ open: @escaping @Sendable () throws -> Void) -> String? {
        let outcome = NamedPipe.withTimeLimit(5, unblocking: fifo) { () -> String? in
            do {
                try open()
                return nil
            } catch {
                return "\(error)"
            }
        }
        guard let outcome else {
            Issue.record("opening \(fifo.lastPathComponent) blocked on the FIFO")
            return nil
        }
        return outcome
    }

    @Test("a shard that is a FIFO is refused at once, named as a FIFO")
    func fifoShard() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let shard = folder.appendingPathComponent("model-00002-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        try NamedPipe.make(at: shard)
        let message = Self.openingError(fifo: shard) { _ = try Checkpoint(directory: folder) }
        #expect(message?.contains("model-00002-of-00002.safetensors") == true)
        #expect(message?.contains("FIFO") == true, "\(message ?? "")")
    }

    @Test("an index that is a FIFO, and a single-file checkpoint that is a directory, are refused")
    func fifoIndexAndDirectoryFile() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let index = folder.appendingPathComponent(ShardIndex.fileName)
        try FileManager.default.removeItem(at: index)
        try NamedPipe.make(at: index)
        let message = Self.openingError(fifo: index) { _ = try Checkpoint(directory: folder) }
        #expect(message?.contains("FIFO") == true, "\(message ?? "")")

        let single = try Fixtures.temporaryDirectory("directory-as-file")
        try FileManager.default.createDirectory(
            at: single.appendingPathComponent(Checkpoint.singleFileName), withIntermediateDirectories: false)
        #expect {
            try Checkpoint(directory: single)
        } throws: { error in
            "\(error)".contains("is a directory, not a regular file")
        }
    }

    @Test("a character device given as a shard is refused without reading it")
    func deviceFile() {
        #expect {
            try SafeTensorFile(url: URL(fileURLWithPath: "/dev/zero"))
        } throws: { error in
            "\(error)".contains("character device")
        }
    }

    @Test("weights read into memory stay valid after the shard is truncated on disk")
    func readIntoMemorySurvivesTruncation() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let checkpoint = try Checkpoint(directory: folder, loading: .readIntoMemory)
        let name = "model.layers.2.mlp.down_proj.weight"
        let before = try checkpoint.floats(name)
        let shard = try #require(checkpoint.file(containing: name)).url
        #expect(truncate(shard.path, 8) == 0)
        let after = try checkpoint.floats(name)
        #expect(after == before)
        #expect(checkpoint.loading == .readIntoMemory)
    }
}
