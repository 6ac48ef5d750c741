import Synchronization

/// Remembers the ids of short words already encoded, shared by all threads using one `Tokenizer`.
///
/// Only words of at most 16 bytes that encode to at most ``Entry/capacity`` ids are kept, and at most `capacity`
/// of them: once full, no new words are added (like `tokenizers`' cache).
///
/// A lookup takes no lock and writes nothing. A server tokenizes a request's documents on every core at once and
/// the common words ("the", "of") are looked up by all of them: a lock (or a reference count) per word made the
/// cores queue on the same few cache lines, so that on 16 threads a warm cache encoded slower than no cache. The
/// table is open addressing over cache-line slots, each written once: a slot goes from empty to claimed (by one
/// writer, with a compare-and-exchange) to published (a releasing store, after its words), and a reader uses a
/// slot only once it sees it published (an acquiring load), so what it reads never changes under it.
final class WordCache: @unchecked Sendable {
    /// A word of up to 16 bytes, packed.
    struct Key: Hashable {
        var low: UInt64
        var high: UInt64
        var count: Int

        init?(_ word: UnsafeBufferPointer<UInt8>) {
            guard word.count <= 16 else { return nil }
            var low: UInt64 = 0
            var high: UInt64 = 0
            for (index, byte) in word.enumerated() {
                if index < 8 {
                    low |= UInt64(byte) << (8 * UInt64(index))
                } else {
                    high |= UInt64(byte) << (8 * UInt64(index - 8))
                }
            }
            (self.low, self.high, self.count) = (low, high, word.count)
        }

        var hash: UInt64 {
            var mixed = (low &* 0x9E37_79B9_7F4A_7C15) ^ (high &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(count)
            mixed ^= mixed >> 29
            return mixed &* 0xBF58_476D_1CE4_E5B9
        }
    }

    /// The ids of one word, held inline (three 64-bit words).
    struct Entry {
        /// Most ids an entry holds; a word that encodes to more is not cached.
        static let capacity = 6
        fileprivate var packed: (UInt64, UInt64, UInt64) = (0, 0, 0)
        fileprivate var count = 0

        /// The entry for `ids`, nil when they are more than ``capacity``.
        init?(_ ids: ArraySlice<Int32>) {
            guard ids.count <= Self.capacity else { return nil }
            count = ids.count
            withUnsafeMutableBytes(of: &packed) { raw in
                for (offset, id) in ids.enumerated() {
                    raw.storeBytes(of: id, toByteOffset: offset * 4, as: Int32.self)
                }
            }
        }

        fileprivate init(packed: (UInt64, UInt64, UInt64), count: Int) {
            self.packed = packed
            self.count = count
        }

        /// Appends the ids to `output`.
        func append(to output: inout [Int32]) {
            withUnsafeBytes(of: packed) { raw in output.append(contentsOf: raw.bindMemory(to: Int32.self).prefix(count))
            }
        }
    }

    let capacity: Int
    /// `slotCount` slots of ``wordsPerSlot`` atomic words: state, key low, key high, lengths, three of packed ids.
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let slotMask: Int
    private let stored = Atomic<Int>(0)

    static let wordsPerSlot = 8
    /// Slots a lookup or an insertion tries from the key's own before it gives up.
    static let probeLimit = 32
    private static let empty: UInt64 = 0, claimed: UInt64 = 1, published: UInt64 = 2

    /// A cache of at most `capacity` words (0: a lookup always misses).
    init(capacity: Int) {
        self.capacity = max(0, capacity)
        var slots = 64
        while slots < 2 * self.capacity { slots <<= 1 }
        slotMask = slots - 1
        words = .allocate(capacity: slots * Self.wordsPerSlot)
        for index in 0..<(slots * Self.wordsPerSlot) { (words + index).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: (slotMask + 1) * Self.wordsPerSlot)
        words.deallocate()
    }

    /// Words stored so far.
    var count: Int { stored.load(ordering: .relaxed) }

    private func slot(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        words + (index & slotMask) * Self.wordsPerSlot
    }

    private func matches(_ slot: UnsafeMutablePointer<Atomic<UInt64>>, _ key: Key) -> Bool {
        slot[1].load(ordering: .relaxed) == key.low && slot[2].load(ordering: .relaxed) == key.high
            && Int(slot[3].load(ordering: .relaxed) & 0xFF) == key.count
    }

    func lookup(_ key: Key) -> Entry? {
        let start = Int(truncatingIfNeeded: key.hash >> 7)
        for probe in 0..<Self.probeLimit {
            let slot = slot(start + probe)
            let state = slot[0].load(ordering: .acquiring)
            if state == Self.empty { return nil }
            guard state == Self.published, matches(slot, key) else { continue }
            return Entry(
                packed: (
                    slot[4].load(ordering: .relaxed), slot[5].load(ordering: .relaxed),
                    slot[6].load(ordering: .relaxed)
                ),
                count: Int(slot[3].load(ordering: .relaxed) >> 8))
        }
        return nil
    }

    /// Keeps `ids` for `key` while the cache has room (and the ids fit an entry); a word already there stays.
    func insert(_ ids: ArraySlice<Int32>, for key: Key) {
        guard let entry = Entry(ids), stored.load(ordering: .relaxed) < capacity else { return }
        let start = Int(truncatingIfNeeded: key.hash >> 7)
        for probe in 0..<Self.probeLimit {
            let slot = slot(start + probe)
            let (exchanged, state) = slot[0].compareExchange(
                expected: Self.empty, desired: Self.claimed, ordering: .acquiring)
            if exchanged {
                slot[1].store(key.low, ordering: .relaxed)
                slot[2].store(key.high, ordering: .relaxed)
                slot[3].store(UInt64(key.count) | UInt64(entry.count) << 8, ordering: .relaxed)
                slot[4].store(entry.packed.0, ordering: .relaxed)
                slot[5].store(entry.packed.1, ordering: .relaxed)
                slot[6].store(entry.packed.2, ordering: .relaxed)
                slot[0].store(Self.published, ordering: .releasing)
                stored.add(1, ordering: .relaxed)
                return
            }
            if state == Self.published, matches(slot, key) { return }
        }
    }
}
