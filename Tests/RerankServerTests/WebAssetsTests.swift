import Foundation
import Testing

@testable import RerankServer

/// The web files compiled into the binary are exactly the files of `Sources/RerankServer/Web`.
@Suite("Embedded web files")
struct WebAssetsTests {
    static let webFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/RerankServer/Web")

    @Test("every file of Web/ is embedded with the same bytes (run `make web-assets` if not)")
    func embeddedMatchesFolder() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.webFolder.path).sorted()
        #expect(WebAssets.names == names, "embedded \(WebAssets.names), folder \(names): run make web-assets")
        let assets = try WebAssets.load()
        for name in names {
            let onDisk = try [UInt8](Data(contentsOf: Self.webFolder.appendingPathComponent(name)))
            #expect(assets.bytes(of: name) == onDisk, "\(name) differs from Web/\(name): run make web-assets")
        }
    }
}
