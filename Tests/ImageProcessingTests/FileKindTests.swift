import Foundation
import ImageProcessing
import TestSupport
import Testing

/// An image path that names a FIFO or a device is refused before it is opened.
@Suite("Image paths that are not regular files")
struct ImageFileKindTests {
    @Test("a FIFO given as an image is refused, named as a FIFO")
    func fifo() throws {
        let folder = try Fixtures.temporaryDirectory("image-fifo")
        let fifo = folder.appendingPathComponent("photo.png")
        try NamedPipe.make(at: fifo)
        let message = NamedPipe.withTimeLimit(5, unblocking: fifo) { () -> String? in
            do {
                _ = try ImageDecoder.decode(contentsOf: fifo)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let outcome = try #require(message, "decoding blocked on the FIFO")
        #expect(outcome?.contains("FIFO (named pipe), not a regular file") == true, "\(outcome ?? "decoded")")
    }

    @Test("a character device given as an image is refused without reading it")
    func device() {
        #expect {
            try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "/dev/zero"))
        } throws: { error in
            "\(error)".contains("character device")
        }
    }
}
