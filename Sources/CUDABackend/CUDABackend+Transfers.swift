import CCUDA
import Foundation
import TensorKit

extension CUDABackend {
    public func upload(concatenating parts: [[Float]], shape: [Int]) throws -> Tensor {
        try enter()
        try Self.checkFill(shape, with: parts.reduce(0) { $0 + $1.count })
        // Image pixel rows run to millions of values per batch: each part is converted on all cores, straight
        // into the staging memory (no joined host copy, no fresh host pages).
        let tensor = try stagedTensor(shape: shape, dtype: .bf16) { target in
            guard let targetBase = target.baseAddress else { return }
            var offset = 0
            for part in parts {
                part.withUnsafeBufferPointer { source in
                    guard let sourceBase = source.baseAddress else { return }
                    // Each worker writes its own chunk; both buffers outlive the workers.
                    nonisolated(unsafe) let output = targetBase.assumingMemoryBound(to: UInt16.self) + offset
                    nonisolated(unsafe) let input = sourceBase
                    ConcurrentRows.forEachChunk(of: source.count, size: 1 << 18) { chunk in
                        for i in chunk { output[i] = HalfConversion.bf16Bits(input[i]) }
                    }
                }
                offset += part.count
            }
        }
        try profilePoint("upload (bf16 convert + copy)")
        return tensor
    }

    /// Checks that `given` values fill a tensor of `shape` exactly.
    private static func checkFill(_ shape: [Int], with given: Int) throws {
        let count = try Tensor.elementCount(of: shape)
        guard count == given else {
            throw TensorError.shapeMismatch(
                op: "upload", detail: "\(given) values cannot fill shape \(shape) (\(count) elements)")
        }
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        try enter()
        let values = try HostRows(dtype: tensor.dtype, bytes: try storedBytes(tensor)).floats()
        try profilePoint("download")
        return values
    }

    /// The tensor's bytes as stored: bf16 activations cross without conversion (half the bytes of `Float`s).
    public func downloadRows(_ tensor: Tensor) throws -> HostRows {
        try enter()
        let rows = try HostRows(dtype: tensor.dtype, bytes: try storedBytes(tensor))
        try profilePoint("download")
        return rows
    }

    /// Queues the copy on the download stream after the work already queued (``HostDownloads``); the tensor's
    /// device memory is kept until the copy has finished. Synchronous when there is no download memory left.
    public func downloadRowsLater(_ tensor: Tensor) throws -> PendingHostRows {
        try enter()
        guard let downloads, tensor.byteCount > 0, !(tensor.storage is HostTableStorage),
            let ticket = try downloads.start(
                from: try address(tensor, op: "download", argument: "tensor", dtype: tensor.dtype),
                bytes: tensor.byteCount)
        else { return PendingHostRows(try downloadRows(tensor)) }
        let dtype = tensor.dtype
        return PendingHostRows(
            finish: {
                try withExtendedLifetime(tensor) { try HostRows(dtype: dtype, bytes: try downloads.finish(ticket)) }
            },
            abandon: { withExtendedLifetime(tensor) { downloads.abandon(ticket) } })
    }

    /// bf16 parts are copied as they are into the staging memory; others are converted on the way.
    public func upload(rows parts: [HostRows], shape: [Int]) throws -> Tensor {
        guard parts.allSatisfy({ $0.dtype == activationDType }) else {
            return try upload(concatenating: parts.map { $0.floats() }, shape: shape)
        }
        try enter()
        try Self.checkFill(shape, with: parts.reduce(0) { $0 + $1.count })
        let tensor = try stagedTensor(shape: shape, dtype: activationDType) { target in
            guard let base = target.baseAddress else { return }
            var offset = 0
            for part in parts {
                part.bytes.withUnsafeBytes { source in
                    guard let from = source.baseAddress else { return }
                    ConcurrentRows.copyMemory(to: base + offset, from: from, byteCount: source.count)
                }
                offset += part.byteCount
            }
        }
        try profilePoint("upload rows")
        return tensor
    }

    /// Copies `tensor`'s bytes to the host (device memory, or a host table's), straight into a new array (an
    /// image's rows are megabytes: zeroing the array first cost about as long as the copy).
    private func storedBytes(_ tensor: Tensor) throws -> [UInt8] {
        let count = tensor.byteCount
        if let host = tensor.storage as? HostTableStorage {
            return [UInt8](UnsafeRawBufferPointer(start: host.base + tensor.byteOffset, count: count))
        }
        let pointer = try address(tensor, op: "download", argument: "tensor", dtype: tensor.dtype)
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let base = buffer.baseAddress {
                try driver.check(driver.cuMemcpyDtoH(base, pointer, count), "cuMemcpyDtoH(\(count) bytes)")
            }
            initialized = count
        }
    }

    /// Copies the weight to the device as bf16 (converted once here if the checkpoint stores f32 or f16).
    public func weight(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?)
        throws -> Tensor
    {
        try enter()
        let count = try Tensor.elementCount(of: shape)
        guard bytes.count == count * dtype.byteSize else {
            throw TensorError.byteCountMismatch(expected: count * dtype.byteSize, actual: bytes.count)
        }
        guard dtype != .f8e4m3 else {
            // 8-bit values mean nothing without their scales.
            throw TensorError.unsupportedDType(
                op: "weight", argument: "weight", dtype: dtype, supported: [.bf16, .f16, .f32])
        }
        if dtype == .bf16 { return try deviceCopy(of: bytes, shape: shape, dtype: .bf16) }
        let converted = HostConversion.bf16Bits(bytes, dtype: dtype)
        return try converted.withUnsafeBytes { try deviceCopy(of: $0, shape: shape, dtype: .bf16) }
    }

    /// Copies the 8-bit values and their fp32 row scales to the device.
    public func scaledWeight(_ values: UnsafeRawBufferPointer, rowScales: [Float], shape: [Int]) throws -> Tensor {
        _ = try OpChecks.scaledWeight(values: values.count, scales: rowScales.count, shape: shape)
        try enter()
        let stored = try deviceCopy(of: values, shape: shape, dtype: .f8e4m3)
        let scales = try rowScales.withUnsafeBytes { try deviceCopy(of: $0, shape: [rowScales.count], dtype: .f32) }
        return try Tensor(
            shape: shape, dtype: .f8e4m3, storage: stored.storage,
            rowScales: RowScales(storage: scales.storage, count: rowScales.count))
    }

    /// Keeps the table in host memory, copied out of `bytes` (`owner` is not retained, so a checkpoint's
    /// mapping can be unmapped after loading): ``embedding(_:ids:)`` gathers the rows a batch needs on the
    /// host and uploads only those.
    public func embeddingTable(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?
    ) throws -> Tensor {
        let count = try Tensor.elementCount(of: shape)
        guard bytes.count == count * dtype.byteSize else {
            throw TensorError.byteCountMismatch(expected: count * dtype.byteSize, actual: bytes.count)
        }
        return try Tensor(shape: shape, dtype: dtype, storage: HostTableStorage(copying: bytes))
    }

    public func embedding(_ table: Tensor, ids: [Int32]) throws -> Tensor {
        let width = try OpChecks.embedding(table, ids: ids)
        guard let host = table.storage as? HostTableStorage else {
            // A device-resident table: gather its rows on the device.
            return try gatherRows(table, indices: ids)
        }
        // A batch's ids repeat (each prompt's template, common words): only the distinct rows cross over when
        // that saves a quarter or more, and the device puts them in token order.
        let distinct = DistinctIDs(ids, vocabulary: table.shape[0])
        guard distinct.ids.count * 4 <= ids.count * 3 else {
            return try hostGather(table, host: host, ids: ids, width: width)
        }
        let rows = try hostGather(table, host: host, ids: distinct.ids, width: width)
        return try gatherRows(rows, indices: distinct.slots)
    }

    /// The rows of `ids` gathered on the host (on all cores) into staging memory and uploaded.
    private func hostGather(_ table: Tensor, host: HostTableStorage, ids: [Int32], width: Int) throws -> Tensor {
        try enter()
        let rowBytes = width * table.dtype.byteSize
        let rows = try stagedTensor(shape: [ids.count, width], dtype: .bf16) { target in
            guard let targetBase = target.baseAddress else { return }
            // Each worker writes its own rows; the staging memory and the ids outlive the workers.
            nonisolated(unsafe) let output = targetBase.assumingMemoryBound(to: UInt16.self)
            let tableBase = host.base + table.byteOffset, dtype = table.dtype
            nonisolated(unsafe) let source = tableBase
            ConcurrentRows.forEachChunk(of: ids.count, size: 512) { chunk in
                for i in chunk {
                    let row = UnsafeRawBufferPointer(start: source + Int(ids[i]) * rowBytes, count: rowBytes)
                    HostConversion.writeBF16(
                        row, dtype: dtype, into: UnsafeMutableBufferPointer(start: output + i * width, count: width))
                }
            }
        }
        try profilePoint("embedding (host gather + copy)")
        return rows
    }
}

/// Host-side element conversions for transfers.
enum HostConversion {
    static func bf16Bits(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: bytes.count / dtype.byteSize)
        out.withUnsafeMutableBufferPointer { writeBF16(bytes, dtype: dtype, into: $0) }
        return out
    }

    /// Converts `bytes` of `dtype` into bf16 bit patterns (a plain copy for bf16).
    static func writeBF16(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, into target: UnsafeMutableBufferPointer<UInt16>
    ) {
        switch dtype {
        case .bf16:
            UnsafeMutableRawBufferPointer(target).copyMemory(from: bytes)
        case .f32:
            for i in 0..<target.count {
                target[i] = HalfConversion.bf16Bits(bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
            }
        case .f16:
            for i in 0..<target.count {
                let half = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                target[i] = HalfConversion.bf16Bits(HalfConversion.float(f16: half))
            }
        case .f8e4m3:
            // Unscaled values (exact in bf16); scaled 8-bit weights are widened on the device instead.
            for i in 0..<target.count { target[i] = HalfConversion.bf16Bits(FP8E4M3.float(bytes[i])) }
        }
    }
}
