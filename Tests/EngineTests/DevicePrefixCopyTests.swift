import CPUBackend
import Foundation
import Qwen25VL
import Synchronization
import TensorKit
import TestSupport
import Testing

@testable import Reranker

/// Cached prompt prefixes kept on the device between passes (``DevicePrefixCopies``): used again without an
/// upload, the same scores, bounded, and given up when a pass runs out of device memory.
@Suite("Device copies of cached prefixes")
struct DevicePrefixCopyTests {
    static func load(prefixCopyBytes: Int, backend: any Backend = CPUBackend()) throws -> Reranker {
        var options = RerankerOptions(tokenBudget: 4096, prefixCacheBytes: 256 << 20)
        options.devicePrefixCopyBytes = prefixCopyBytes
        return try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: backend, options: options)
    }

    static func page(_ page: Int, imageQuery: Bool) -> (query: RerankItem, documents: [RerankItem]) {
        let query =
            imageQuery
            ? RerankItem(text: "page \(page) words", image: ServingEngineTests.image("photo-a.png"))
            : RerankItem(text: "the same long query about red bicycles and their wheels")
        // Documents that differ from their first word: the shared prefix ends with the query on every page.
        return (query, ["alpha", "beta", "gamma"].map { RerankItem(text: "\($0) document of page \(page)") })
    }

    @Test(
        "a prefix kept on the device is attended to without an upload, with the same scores", arguments: [true, false])
    func keptPrefixesAreExact(imageQuery: Bool) throws {
        let uploading = try Self.load(prefixCopyBytes: 0)
        let keeping = try Self.load(prefixCopyBytes: 64 << 20)
        for page in 0..<4 {
            let (query, documents) = Self.page(page, imageQuery: imageQuery)
            let reference = try uploading.score(query: query, documents: documents)
            let results = try keeping.score(query: query, documents: documents)
            // The kept rows are the rows an upload would bring: the same scores to the bit.
            #expect(results.map(\.logit) == reference.map(\.logit), "page \(page)")
        }
        // Seen on page 0, captured on page 1 (kept as computed), attended to from the device on pages 2 and 3.
        let kept = keeping.prefixCopies.snapshot()
        #expect(kept.uploads == 0)
        #expect(kept.hits >= 2)
        #expect(kept.entries == 1 && kept.bytes > 0 && kept.bytes <= 64 << 20)
        // Without copies every use uploads the prefix from the host cache.
        #expect(uploading.prefixCopies.snapshot().hits == 0)
        #expect(uploading.prefixCache.snapshot().hits >= 2)
    }

    @Test("the copies keep the most recently used prefixes within their capacity")
    func leastRecentlyUsedOut() throws {
        let backend = CPUBackend()
        let prefixes = (0..<4).map { _ in
            PrefixKV(rows: 2, layers: 1, values: HostRows([Float](repeating: 0, count: 8)))
        }
        let tensors = try (0..<4).map { try backend.upload([Float](repeating: Float($0), count: 8), shape: [4, 2]) }
        let copies = DevicePrefixCopies(capacityBytes: 3 * tensors[0].byteCount)
        for index in 0..<3 { copies.keep(tensors[index], for: prefixes[index]) }
        #expect(copies.tensor(for: prefixes[0]) != nil)  // now the most recently used
        copies.keep(tensors[3], for: prefixes[3])
        #expect(copies.tensor(for: prefixes[1]) == nil)  // the least recently used went
        #expect(try copies.tensor(for: prefixes[0]).map { try backend.download($0) } == [Float](repeating: 0, count: 8))
        #expect(try copies.tensor(for: prefixes[3]).map { try backend.download($0) } == [Float](repeating: 3, count: 8))
        var statistics = copies.snapshot()
        #expect(statistics.entries == 3 && statistics.bytes == 3 * tensors[0].byteCount)
        #expect(statistics.hits == 3 && statistics.uploads == 1)
        // Another prefix object is another prefix, whatever it holds.
        #expect(copies.tensor(for: PrefixKV(rows: 2, layers: 1, values: prefixes[0].values)) == nil)
        // Larger than the whole capacity: not kept, nothing evicted.
        let large = try backend.upload([Float](repeating: 9, count: 64), shape: [32, 2])
        copies.keep(large, for: prefixes[1])
        #expect(copies.snapshot().entries == 3)
        // Out of device memory: every copy dropped, and room for half of what they held from then on.
        #expect(copies.giveUpAfterRunningOutOfMemory())
        statistics = copies.snapshot()
        #expect(statistics.entries == 0 && statistics.bytes == 0)
        #expect(
            statistics.capacityBytes == 3 * tensors[0].byteCount / 2 && copies.capacityBytes == statistics.capacityBytes
        )
        #expect(!copies.giveUpAfterRunningOutOfMemory())
        #expect(copies.capacityBytes == 3 * tensors[0].byteCount / 2)
        copies.keep(tensors[0], for: prefixes[0])
        copies.keep(tensors[1], for: prefixes[1])
        #expect(copies.snapshot().entries == 1)
    }

    @Test("the copy of a prefix the host cache let go keeps no host memory and is dropped at the next keep")
    func releasedPrefixesAreDropped() throws {
        let backend = CPUBackend()
        let tensor = try backend.upload([Float](repeating: 1, count: 8), shape: [4, 2])
        let copies = DevicePrefixCopies(capacityBytes: 1 << 20)
        weak var released: PrefixKV?
        do {
            let kv = PrefixKV(rows: 2, layers: 1, values: HostRows([Float](repeating: 0, count: 8)))
            released = kv
            copies.keep(tensor, for: kv)
            #expect(copies.snapshot().entries == 1)
        }
        #expect(released == nil)  // the copies did not keep it alive
        let kept = PrefixKV(rows: 2, layers: 1, values: HostRows([Float](repeating: 0, count: 8)))
        copies.keep(tensor, for: kept)
        let statistics = copies.snapshot()
        #expect(statistics.entries == 1 && statistics.bytes == tensor.byteCount)
        #expect(copies.tensor(for: kept) != nil)
    }

    @Test("a pass that runs out of device memory gives up the copies and runs again")
    func outOfMemoryDropsCopies() throws {
        let switchboard = OutOfMemoryOnce()
        let reranker = try Self.load(prefixCopyBytes: 64 << 20, backend: switchboard.backend)
        let reference = try Self.load(prefixCopyBytes: 0)
        let (query, documents) = Self.page(0, imageQuery: false)
        for _ in 0..<2 { _ = try reranker.score(query: query, documents: documents) }
        let held = reranker.prefixCopies.snapshot().bytes
        #expect(reranker.prefixCopies.snapshot().entries == 1 && held > 0)
        // The pass fails once, then runs again whole, without the copies (not in halves: two passes whose
        // documents would each attend to the prefix alone, without the cache).
        switchboard.failNextAttention()
        let results = try reranker.score(query: query, documents: Array(documents.prefix(2)))
        let want = try reference.score(query: query, documents: Array(documents.prefix(2)))
        for (got, expected) in zip(results, want) { #expect(abs(got.logit - expected.logit) < 1e-4) }
        #expect(switchboard.failures == 1)
        // The pass that ran again uploaded the prefix (the copies had been dropped); the capacity is now half of
        // what they held, too little for that one prefix: it is not kept again, so no later pass fails for it.
        let kept = reranker.prefixCopies.snapshot()
        #expect(kept.uploads == 1 && kept.entries == 0)
        #expect(kept.capacityBytes == held / 2)
    }
}

struct SimulatedOutOfMemory: DeviceMemoryError {
    var isOutOfDeviceMemory: Bool { true }
}

/// A switch that fails the next attention of a ``HookedCPUBackend`` as out of device memory.
final class OutOfMemoryOnce: Sendable {
    private let armed = Atomic<Bool>(false)
    private let failed = Atomic<Int>(0)

    func failNextAttention() { armed.store(true, ordering: .relaxed) }
    var failures: Int { failed.load(ordering: .relaxed) }

    var backend: HookedCPUBackend {
        HookedCPUBackend(beforeAttention: { [self] in
            guard armed.exchange(false, ordering: .relaxed) else { return }
            failed.add(1, ordering: .relaxed)
            throw SimulatedOutOfMemory()
        })
    }
}

@Suite("Device copies of cached prefixes, several engines")
struct DevicePrefixCopyReplicaTests {
    @Test("a replica keeps its own copies, of its own size, and shares the host cache")
    func replicasKeepTheirOwnCopies() throws {
        let first = try DevicePrefixCopyTests.load(prefixCopyBytes: 64 << 20)
        let second = try first.replica(on: first.model, devicePrefixCopyBytes: 32 << 20)
        #expect(second.prefixCopies !== first.prefixCopies)
        #expect(second.prefixCopies.capacityBytes == 32 << 20)
        #expect(second.prefixCache === first.prefixCache)
        #expect(try first.replica(on: first.model).prefixCopies.capacityBytes == 64 << 20)
        // Seen and captured on the first engine; the second finds it in the shared host cache, uploads it once and
        // keeps the upload.
        let (query, documents) = DevicePrefixCopyTests.page(0, imageQuery: true)
        for _ in 0..<2 { _ = try first.score(query: query, documents: documents) }
        for _ in 0..<2 { _ = try second.score(query: query, documents: documents) }
        #expect(first.prefixCopies.snapshot().uploads == 0)
        let kept = second.prefixCopies.snapshot()
        #expect(kept.uploads == 1 && kept.hits == 1 && kept.entries == 1)
    }

    @Test("without a host prefix cache nothing is kept on the device")
    func noHostCacheNoCopies() throws {
        var options = RerankerOptions(tokenBudget: 4096)
        options.devicePrefixCopyBytes = 64 << 20
        let reranker = try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: CPUBackend(), options: options)
        #expect(reranker.prefixCopies.capacityBytes == 0)
    }
}
