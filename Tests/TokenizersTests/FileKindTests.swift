import Foundation
import TestSupport
import Testing
import Tokenizers

/// A tokenizer.json that is a FIFO or a directory is refused at once instead of blocking the loader.
@Suite("Tokenizer files that are not regular files")
struct TokenizerFileKindTests {
    @Test("a FIFO named tokenizer.json is refused, named as a FIFO")
    func fifo() throws {
        let folder = try Fixtures.temporaryDirectory("tokenizer-fifo")
        let fifo = folder.appendingPathComponent("tokenizer.json")
        try NamedPipe.make(at: fifo)
        let message = NamedPipe.withTimeLimit(5, unblocking: fifo) { () -> String? in
            do {
                _ = try Tokenizer(contentsOf: folder)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let outcome = try #require(message, "loading the tokenizer blocked on the FIFO")
        #expect(outcome?.contains("FIFO (named pipe), not a regular file") == true, "\(outcome ?? "loaded")")
    }
}
