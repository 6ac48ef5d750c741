import CPUBackend
import TensorKit
import Testing

/// Weights wrap checkpoint bytes without copying and keep their owner alive.
@Suite("CPU weight storage")
struct WeightStorageTests {
    @Test("Aligned bytes with an owner are wrapped, not copied")
    func wrapsWithoutCopy() throws {
        let backend = CPUBackend(threads: 1)
        let owner = ByteOwner(count: 8)
        for (i, v) in [Float(1), 2].enumerated() { owner.bytes.storeBytes(of: v, toByteOffset: i * 4, as: Float.self) }
        let weight = try backend.weight(
            UnsafeRawBufferPointer(owner.bytes), dtype: .f32, shape: [2], keepingAlive: owner)
        owner.bytes.storeBytes(of: Float(5), toByteOffset: 0, as: Float.self)
        #expect(try backend.download(weight) == [5, 2])  // sees the change: same memory
    }

    @Test("The weight keeps its owner alive after the caller lets go")
    func retainsOwner() throws {
        let backend = CPUBackend(threads: 1)
        weak var weakOwner: ByteOwner?
        var weight: Tensor?
        do {
            let owner = ByteOwner(count: 4)
            owner.bytes.storeBytes(of: HalfConversion.bf16Bits(3), toByteOffset: 0, as: UInt16.self)
            owner.bytes.storeBytes(of: HalfConversion.bf16Bits(-0.5), toByteOffset: 2, as: UInt16.self)
            weakOwner = owner
            weight = try backend.weight(
                UnsafeRawBufferPointer(owner.bytes), dtype: .bf16, shape: [1, 2], keepingAlive: owner)
        }
        #expect(weakOwner != nil)
        #expect(try backend.download(try #require(weight)) == [3, -0.5])
        weight = nil
        #expect(weakOwner == nil)
    }

    @Test("Unaligned or ownerless bytes are copied, with the same values")
    func copiesWhenNeeded() throws {
        let backend = CPUBackend(threads: 1)
        let owner = ByteOwner(count: 5)
        owner.bytes.storeBytes(of: HalfConversion.bf16Bits(1.5), toByteOffset: 1, as: UInt16.self)
        owner.bytes.storeBytes(of: HalfConversion.bf16Bits(-2), toByteOffset: 3, as: UInt16.self)
        let unaligned = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(owner.bytes)[1..<5])
        let copied = try backend.weight(unaligned, dtype: .bf16, shape: [2], keepingAlive: owner)
        let ownerless = try backend.weight(unaligned, dtype: .bf16, shape: [2], keepingAlive: nil)
        owner.bytes.storeBytes(of: HalfConversion.bf16Bits(7), toByteOffset: 1, as: UInt16.self)
        #expect(try backend.download(copied) == [1.5, -2])
        #expect(try backend.download(ownerless) == [1.5, -2])
    }
}
