import Foundation

/// Opt-in per-op timing for finding where a workload's time goes (``CUDABackend/profiling``).
///
/// While active, every op waits for the device when it starts and when it ends, so the time between
/// two ops (host work while the device idles) and each op's own time are measured apart. This slows
/// the work down; use it on a separate pass, not on the timed one.
final class OpProfile: @unchecked Sendable {
    private let lock = NSLock()
    private var totals = [String: (seconds: Double, calls: Int)]()
    private var mark: UInt64 = DispatchTime.now().uptimeNanoseconds
    /// Host time since the last op ended, booked with the op that follows it.
    private var pendingHostSeconds: Double?
    private(set) var active = false

    /// Clears the totals and starts (or stops) measuring, the first interval starting `at` (nanoseconds).
    func reset(active: Bool, at start: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        lock.withLock {
            totals = [:]
            pendingHostSeconds = nil
            self.active = active
            mark = start
        }
    }

    /// Adds the time since the last point to `key` and starts the next interval; host time noted by
    /// ``hostGap(at:)`` before it goes to "host before `key`", so the table shows which ops wait for the host.
    /// - Parameter now: nanoseconds on the clock of ``reset(active:at:)`` (the host's uptime by default).
    func point(_ key: String, at now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        lock.withLock {
            book(key, Double(now &- mark) / 1e9)
            if let host = pendingHostSeconds { book("host before " + key, host) }
            pendingHostSeconds = nil
            mark = now
        }
    }

    /// Notes the time since the last point as host work (the device idle) and starts the op's interval.
    func hostGap(at now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        lock.withLock {
            pendingHostSeconds = (pendingHostSeconds ?? 0) + Double(now &- mark) / 1e9
            mark = now
        }
    }

    private func book(_ key: String, _ seconds: Double) {
        let old = totals[key] ?? (0, 0)
        totals[key] = (old.seconds + seconds, old.calls + 1)
    }

    /// One line per key, the most expensive first: total ms, calls, ms per call, share of the total.
    func table() -> String {
        let rows = lock.withLock { totals.sorted { $0.value.seconds > $1.value.seconds } }
        let sum = rows.map(\.value.seconds).reduce(0, +)
        var lines = [
            String(
                format: "%-44@ %10@ %7@ %9@ %6@", "op" as NSString, "total ms" as NSString,
                "calls" as NSString, "ms/call" as NSString, "share" as NSString)
        ]
        for (key, value) in rows {
            lines.append(
                String(
                    format: "%-44@ %10.2f %7d %9.3f %5.1f%%", key as NSString, value.seconds * 1e3, value.calls,
                    value.seconds * 1e3 / Double(max(1, value.calls)), sum > 0 ? 100 * value.seconds / sum : 0))
        }
        let host = rows.filter { $0.key.hasPrefix("host before ") }.map(\.value.seconds).reduce(0, +)
        lines.append(String(format: "%-44@ %10.2f", "sum" as NSString, sum * 1e3))
        lines.append(String(format: "%-44@ %10.2f", "of which host (device idle)" as NSString, host * 1e3))
        return lines.joined(separator: "\n")
    }
}
