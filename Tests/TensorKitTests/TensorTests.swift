import TensorKit
import Testing

/// Plain memory for handle tests; no backend involved.
final class TestStorage: TensorStorage, @unchecked Sendable {
    let byteCount: Int
    var deviceName: String { "test memory" }
    init(byteCount: Int) { self.byteCount = byteCount }
}

@Suite("Tensor handles")
struct TensorTests {
    @Test func sizes() throws {
        let t = try Tensor(shape: [3, 4, 5], dtype: .bf16, storage: TestStorage(byteCount: 120))
        #expect(t.elementCount == 60)
        #expect(t.byteCount == 120)
        #expect(t.rank == 3)
        #expect(t.rowCount == 3)
        #expect(t.rowWidth == 20)
        let scalar = try Tensor(shape: [], dtype: .f32, storage: TestStorage(byteCount: 4))
        #expect(scalar.elementCount == 1)
    }

    @Test("Reshape and row slices share storage and compute offsets")
    func views() throws {
        let storage = TestStorage(byteCount: 4 * 6 * 4)
        let t = try Tensor(shape: [4, 6], dtype: .f32, storage: storage)
        let reshaped = try t.reshaped([4, 2, 3])
        #expect(reshaped.shape == [4, 2, 3])
        #expect(reshaped.storage === storage)
        let middle = try t.rows(1..<3)
        #expect(middle.shape == [2, 6])
        #expect(middle.byteOffset == 24)
        let inner = try middle.rows(1..<2)
        #expect(inner.byteOffset == 48)
        #expect(try t.rows(4..<4).shape == [0, 6])
    }

    @Test("Bad shapes, offsets and slices throw with a message")
    func errors() throws {
        let storage = TestStorage(byteCount: 16)
        #expect(throws: TensorError.invalidShape([2, -1])) {
            try Tensor(shape: [2, -1], dtype: .f32, storage: storage)
        }
        #expect(throws: TensorError.byteCountMismatch(expected: 20, actual: 16)) {
            try Tensor(shape: [5], dtype: .f32, storage: storage)
        }
        #expect(throws: TensorError.byteCountMismatch(expected: 20, actual: 16)) {
            try Tensor(shape: [2], dtype: .f32, storage: storage, byteOffset: 12)
        }
        #expect(throws: TensorError.invalidShape([Int.max, 2])) {
            try Tensor(shape: [Int.max, 2], dtype: .f32, storage: storage)
        }
        let t = try Tensor(shape: [2, 2], dtype: .f32, storage: storage)
        let reshapeError = #expect(throws: TensorError.self) { try t.reshaped([3]) }
        #expect(reshapeError?.description.contains("[2, 2] has 4 elements, [3] has 3") == true)
        let rowsError = #expect(throws: TensorError.self) { try t.rows(1..<3) }
        #expect(rowsError?.description.contains("rows 1..<3") == true)
        #expect(TensorError.byteCountMismatch(expected: 20, actual: 16).description.contains("holds 16 bytes"))
    }
}
