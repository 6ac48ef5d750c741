import CCUDA
import TensorKit

extension CUDABackend {
    /// Copies only the images' bytes over (with a small table of their sizes and the normalisation values
    /// rounded to bf16), in one staged upload, and cuts the patch rows on the device (`patchify_rgb8`):
    /// 3 bytes a pixel cross from the host instead of 2 x 3 bf16 values, and the host converts nothing.
    public func patchify(_ images: [PatchifySource], layout: PatchifyLayout) throws -> Tensor {
        let rows = try OpChecks.patchify(images, layout: layout)
        try enter()
        let out = try makeTensor(shape: [rows, layout.rowWidth])
        guard rows > 0 else { return out }
        let outPointer = try address(out, op: "patchify", argument: "output")
        let input = try patchifyInput(images, layout: layout)
        try profilePoint("patchify (copy bytes)")
        let base = try address(input.tensor, op: "patchify", argument: "images", dtype: .f8e4m3)
        let descriptors = base + CUdeviceptr(PatchifyKernelSource.tableBytes)
        let vectorized = Self.allowsVectors(width: layout.rowWidth, [outPointer])
        let vectors = vectorized ? layout.rowWidth / 8 : layout.rowWidth
        try withExtendedLifetime(input.tensor) {
            try kernels.launch(
                "patchify_rgb8", grid: (rows, 1, 1), block: (min(256, (vectors + 31) / 32 * 32), 1, 1),
                [
                    .pointer(base + CUdeviceptr(input.pixelsOffset)), .pointer(descriptors),
                    .int32(Int32(images.count)),
                    .pointer(base), .pointer(outPointer), .int32(Int32(layout.patchSize)),
                    .int32(Int32(layout.mergeSize)),
                    .int32(Int32(layout.temporalPatchSize)), .int32(vectorized ? 1 : 0),
                ])
        }
        try finish("patchify (kernel)")
        return out
    }

    /// The kernel's input as one device buffer (typed f8e4m3 only for its 1-byte elements), laid out as
    /// ``PatchifyKernelSource/InputLayout`` says; the images are copied into the staging memory on all cores.
    private func patchifyInput(_ images: [PatchifySource], layout: PatchifyLayout) throws
        -> (tensor: Tensor, pixelsOffset: Int)
    {
        let parts = PatchifyKernelSource.InputLayout(images)
        let table = layout.normalization.map(HalfConversion.bf16Bits)
        let tensor = try stagedTensor(shape: [parts.byteCount], dtype: .f8e4m3) { target in
            guard let targetBase = target.baseAddress else { return }
            table.withUnsafeBytes { target.copyMemory(from: $0) }
            parts.descriptors.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: target[PatchifyKernelSource.tableBytes..<parts.pixelsOffset])
                    .copyMemory(from: $0)
            }
            // Each worker copies its own image; the staging memory and the images outlive the workers.
            nonisolated(unsafe) let pixels = targetBase + parts.pixelsOffset
            let byteOffsets = parts.byteOffsets
            ConcurrentRows.forEach(count: images.count) { index in
                images[index].pixels.withUnsafeBytes { source in
                    guard let start = source.baseAddress else { return }
                    (pixels + byteOffsets[index]).copyMemory(from: start, byteCount: source.count)
                }
            }
        }
        return (tensor, parts.pixelsOffset)
    }
}
