import Synchronization
import TensorKit

/// Copies of cached prompt prefixes (``PrefixKV``) on one backend's device, kept between passes so that a
/// prefix used again is neither copied into staging memory nor uploaded again: a pass that attends to a
/// cached prefix takes its keys and values from here when they are, and leaves them here when it had to upload
/// them (or computed them, capturing the prefix). Least recently used out first, within a byte capacity.
///
/// One per device: each replica of a model on another GPU has its own (the host cache is shared). Entries
/// refer to their ``PrefixKV`` weakly: they keep no host memory alive, an entry is never mistaken for another
/// prefix made at the same address, and the copy of a prefix that the host cache let go (which no pass can
/// look up again) is dropped at the next ``keep(_:for:)``.
///
/// Thread-safe.
public final class DevicePrefixCopies: Sendable {
    /// Counters and sizes, for metrics.
    public struct Statistics: Sendable, Equatable {
        /// Passes that found a prefix here (no upload).
        public var hits = 0
        /// Prefixes a pass had to upload from the host.
        public var uploads = 0
        public var entries = 0
        public var bytes = 0
        /// The capacity now (it shrinks when passes run out of device memory).
        public var capacityBytes = 0

        public init(hits: Int = 0, uploads: Int = 0, entries: Int = 0, bytes: Int = 0, capacityBytes: Int = 0) {
            self.hits = hits
            self.uploads = uploads
            self.entries = entries
            self.bytes = bytes
            self.capacityBytes = capacityBytes
        }

        /// The figures of `self` and `other` together (several engines' copies).
        public func adding(_ other: Statistics) -> Statistics {
            Statistics(
                hits: hits + other.hits, uploads: uploads + other.uploads, entries: entries + other.entries,
                bytes: bytes + other.bytes, capacityBytes: capacityBytes + other.capacityBytes)
        }
    }

    private struct Entry {
        weak var kv: PrefixKV?
        let tensor: Tensor
        var lastUse: UInt64
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var clock: UInt64 = 0
        var statistics = Statistics()
    }

    private let state: Mutex<State>

    /// Copies within `capacityBytes` (0 keeps none: every pass uploads its prefixes).
    public init(capacityBytes: Int) {
        var state = State()
        state.statistics.capacityBytes = max(0, capacityBytes)
        self.state = Mutex(state)
    }

    /// Most device bytes the copies take together: the capacity they were made with, less what
    /// ``giveUpAfterRunningOutOfMemory()`` took.
    public var capacityBytes: Int { state.withLock { $0.statistics.capacityBytes } }

    /// The device copy of `kv`'s keys and values (`[2 * layers * rows, kvHeads, headDim]`, the layout of
    /// ``PrefixKV/values``), counted as a hit; nil when there is none, counted as an upload to come.
    public func tensor(for kv: PrefixKV) -> Tensor? {
        state.withLock { state in
            state.clock += 1
            guard var entry = state.entries[ObjectIdentifier(kv)], entry.kv === kv else {
                state.statistics.uploads += 1
                return nil
            }
            entry.lastUse = state.clock
            state.entries[ObjectIdentifier(kv)] = entry
            state.statistics.hits += 1
            return entry.tensor
        }
    }

    /// Keeps `tensor` as the device copy of `kv`, evicting the least recently used copies to stay within
    /// capacity. A copy larger than the whole capacity is not kept.
    public func keep(_ tensor: Tensor, for kv: PrefixKV) {
        let bytes = tensor.byteCount
        state.withLock { state in
            let capacityBytes = state.statistics.capacityBytes
            guard bytes <= capacityBytes else { return }
            state.clock += 1
            if let old = state.entries.removeValue(forKey: ObjectIdentifier(kv)) {
                state.statistics.bytes -= old.tensor.byteCount
            }
            for (key, entry) in state.entries where entry.kv == nil {
                state.entries.removeValue(forKey: key)
                state.statistics.bytes -= entry.tensor.byteCount
            }
            while state.statistics.bytes + bytes > capacityBytes,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                state.entries.removeValue(forKey: oldest.key)
                state.statistics.bytes -= oldest.value.tensor.byteCount
            }
            state.entries[ObjectIdentifier(kv)] = Entry(kv: kv, tensor: tensor, lastUse: state.clock)
            state.statistics.bytes += bytes
        }
    }

    /// For a pass that ran out of device memory: drops every copy (their memory returns to the backend once no
    /// pass holds them) and lowers the capacity to half of what they held, so that copies that crowd the passes
    /// out give way for good instead of costing a failed pass again and again.
    /// - Returns: whether there was any copy to drop (else the copies were not what took the memory).
    @discardableResult
    public func giveUpAfterRunningOutOfMemory() -> Bool {
        state.withLock { state in
            guard !state.entries.isEmpty else { return false }
            state.statistics.capacityBytes = min(state.statistics.capacityBytes, state.statistics.bytes / 2)
            state.entries.removeAll()
            state.statistics.bytes = 0
            return true
        }
    }

    public func snapshot() -> Statistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.entries = state.entries.count
            return statistics
        }
    }
}
