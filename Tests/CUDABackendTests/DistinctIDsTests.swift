import Testing

@testable import CUDABackend

@Suite("Distinct token ids for the embedding upload")
struct DistinctIDsTests {
    @Test("distinct ids keep their first-seen order and every id finds its row")
    func slotsPointAtTheirRows() {
        let ids: [Int32] = [7, 3, 7, 0, 3, 3, 9, 7]
        let distinct = DistinctIDs(ids, vocabulary: 10)
        #expect(distinct.ids == [7, 3, 0, 9])
        #expect(distinct.slots == [0, 1, 0, 2, 1, 1, 3, 0])
        #expect(distinct.slots.map { distinct.ids[Int($0)] } == ids)
        #expect(DistinctIDs([], vocabulary: 10).ids.isEmpty)
    }
}
