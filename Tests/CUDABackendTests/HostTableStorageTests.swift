import Foundation
import Testing

@testable import CUDABackend

/// The embedding table the CUDA backend keeps on the host must not point into the checkpoint's mapping:
/// the shards are unmapped after loading, and a shard changed on disk must not reach a running server.
@Suite("CUDA backend host embedding table")
struct HostTableStorageTests {
    final class MappingStandIn {
        var bytes: [UInt8] = Array(0..<64)
    }

    @Test("the table is a copy: later changes to the source bytes do not show, and the source is not retained")
    func tableIsACopy() {
        weak var released: MappingStandIn?
        let storage: HostTableStorage
        do {
            let source = MappingStandIn()
            released = source
            storage = source.bytes.withUnsafeBytes { HostTableStorage(copying: $0) }
            source.bytes = [UInt8](repeating: 0xFF, count: 64)
        }
        let seen = Array(UnsafeRawBufferPointer(start: storage.base, count: storage.byteCount))
        #expect(seen == Array(0..<64))
        #expect(released == nil, "the table still holds the checkpoint (its mapping cannot be unmapped)")
    }
}
