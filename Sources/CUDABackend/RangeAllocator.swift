/// Sub-allocates byte ranges from large segments of device memory: best fit, freed ranges merged with
/// their neighbours. Pure bookkeeping (no CUDA calls), so it is tested without a GPU.
///
/// All work runs on one stream in order, so a range freed by the host can be handed to the next op at
/// once: the device reaches the new writer only after the earlier readers.
struct RangeAllocator {
    /// Every range starts on this many bytes (enough for vector loads and cuBLASLt's alignment).
    static let alignment = 256

    struct Segment {
        let base: UInt64
        let size: Int
        /// Free ranges as offsets into the segment, sorted, never touching (merged on free).
        var free: [Range<Int>]
        var liveBytes = 0
    }

    private(set) var segments: [UInt64: Segment] = [:]
    /// Live ranges: address -> (segment base, length).
    private var live: [UInt64: (segment: UInt64, length: Int)] = [:]
    /// Bytes handed out now (rounded lengths).
    private(set) var liveBytes = 0
    /// Bytes of all segments.
    private(set) var segmentBytes = 0

    static func rounded(_ bytes: Int) -> Int {
        max(alignment, (bytes + alignment - 1) / alignment * alignment)
    }

    /// Adds a segment of `size` bytes at `base`, all free.
    mutating func addSegment(base: UInt64, size: Int) {
        segments[base] = Segment(base: base, size: size, free: size > 0 ? [0..<size] : [])
        segmentBytes += size
    }

    /// The address of `bytes` (rounded up to ``alignment``) from the smallest free range that holds
    /// them, lowest address first among equals; nil when no free range is large enough.
    mutating func allocate(_ bytes: Int) -> UInt64? {
        let length = Self.rounded(bytes)
        var best: (base: UInt64, index: Int, size: Int, address: UInt64)?
        for (base, segment) in segments where segment.size - segment.liveBytes >= length {
            for (index, range) in segment.free.enumerated() where range.count >= length {
                let address = base + UInt64(range.lowerBound)
                if let current = best {
                    let better =
                        range.count < current.size || (range.count == current.size && address < current.address)
                    if !better { continue }
                }
                best = (base, index, range.count, address)
            }
        }
        guard let best, var segment = segments[best.base] else { return nil }
        let range = segment.free[best.index]
        if range.count == length {
            segment.free.remove(at: best.index)
        } else {
            segment.free[best.index] = (range.lowerBound + length)..<range.upperBound
        }
        segment.liveBytes += length
        segments[best.base] = segment
        let address = best.base + UInt64(range.lowerBound)
        live[address] = (best.base, length)
        liveBytes += length
        return address
    }

    /// Returns a range handed out by ``allocate(_:)``; its length, or nil for an unknown address.
    @discardableResult
    mutating func free(_ address: UInt64) -> Int? {
        guard let entry = live.removeValue(forKey: address), var segment = segments[entry.segment] else { return nil }
        let start = Int(address - entry.segment)
        var range = start..<(start + entry.length)
        // Insert in order, merging with the free neighbours on either side.
        var index = segment.free.firstIndex { $0.lowerBound > start } ?? segment.free.count
        if index > 0, segment.free[index - 1].upperBound == range.lowerBound {
            range = segment.free[index - 1].lowerBound..<range.upperBound
            segment.free.remove(at: index - 1)
            index -= 1
        }
        if index < segment.free.count, segment.free[index].lowerBound == range.upperBound {
            range = range.lowerBound..<segment.free[index].upperBound
            segment.free.remove(at: index)
        }
        segment.free.insert(range, at: index)
        segment.liveBytes -= entry.length
        segments[entry.segment] = segment
        liveBytes -= entry.length
        return entry.length
    }

    /// Forgets every segment with nothing live in it and returns them (base, size) for the caller to free.
    mutating func removeEmptySegments() -> [(base: UInt64, size: Int)] {
        let empty = segments.values.filter { $0.liveBytes == 0 }
        for segment in empty {
            segments.removeValue(forKey: segment.base)
            segmentBytes -= segment.size
        }
        return empty.map { ($0.base, $0.size) }.sorted { $0.base < $1.base }
    }

    /// The largest free range of any segment.
    var largestFreeRange: Int {
        segments.values.flatMap(\.free).map(\.count).max() ?? 0
    }
}
