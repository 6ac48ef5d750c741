/// The distinct values of a list of token ids in order of first appearance, and for each id its position
/// among them: `ids[i] == distinct.ids[distinct.slots[i]]`.
struct DistinctIDs {
    var ids: [Int32] = []
    var slots: [Int32]

    /// - Parameter vocabulary: every id lies in `0..<vocabulary` (checked by the caller).
    init(_ all: [Int32], vocabulary: Int) {
        slots = [Int32](repeating: 0, count: all.count)
        var slotOfID = [Int32](repeating: -1, count: vocabulary)
        for (index, id) in all.enumerated() {
            var slot = slotOfID[Int(id)]
            if slot < 0 {
                slot = Int32(ids.count)
                slotOfID[Int(id)] = slot
                ids.append(id)
            }
            slots[index] = slot
        }
    }
}
