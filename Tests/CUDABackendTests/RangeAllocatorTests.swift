import Testing

@testable import CUDABackend

@Suite("Device range allocator (no GPU needed)")
struct RangeAllocatorTests {
    @Test("ranges are aligned, never overlap, and best fit picks the smallest free range that holds a request")
    func bestFitAndAlignment() throws {
        var allocator = RangeAllocator()
        allocator.addSegment(base: 0x10000, size: 1 << 20)
        let a = try allocator.take(1000)
        let b = try allocator.take(100_000)
        let c = try allocator.take(3000)
        #expect(a == 0x10000)
        #expect(b == a + 1024)
        #expect([a, b, c].allSatisfy { $0 % UInt64(RangeAllocator.alignment) == 0 })
        #expect(allocator.liveBytes == 1024 + RangeAllocator.rounded(100_000) + 3072)
        // Free the 1 KiB hole at the start: a small request goes there, not into the large tail.
        allocator.free(a)
        let d = try allocator.take(500)
        #expect(d == a)
    }

    @Test("freed neighbours merge, so a segment emptied in any order serves one request of its full size")
    func mergesNeighbours() throws {
        var allocator = RangeAllocator()
        allocator.addSegment(base: 0, size: 4096)
        let blocks = try (0..<16).map { _ in try allocator.take(256) }
        let overflow = allocator.allocate(1)
        #expect(overflow == nil)
        for index in [3, 1, 2, 0, 15, 8, 9, 11, 10, 4, 6, 5, 7, 13, 12, 14] {
            let freed = allocator.free(blocks[index])
            #expect(freed == 256)
        }
        #expect(allocator.liveBytes == 0)
        #expect(allocator.largestFreeRange == 4096)
        let whole = allocator.allocate(4096)
        #expect(whole == 0)
    }

    @Test("requests larger than any free range fail; empty segments are handed back, live ones kept")
    func emptySegments() throws {
        var allocator = RangeAllocator()
        allocator.addSegment(base: 0x1000_0000, size: 8192)
        allocator.addSegment(base: 0x2000_0000, size: 8192)
        let kept = try allocator.take(8000)
        let dropped = try allocator.take(8000)
        #expect(Set([kept, dropped]) == [0x1000_0000, 0x2000_0000])
        let tooBig = allocator.allocate(300)
        #expect(tooBig == nil)
        allocator.free(dropped)
        let secondFree = allocator.free(dropped)
        #expect(secondFree == nil)  // a second free of the same address is ignored
        let removed = allocator.removeEmptySegments()
        #expect(removed.map(\.base) == [dropped])
        #expect(allocator.segmentBytes == 8192)
        let stillTooBig = allocator.allocate(300)
        #expect(stillTooBig == nil)
    }

    @Test("a random workload of allocations and frees keeps every live range disjoint and inside its segment")
    func randomWorkload() {
        var allocator = RangeAllocator()
        let segments: [(UInt64, Int)] = [(1 << 32, 1 << 20), (2 << 32, 3 << 20), (3 << 32, 64 << 10)]
        for (base, size) in segments { allocator.addSegment(base: base, size: size) }
        var live: [(address: UInt64, length: Int)] = []
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for _ in 0..<5000 {
            if live.isEmpty || next() % 3 != 0 {
                let bytes = 1 + next() % (next() % 4 == 0 ? 400_000 : 5000)
                if let address = allocator.allocate(bytes) { live.append((address, RangeAllocator.rounded(bytes))) }
            } else {
                let index = next() % live.count
                let freed = allocator.free(live[index].address)
                #expect(freed == live[index].length)
                live.remove(at: index)
            }
        }
        #expect(allocator.liveBytes == live.reduce(0) { $0 + $1.length })
        let sorted = live.sorted { $0.address < $1.address }
        for (left, right) in zip(sorted, sorted.dropFirst()) {
            #expect(left.address + UInt64(left.length) <= right.address)
        }
        for block in live {
            #expect(
                segments.contains {
                    block.address >= $0.0 && block.address + UInt64(block.length) <= $0.0 + UInt64($0.1)
                })
        }
        for block in live { allocator.free(block.address) }
        #expect(allocator.largestFreeRange == 3 << 20)
    }
}

@Suite("Upload staging ring (no GPU needed)")
struct StagingRingTests {
    @Test("regions follow each other, wrap to the start once the oldest copies are retired, and never overlap")
    func wrapsAroundRetiredRegions() {
        var ring = StagingRing(capacity: 1000)
        #expect(ring.reserve(400) == .fits(offset: 0))
        ring.commit(offset: 0, length: 400, token: 1)
        #expect(ring.reserve(400) == .fits(offset: 400))
        ring.commit(offset: 400, length: 400, token: 2)
        // 200 bytes left at the end, nothing free at the start until copy 1 finishes.
        #expect(ring.reserve(300) == .waitFor(token: 1))
        let retired = ring.retireOldest()
        #expect(retired == 1)
        #expect(ring.reserve(300) == .fits(offset: 0))
        ring.commit(offset: 0, length: 300, token: 3)
        // Wrapped: free space is [300, 400) only.
        #expect(ring.reserve(100) == .fits(offset: 300))
        #expect(ring.reserve(101) == .waitFor(token: 2))
        ring.commit(offset: 300, length: 100, token: 4)
        #expect(ring.reserve(1) == .waitFor(token: 2))  // full
        let retiredAgain = ring.retireOldest()
        #expect(retiredAgain == 2)
        #expect(ring.reserve(600) == .fits(offset: 400))
        #expect(ring.reserve(1001) == .tooLarge)
    }

    @Test("when every copy has finished the ring starts again at offset 0")
    func resetsWhenIdle() {
        var ring = StagingRing(capacity: 100)
        ring.commit(offset: 0, length: 60, token: 7)
        #expect(ring.inFlightCount == 1)
        ring.retireOldest()
        #expect(ring.inFlightCount == 0)
        #expect(ring.reserve(100) == .fits(offset: 0))
    }

    @Test("a long random sequence of uploads never hands out bytes that are still in flight")
    func randomSequence() {
        var ring = StagingRing(capacity: 4096)
        var inFlight: [(token: Int, range: Range<Int>)] = []
        var state: UInt64 = 12345
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        for token in 0..<3000 {
            let length = 1 + next() % 1500
            while true {
                switch ring.reserve(length) {
                case .fits(let offset):
                    let range = offset..<(offset + length)
                    #expect(range.upperBound <= 4096)
                    #expect(!inFlight.contains { $0.range.overlaps(range) })
                    ring.commit(offset: offset, length: length, token: token)
                    inFlight.append((token, range))
                case .waitFor(let oldest):
                    #expect(oldest == inFlight.first?.token)
                    ring.retireOldest()
                    inFlight.removeFirst()
                    continue
                case .tooLarge:
                    Issue.record("\(length) bytes fit a 4096-byte ring")
                }
                break
            }
            if next() % 4 == 0, !inFlight.isEmpty {  // some copies finish on their own
                ring.retireOldest()
                inFlight.removeFirst()
            }
        }
    }
}

extension RangeAllocator {
    /// ``allocate(_:)`` that fails the test when nothing fits (a mutating call cannot sit inside `#require`).
    mutating func take(_ bytes: Int) throws -> UInt64 {
        let address = allocate(bytes)
        return try #require(address)
    }
}
