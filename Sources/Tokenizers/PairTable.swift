/// An open-addressing hash table from a pair of token ids to its merge: rank and resulting id.
///
/// Built once at load time and only read afterwards. Keys pack the pair as `left << 32 | right`; ids are below
/// 2^24, so the all-ones key never occurs and marks empty slots.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private static let empty = UInt64.max

    /// A table sized for `capacity` pairs (at most half full).
    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Sets the merge of `(left, right)`; a later call for the same pair replaces the earlier one.
    mutating func insert(left: Int32, right: Int32, rank: Int32, result: Int32) {
        let key = Self.key(left, right)
        var index = slot(for: key)
        while keys[index] != Self.empty && keys[index] != key { index = (index + 1) & mask }
        keys[index] = key
        values[index] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: result))
    }

    /// The merge of `(left, right)`, if the merges list has one.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, result: Int32)? {
        let key = Self.key(left, right)
        var index = slot(for: key)
        return keys.withUnsafeBufferPointer { keys in
            while true {
                let stored = keys[index]
                if stored == key {
                    let value = values[index]
                    return (Int32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value))
                }
                if stored == Self.empty { return nil }
                index = (index + 1) & mask
            }
        }
    }
}
