import Foundation
import Testing

@testable import CUDABackend

@Suite("Op profile (no GPU needed)")
struct OpProfileTests {
    @Test("an inactive profile books nothing; an active one books calls per key, the most expensive first")
    func booksPerKey() {
        let profile = OpProfile()
        #expect(!profile.active)
        profile.reset(active: true)
        profile.point("first")
        Thread.sleep(forTimeInterval: 0.02)
        profile.point("slow")
        profile.point("first")
        let lines = profile.table().split(separator: "\n").map(String.init)
        #expect(lines.count == 5)  // header, two keys, sum, host
        #expect(lines[1].hasPrefix("slow"))
        #expect(lines[2].hasPrefix("first"))
        #expect(lines[2].contains(" 2 "))  // two calls
        profile.reset(active: false)
        #expect(!profile.active)
        #expect(profile.table().split(separator: "\n").count == 3)
    }

    @Test("host time before an op is booked as its own row and summed on the last line")
    func hostGaps() throws {
        let profile = OpProfile()
        profile.reset(active: true)
        Thread.sleep(forTimeInterval: 0.02)
        profile.hostGap()
        profile.point("linear")
        let lines = profile.table().split(separator: "\n").map(String.init)
        #expect(lines[1].hasPrefix("host before linear"))
        #expect(lines.contains { $0.hasPrefix("linear") })
        let host = try #require(lines.last?.split(separator: " ").last.flatMap { Double($0) })
        #expect(host >= 15)
    }

    @Test("attention profile rows bucket the longest sequence to a power of two")
    func lengthBuckets() {
        #expect(AttentionTiling.lengthBucket([0, 64, 100]) == 64)
        #expect(AttentionTiling.lengthBucket([0, 1944]) == 2048)
        #expect(AttentionTiling.lengthBucket([0, 3, 3]) == 4)
        #expect(AttentionTiling.lengthBucket([0]) == 1)
    }
}
