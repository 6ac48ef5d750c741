import COpenBLAS
import TensorKit

/// The reference backend: fp32 activations in host memory, matrix products through OpenBLAS
/// `cblas_sgemm`, everything else in Swift loops split over threads with Dispatch.
///
/// Weights stay in their checkpoint type (bf16 for Qwen2.5-VL); `linear` converts blocks of weight rows
/// to fp32 into a per-thread scratch panel just before multiplying, so no fp32 copy of a model exists.
///
/// Threading: creating a backend sets OpenBLAS to one thread (process-wide). Each op splits its work
/// over `threads` Dispatch workers, and each worker calls single-threaded sgemm on its own block. This
/// avoids two thread pools fighting over the same cores and makes concurrent calls from several
/// requests safe.
public final class CPUBackend: Backend {
    public var name: String { "CPU" }
    public var activationDType: DType { .f32 }

    /// Threads each op uses at most.
    public let threads: Int
    /// Weight rows converted and multiplied per block in `linear` (bf16/f16 weights).
    public let linearPanelRows: Int
    /// Query rows per attention work item.
    public let attentionRowBlock: Int
    /// Whether the model loads fused q/k/v and gate/up weights on this backend (off by default: on a
    /// CPU it gains nothing; tests turn it on to check the fused path against the plain one).
    public let prefersFusedWeights: Bool

    let parallel: Parallel

    /// - Parameters:
    ///   - threads: worker threads per op; defaults to the number of active processors.
    ///   - linearPanelRows: weight rows per conversion block in `linear`. Small panels make sgemm re-pack
    ///     x once per panel: on 2 cores 32 rows ran ~30% slower than 128-512, which were within noise
    ///     of each other (see ``CPUBackendBenchmark``).
    ///   - attentionRowBlock: query rows per attention work item; 128 beat 32 and 64 on both a
    ///     2048-token causal decoder layer and 64-token vision windows.
    ///   - prefersFusedWeights: see ``Backend/prefersFusedWeights``.
    public init(
        threads: Int? = nil, linearPanelRows: Int = 256, attentionRowBlock: Int = 128, prefersFusedWeights: Bool = false
    ) {
        self.prefersFusedWeights = prefersFusedWeights
        let threads = max(1, threads ?? ProcessInfoCompat.activeProcessorCount)
        self.threads = threads
        self.linearPanelRows = max(1, linearPanelRows)
        self.attentionRowBlock = max(1, attentionRowBlock)
        self.parallel = Parallel(threads: threads)
        openblas_set_num_threads(1)
    }

    // MARK: Host <-> device

    public func upload(concatenating parts: [[Float]], shape: [Int]) throws -> Tensor {
        let count = try Tensor.elementCount(of: shape)
        let given = parts.reduce(0) { $0 + $1.count }
        guard count == given else {
            throw TensorError.shapeMismatch(
                op: "upload", detail: "\(given) values cannot fill shape \(shape) (\(count) elements)")
        }
        let (tensor, pointer) = try makeFloatTensor(shape: shape)
        var offset = 0
        for part in parts {
            part.withUnsafeBufferPointer { source in
                if let base = source.baseAddress { (pointer + offset).update(from: base, count: source.count) }
            }
            offset += part.count
        }
        return tensor
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        let source = try hostBytes(tensor, op: "download")
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, initialized in
            if let base = buffer.baseAddress {
                convertToFloat(source, dtype: tensor.dtype, into: base, count: tensor.elementCount)
            }
            initialized = tensor.elementCount
        }
    }

    public func weight(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?)
        throws -> Tensor
    {
        let count = try Tensor.elementCount(of: shape)
        guard bytes.count == count * dtype.byteSize else {
            throw TensorError.byteCountMismatch(expected: count * dtype.byteSize, actual: bytes.count)
        }
        guard dtype != .f8e4m3 else {
            // 8-bit values mean nothing without their scales.
            throw TensorError.unsupportedDType(
                op: "weight", argument: "weight", dtype: dtype, supported: [.bf16, .f16, .f32])
        }
        let aligned = Int(bitPattern: bytes.baseAddress) % dtype.byteSize == 0
        if let owner, let base = bytes.baseAddress, aligned {
            let storage = CPUStorage(wrapping: base, byteCount: bytes.count, owner: owner)
            return try Tensor(shape: shape, dtype: dtype, storage: storage)
        }
        let storage = CPUStorage(allocating: bytes.count)
        if let source = bytes.baseAddress { storage.base.copyMemory(from: source, byteCount: bytes.count) }
        return try Tensor(shape: shape, dtype: dtype, storage: storage)
    }

    /// Copies the 8-bit values and their row scales into host memory.
    public func scaledWeight(_ values: UnsafeRawBufferPointer, rowScales: [Float], shape: [Int]) throws -> Tensor {
        let count = try OpChecks.scaledWeight(values: values.count, scales: rowScales.count, shape: shape)
        let storage = CPUStorage(allocating: count)
        if let source = values.baseAddress { storage.base.copyMemory(from: source, byteCount: count) }
        let scaleStorage = CPUStorage(allocating: rowScales.count * 4)
        rowScales.withUnsafeBytes { bytes in
            if let source = bytes.baseAddress { scaleStorage.base.copyMemory(from: source, byteCount: bytes.count) }
        }
        return try Tensor(
            shape: shape, dtype: .f8e4m3, storage: storage,
            rowScales: RowScales(storage: scaleStorage, count: rowScales.count))
    }

    /// The fp32 row scales of an 8-bit weight.
    func scaleValues(_ scales: RowScales, op: String) throws -> UnsafePointer<Float> {
        guard let storage = scales.storage as? CPUStorage else {
            throw TensorError.foreignTensor(op: op, expected: name, found: scales.storage.deviceName)
        }
        return UnsafePointer((storage.base + scales.byteOffset).assumingMemoryBound(to: Float.self))
    }

    // MARK: Storage access

    /// A new fp32 tensor with uninitialised elements, and a pointer to them.
    func makeFloatTensor(shape: [Int]) throws -> (Tensor, UnsafeMutablePointer<Float>) {
        let count = try Tensor.elementCount(of: shape)
        let storage = CPUStorage(allocating: count * MemoryLayout<Float>.stride)
        let tensor = try Tensor(shape: shape, dtype: .f32, storage: storage)
        return (tensor, storage.base.bindMemory(to: Float.self, capacity: count))
    }

    /// The first byte of a CPU tensor's elements.
    func hostBytes(_ tensor: Tensor, op: String) throws -> UnsafeRawPointer {
        guard let storage = tensor.storage as? CPUStorage else {
            throw TensorError.foreignTensor(op: op, expected: name, found: tensor.storage.deviceName)
        }
        return UnsafeRawPointer(storage.base + tensor.byteOffset)
    }

    /// The elements of an fp32 activation tensor.
    func floats(_ tensor: Tensor, op: String, argument: String) throws -> UnsafePointer<Float> {
        let bytes = try hostBytes(tensor, op: op)
        guard tensor.dtype == .f32 else {
            throw TensorError.unsupportedDType(op: op, argument: argument, dtype: tensor.dtype, supported: [.f32])
        }
        return bytes.assumingMemoryBound(to: Float.self)
    }

    /// The elements of an fp32 tensor that `op` will write into.
    func writableFloats(_ tensor: Tensor, op: String, argument: String) throws -> UnsafeMutablePointer<Float> {
        let pointer = try floats(tensor, op: op, argument: argument)
        guard let storage = tensor.storage as? CPUStorage, storage.isWritable else {
            throw TensorError.readOnlyDestination(op: op)
        }
        return UnsafeMutablePointer(mutating: pointer)
    }

    /// A small parameter vector (bias, norm weight) of any dtype as fp32 values.
    func floatVector(_ tensor: Tensor, op: String) throws -> [Float] {
        try download(tensor)
    }
}
