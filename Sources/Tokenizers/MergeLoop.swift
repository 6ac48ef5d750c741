/// The working state of BPE on one word, reused from word to word.
///
/// `mergeAll` follows `tokenizers`' `Word::merge_all` step by step: a min-heap of candidate merges ordered by
/// (rank, position), stale candidates skipped when the pair at their position no longer produces the same id.
/// So the lowest-ranked available pair is always merged first, the leftmost one on ties.
struct MergeScratch {
    var ids: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var alive: [Bool] = []
    /// Heap entries: `rank << 32 | position`.
    var heap: [UInt64] = []

    mutating func load(_ word: UnsafeBufferPointer<UInt8>, byteSymbols: [Int32]) {
        ids.removeAll(keepingCapacity: true)
        for byte in word {
            let id = byteSymbols[Int(byte)]
            if id >= 0 { ids.append(id) }
        }
    }

    mutating func mergeAll(merges: PairTable, mergeResults: [Int32]) {
        let count = ids.count
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        alive.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for index in 0..<count {
            previous.append(Int32(index - 1))
            next.append(index + 1 < count ? Int32(index + 1) : -1)
            alive.append(true)
        }
        for index in 0..<(count - 1) {
            if let merge = merges.lookup(ids[index], ids[index + 1]) { push(rank: merge.rank, position: index) }
        }
        while let top = pop() {
            let position = Int(truncatingIfNeeded: top & 0xFFFF_FFFF)
            let result = mergeResults[Int(top >> 32)]
            guard alive[position], next[position] >= 0 else { continue }
            let right = Int(next[position])
            guard let current = merges.lookup(ids[position], ids[right]), current.result == result else { continue }
            ids[position] = result
            alive[right] = false
            let afterRight = next[right]
            next[position] = afterRight
            if afterRight >= 0 { previous[Int(afterRight)] = Int32(position) }
            let before = previous[position]
            if before >= 0, let merge = merges.lookup(ids[Int(before)], result) {
                push(rank: merge.rank, position: Int(before))
            }
            if afterRight >= 0, let merge = merges.lookup(result, ids[Int(afterRight)]) {
                push(rank: merge.rank, position: position)
            }
        }
    }

    func appendSurvivors(to output: inout [Int32]) {
        for index in 0..<ids.count where alive[index] { output.append(ids[index]) }
    }

    // MARK: Binary min-heap

    private mutating func push(rank: Int32, position: Int) {
        var child = heap.count
        heap.append(UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(position))
        let value = heap[child]
        while child > 0 {
            let parent = (child - 1) >> 1
            if heap[parent] <= value { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = value
    }

    private mutating func pop() -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        let count = heap.count
        var parent = 0
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count && heap[child + 1] < heap[child] { child += 1 }
            if heap[child] >= last { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
        return top
    }
}
