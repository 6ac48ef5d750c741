import Foundation
import NIOConcurrencyHelpers

/// Receives what a download is doing; implementations must be thread-safe (files arrive in parallel).
public protocol DownloadProgressReporting: Sendable {
    /// The plan: `files` files, `totalBytes` in all, `presentBytes` of them already on disk.
    func planned(files: Int, totalBytes: Int64, presentBytes: Int64)
    /// `count` new bytes arrived.
    func received(bytes count: Int)
    /// `count` bytes were thrown away (a corrupt file being fetched again).
    func discarded(bytes count: Int64)
    /// One file is complete and checked.
    func finished(file: String)
    /// Something worth telling the user (a retry, a resume).
    func note(_ message: String)
    /// Everything is done.
    func completed()
}

/// Reports nothing.
public struct SilentProgress: DownloadProgressReporting {
    public init() {}
    public func planned(files: Int, totalBytes: Int64, presentBytes: Int64) {}
    public func received(bytes count: Int) {}
    public func discarded(bytes count: Int64) {}
    public func finished(file: String) {}
    public func note(_ message: String) {}
    public func completed() {}
}

/// Progress on standard error: a redrawn bar (bytes, speed, time left) on a terminal, plain lines every
/// `lineInterval` seconds and per finished file when stderr is a log.
public final class ConsoleProgress: DownloadProgressReporting {
    struct State {
        var files = 0, filesDone = 0
        var total: Int64 = 0, done: Int64 = 0, fresh: Int64 = 0
        var start = Date(), lastDraw = Date.distantPast
        var drewBar = false
    }
    private let state = NIOLockedValueBox(State())
    private let isTerminal: Bool
    private let lineInterval: TimeInterval
    private let label: String

    /// `isTerminal` defaults to whether stderr is a TTY.
    public init(label: String, isTerminal: Bool = isatty(STDERR_FILENO) == 1, lineInterval: TimeInterval = 10) {
        self.label = label
        self.isTerminal = isTerminal
        self.lineInterval = lineInterval
    }

    public func planned(files: Int, totalBytes: Int64, presentBytes: Int64) {
        let text = state.withLockedValue { state -> String in
            state = State(files: files, total: totalBytes, done: presentBytes)
            return "\(label): \(files) files, \(formatBytes(totalBytes))"
                + (presentBytes > 0 ? " (\(formatBytes(presentBytes)) already here)" : "")
        }
        write(text + "\n")
    }

    public func received(bytes count: Int) {
        let line = state.withLockedValue { state -> String? in
            state.done += Int64(count)
            state.fresh += Int64(count)
            let now = Date()
            guard now.timeIntervalSince(state.lastDraw) >= (isTerminal ? 0.2 : lineInterval) else { return nil }
            state.lastDraw = now
            state.drewBar = isTerminal
            return isTerminal
                ? "\r" + render(state, now: now, width: 24) + "\u{1B}[K" : render(state, now: now, width: 0) + "\n"
        }
        if let line { write(line) }
    }

    public func discarded(bytes count: Int64) {
        state.withLockedValue {
            $0.done -= count; $0.fresh -= count
        }
    }

    public func finished(file: String) {
        let line = state.withLockedValue { state -> String in
            state.filesDone += 1
            let prefix = state.drewBar ? "\r\u{1B}[K" : ""
            return prefix + "  \(file) ok (\(state.filesDone)/\(state.files))\n"
        }
        write(line)
    }

    public func note(_ message: String) {
        let prefix = state.withLockedValue { $0.drewBar ? "\r\u{1B}[K" : "" }
        write(prefix + "  " + message + "\n")
    }

    public func completed() {
        let line = state.withLockedValue { state -> String in
            let elapsed = max(Date().timeIntervalSince(state.start), 0.001)
            return (state.drewBar ? "\r\u{1B}[K" : "")
                + "\(label): done, \(formatBytes(state.fresh)) downloaded in \(formatDuration(elapsed))\n"
        }
        write(line)
    }

    /// `[#####.....] 1.2 GB / 16.6 GB  45.3 MB/s  3m 10s left  (3/12 files)`; no bar when `width` is 0.
    func render(_ state: State, now: Date, width: Int) -> String {
        let elapsed = max(now.timeIntervalSince(state.start), 0.001)
        let speed = Double(state.fresh) / elapsed
        let fraction = state.total > 0 ? min(max(Double(state.done) / Double(state.total), 0), 1) : 0
        var parts: [String] = []
        if width > 0 {
            let filled = Int(fraction * Double(width))
            parts.append(
                "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]")
        } else {
            parts.append("\(label): \(Int(fraction * 100))%")
        }
        parts.append("\(formatBytes(state.done)) / \(formatBytes(state.total))")
        parts.append("\(formatBytes(Int64(speed)))/s")
        let remaining = Double(max(state.total - state.done, 0))
        parts.append(speed > 0 ? "\(formatDuration(remaining / speed)) left" : "-- left")
        parts.append("(\(state.filesDone)/\(state.files) files)")
        return parts.joined(separator: "  ")
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// `1.2 GB`, `45.3 MB`, `512 B` (decimal units, as the hubs show sizes).
public func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(max(bytes, 0)), unit = 0
    while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
    return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f", value) + " " + units[unit]
}

/// `2h 03m`, `3m 10s`, `12s`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "--" }
    let total = Int(seconds.rounded())
    if total >= 3600 { return String(format: "%dh %02dm", total / 3600, (total % 3600) / 60) }
    if total >= 60 { return String(format: "%dm %02ds", total / 60, total % 60) }
    return "\(total)s"
}
