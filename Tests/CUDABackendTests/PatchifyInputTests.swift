import TensorKit
import Testing

@testable import CUDABackend

@Suite("CUDA patchify: the kernel's input buffer")
struct PatchifyInputTests {
    @Test("the table, then four int64 per image, then the images' bytes end to end")
    func layout() {
        let images = [
            PatchifySource(
                pixels: [UInt8](repeating: 1, count: 28 * 56 * 3), width: 28, height: 56, gridHeight: 4, gridWidth: 2),
            PatchifySource(
                pixels: [UInt8](repeating: 2, count: 56 * 28 * 3), width: 56, height: 28, gridHeight: 2, gridWidth: 4),
        ]
        let parts = PatchifyKernelSource.InputLayout(images)
        #expect(PatchifyKernelSource.tableBytes == 3 * 256 * 2)
        #expect(parts.pixelsOffset == 1536 + 2 * 4 * 8)
        #expect(parts.pixelsOffset % 16 == 0)
        #expect(parts.descriptors == [0, 2, 28, 0, 8, 4, 56, Int64(28 * 56 * 3)])
        #expect(parts.byteOffsets == [0, 28 * 56 * 3])
        #expect(parts.byteCount == parts.pixelsOffset + 2 * 28 * 56 * 3)
    }
}
