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

    @Test("a timeline's events book each op from its start to its end, and the device's idle time before it")
    func timelineReplay() throws {
        // Milliseconds: the pass starts at 0; the first op starts at 3 (the host prepared it) and ends at 5; the
        // second is queued behind it (starts at 5) and ends at 9; the device idles until 10, where a third op
        // starts, ends a part at 11 and the rest at 12.
        let labels: [String?] = ["", nil, "embedding", nil, "linear", nil, "patchify (copy)", "patchify (kernel)"]
        let times: [UInt64] = [0, 3, 5, 5, 9, 10, 11, 12].map { $0 * 1_000_000 }
        let lines = OpTimeline.replay(labels, times: times).table().split(separator: "\n").map(String.init)
        func milliseconds(_ key: String) throws -> Double {
            let line = try #require(lines.first { $0.hasPrefix(key + " ") })
            return try #require(
                line.split(separator: " ").dropFirst(key.split(separator: " ").count).first.flatMap {
                    Double($0)
                })
        }
        #expect(try milliseconds("linear") == 4)
        #expect(try milliseconds("embedding") == 2)
        #expect(try milliseconds("host before embedding") == 3)
        #expect(try milliseconds("host before patchify (copy)") == 1)
        #expect(try milliseconds("patchify (kernel)") == 1)
        #expect(try milliseconds("host before linear") == 0)  // queued behind the embedding: never idle
        let idle = try #require(lines.last?.split(separator: " ").last.flatMap { Double($0) })
        #expect(idle == 4)
    }

    @Test("attention profile rows bucket the longest sequence to a power of two")
    func lengthBuckets() {
        #expect(AttentionTiling.lengthBucket([0, 64, 100]) == 64)
        #expect(AttentionTiling.lengthBucket([0, 1944]) == 2048)
        #expect(AttentionTiling.lengthBucket([0, 3, 3]) == 4)
        #expect(AttentionTiling.lengthBucket([0]) == 1)
    }
}
