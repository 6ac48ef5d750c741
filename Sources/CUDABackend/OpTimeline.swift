import CCUDA
import Foundation

/// Opt-in timing of an ordinary, unsynchronised pass from the device's side (``CUDABackend/timeline``).
///
/// Where ``OpProfile`` waits for the device around every op (exact op times, but a pass with no queue), this
/// only records an event on the stream where each op starts and where it (or a part of it) ends; nothing
/// waits. Afterwards the events' device times, replayed through an ``OpProfile``, give each op's time as the
/// device ran it (queued behind its predecessor, so it includes no launch gap) and, as "host before OP", the
/// time the device sat idle before it: the host work the real pass makes the device wait for.
final class OpTimeline: @unchecked Sendable {
    /// One event: where an op starts (no label) or where the op `label` (or part of it) ends.
    private struct Mark {
        let event: CUevent?
        let label: String?
    }

    /// Events recorded per pass at most (about 10 per decoder layer); later ones are not recorded.
    static let capacity = 40_000

    private let lock = NSLock()
    private var marks: [Mark] = []
    /// Events of earlier passes, reused.
    private var spare: [CUevent?] = []
    private(set) var active = false
    /// Marks past ``capacity`` that were not recorded.
    private var dropped = 0

    /// Drops the recorded marks and starts (or stops) recording; a start records the pass's first event, from
    /// which the device idles until the first op (the host preparing it).
    func reset(active: Bool, driver: CUDADriver) {
        lock.withLock {
            spare += marks.map(\.event)
            marks = []
            dropped = 0
            self.active = active
        }
        if active { record(label: "", driver: driver) }
    }

    /// Records an event on the stream: an op starts (`label` nil) or the op `label` ends.
    func record(label: String?, driver: CUDADriver) {
        lock.withLock {
            guard marks.count < Self.capacity else {
                dropped += 1
                return
            }
            var event = spare.popLast() ?? nil
            if event == nil, driver.cuEventCreate(&event, 0) != 0 { event = nil }
            guard let event, driver.cuEventRecord(event, nil) == 0 else {
                dropped += 1
                return
            }
            marks.append(Mark(event: event, label: label))
        }
    }

    /// Waits for the last event and returns the table of ``OpProfile/table()``: op times as the device ran them,
    /// "host before OP" the device's idle time before each kind of op, and the whole span.
    func table(driver: CUDADriver) throws -> String {
        let recorded = lock.withLock { marks }
        guard let first = recorded.first, let last = recorded.last else { return "(no ops recorded)" }
        try driver.check(driver.cuEventSynchronize(last.event), "timeline (cuEventSynchronize)")
        var nanoseconds = [UInt64]()
        for mark in recorded {
            var milliseconds: Float = 0
            try driver.check(driver.cuEventElapsedTime(&milliseconds, first.event, mark.event), "cuEventElapsedTime")
            nanoseconds.append(UInt64(max(0, Double(milliseconds) * 1e6)))
        }
        let profile = Self.replay(recorded.map(\.label), times: nanoseconds)
        let span = Double(nanoseconds.last ?? 0) / 1e6
        let dropped = lock.withLock { self.dropped }
        let note = dropped > 0 ? " (\(dropped) marks past the capacity dropped)" : ""
        return profile.table() + String(format: "\n%-44@ %10.2f", "device span (first event to last)" as NSString, span)
            + note
    }

    /// An ``OpProfile`` fed the marks in order: a start (nil) books the time since the last mark as the device's
    /// idle time before the next op, an end books it to its op. The first mark (the pass's start) only starts.
    static func replay(_ labels: [String?], times: [UInt64]) -> OpProfile {
        let profile = OpProfile()
        profile.reset(active: true, at: times.first ?? 0)
        for (label, time) in zip(labels, times).dropFirst() {
            if let label { profile.point(label, at: time) } else { profile.hostGap(at: time) }
        }
        return profile
    }
}
