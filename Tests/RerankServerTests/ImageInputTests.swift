import Foundation
import Testing

@testable import RerankServer

@Suite("Image inputs: base64 and data: URLs")
struct ImageInputTests {
    let resolver = ImageInputResolver(fetcher: nil)
    /// Bytes of every value, so that each base64 alphabet character shows up.
    let bytes = Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) })

    @Test("bare base64, a data: URL and line-wrapped base64 give the same bytes")
    func forms() async throws {
        let plain = bytes.base64EncodedString()
        let wrapped = bytes.base64EncodedString(options: [
            .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
        ])
        #expect(wrapped.contains("\r\n"))
        for text in [
            plain, "data:image/png;base64," + plain, wrapped, " \t" + wrapped + "\n",
            "DATA:image/png;BASE64," + wrapped,
        ] {
            #expect(try await resolver.bytes(of: text, field: "query") == bytes)
        }
    }

    @Test("what is not base64 is refused with the field's name")
    func refused() async throws {
        for text in [
            "@@@", "   ", "data:image/png;base64,", "data:image/png;base64,a b",
            "\u{00A0}" + bytes.base64EncodedString(),
        ] {
            await #expect(throws: APIError.self) { try await resolver.bytes(of: text, field: "documents[2]") }
        }
        do {
            _ = try await resolver.bytes(of: "@@@", field: "documents[2]")
        } catch let error as APIError {
            #expect("\(error)".contains("documents[2].image is not valid base64"))
        }
    }
}
