import CCUDA
import Foundation
import TensorKit

/// The Qwen2.5-VL ops on an NVIDIA GPU: bf16 activations and weights, fp32 accumulation, cuBLASLt for
/// the matrix products and NVRTC-compiled kernels for the rest (fused flash-style attention included).
///
/// The CUDA libraries are opened at run time, so the package builds and runs without CUDA; creating a
/// backend on a machine without a usable GPU throws a ``CUDAError`` that says what is missing.
/// Embedding tables made by ``embeddingTable(_:dtype:shape:keepingAlive:)`` stay in host memory (a copy);
/// every other weight is copied to the device, so nothing refers to the checkpoint's files after loading.
public final class CUDABackend: Backend, @unchecked Sendable {
    /// What the backend found at start.
    public struct DeviceInfo: Sendable, CustomStringConvertible {
        public var name: String
        public var computeCapability: (major: Int, minor: Int)
        public var multiprocessors: Int
        /// Shared memory a multiprocessor has for its blocks (228 KB on Hopper, 164 KB on the A100, 100 KB on
        /// Ada and consumer Ampere).
        public var sharedMemoryPerMultiprocessor: Int
        public var totalMemoryBytes: Int
        /// `cuDriverGetVersion`, e.g. 13000 for CUDA 13.0.
        public var driverVersion: Int
        /// The library files that opened: driver, cuBLASLt, NVRTC.
        public var libraries: [String]
        /// `sm_90` and the like: what the kernels are compiled for.
        public var architecture: String { "sm_\(computeCapability.major)\(computeCapability.minor)" }
        /// What NVRTC compiles the kernels for: ``architecture``, with Hopper's own instructions (`wgmma`) on
        /// compute capability 9.0 (`sm_90a`, which runs on that architecture only).
        public var compilerArchitecture: String { hasHopperInstructions ? architecture + "a" : architecture }
        /// Whether the kernels may use Hopper's architecture-specific instructions (H100, H200: 9.0).
        public var hasHopperInstructions: Bool { computeCapability.major == 9 && computeCapability.minor == 0 }

        public var description: String {
            let gib = Double(totalMemoryBytes) / Double(1 << 30)
            return "\(name) (\(architecture), \(multiprocessors) SMs, \(String(format: "%.1f", gib)) GiB, "
                + "driver \(driverVersion / 1000).\(driverVersion % 1000 / 10))"
        }
    }

    /// Device memory figures, as the driver reports them (every process on the device counted).
    public struct MemoryStatistics: Sendable {
        /// Largest `total - free` seen since the start or the last ``resetPeakMemory()``.
        public var peakDeviceUsedBytes: Int
        public var currentDeviceUsedBytes: Int
        public var totalBytes: Int
        /// Bytes this backend holds from the driver (weights, activations and free ranges of its segments).
        public var pooledBytes: Int
        /// Most bytes live at once since the last reset (weights included), without the pool's free ranges.
        public var peakLiveBytes: Int
    }

    public var name: String { "CUDA" }
    public var activationDType: DType { .bf16 }
    /// Fused q/k/v and gate/up products and a padded vision MLP: fewer, faster cuBLASLt calls.
    public var prefersFusedWeights: Bool { true }
    public let device: DeviceInfo

    let driver: CUDADriver
    let context: CUcontext?
    let pool: DeviceMemoryPool
    let kernels: KernelModule
    let matmul: MatmulEngine
    /// Page-locked staging for per-batch uploads (nil if the driver would not lock host memory: then
    /// uploads are plain synchronous copies).
    let staging: HostStaging?
    /// Page-locked memory and a stream for downloads that do not wait (``downloadRowsLater(_:)``); nil if the
    /// driver would not give them, or with `LYCHEE_ASYNC_DOWNLOADS=0` (then those downloads are synchronous).
    let downloads: HostDownloads?

    /// Whether the device has FP8 (E4M3) tensor cores: compute capability 8.9 and later (Ada, Hopper,
    /// Blackwell).
    public var hasFP8TensorCores: Bool {
        device.computeCapability.major > 8
            || (device.computeCapability.major == 8 && device.computeCapability.minor >= 9)
    }

    /// Multiply 8-bit weights on FP8 tensor cores (activations quantized per row); off: widen them to bf16
    /// just before each product, the path of GPUs without FP8 tensor cores. Starts as
    /// ``hasFP8TensorCores``; set it before use (turning it on where the device lacks them changes nothing:
    /// cuBLASLt then offers no FP8 algorithm and the widening path runs).
    public var fp8TensorCores = false

    public var runsFP8Products: Bool { fp8TensorCores }

    /// Run the decoder's attention (head dimension 128) on ``AttentionWideKernelSource``'s kernel, two 16-row
    /// tiles a warp; off: the 16-row kernel. Starts on where a multiprocessor holds enough of the wide
    /// kernel's blocks (Hopper, A100), off where its 52 KB a block would leave one block a multiprocessor (Ada,
    /// consumer Ampere). The self-test checks both (set it before use, like ``fp8TensorCores``).
    public var wideAttention = false

    /// Run attention with head dimensions 64, 80 (the vision tower's) and 128 (the decoder's) on
    /// ``AttentionHopperKernelSource``'s warpgroup kernel (`wgmma`); off: ``wideAttention`` decides. Starts on where the kernels are compiled
    /// with Hopper's instructions (``DeviceInfo/hasHopperInstructions``), and only there can it be turned on;
    /// `LYCHEE_HOPPER_ATTENTION=0` in the environment starts it off (a diagnostic switch: the `mma.sync`
    /// kernels instead). The self-test checks all three kernels.
    public var hopperAttention: Bool {
        get { hopperAttentionChosen && device.hasHopperInstructions }
        set { hopperAttentionChosen = newValue }
    }
    private var hopperAttentionChosen = false

    /// Let the attention kernels pack the query heads of a kv head into their blocks' rows (grouped heads: the
    /// decoder's 28 over 4 kv heads), so that the rows of short sequences fill whole tiles and a block's key tiles
    /// serve all its heads; off: one head a block. The same bits either way (each row meets the same key tiles in
    /// the same order). `LYCHEE_PACKED_ATTENTION=0` in the environment starts it off (a diagnostic switch for A/B
    /// runs). The self-test checks both on every kernel.
    public var packedAttention = true

    /// Run the vision tower's window attention (sequences of at most 64 rows, head dimensions 64 and 80) on
    /// ``AttentionWindowKernelSource``'s kernel, straight from the fused q/k/v product with the rotary
    /// embedding applied on the way; off: `splitRope`, then the attention kernel. Follows ``hopperAttention``
    /// (the kernel is Hopper's); `LYCHEE_FUSED_WINDOW_ATTENTION=0` in the environment starts it off (a
    /// diagnostic switch; the results are the same bits either way).
    public var fusedWindowAttention: Bool {
        get { fusedWindowAttentionChosen && hopperAttention }
        set { fusedWindowAttentionChosen = newValue }
    }
    private var fusedWindowAttentionChosen = false

    /// The attention kernels this backend runs, in words (`bench` prints it, `serve` logs it).
    public var attentionDescription: String {
        Self.attentionDescription(hopper: hopperAttention, wide: wideAttention, fusedWindows: fusedWindowAttention)
    }

    static func attentionDescription(hopper: Bool, wide: Bool, fusedWindows: Bool = false) -> String {
        if hopper {
            return "warpgroup tensor-core products (wgmma, sm_90a)"
                + (fusedWindows ? "; vision windows read the q/k/v product and rotate it in the kernel" : "")
        }
        return wide ? "mma.sync, 32 query rows a warp for the decoder" : "mma.sync, 16 query rows a warp"
    }

    /// Wait for the device after every op, so that a failing kernel is reported by the op that ran it
    /// (slower; the self-test turns it on).
    public var synchronizeEveryOp = false

    /// Time every op (waiting for the device before and after each) and the host work between ops;
    /// ``profileTable()`` prints the totals. Slow: for a separate diagnostic pass only.
    public var profiling: Bool {
        get { profile.active }
        set { profile.reset(active: newValue) }
    }

    /// The totals since ``profiling`` was last set: one row per op kind (matrix products by shape,
    /// attention by head size and longest sequence), "host before OP" for the host work that kept the device
    /// idle before each kind of op.
    public func profileTable() -> String { profile.table() }

    let profile = OpProfile()

    /// Record, without waiting, an event on the stream where each op starts and ends; ``timelineTable()``
    /// prints what the device did in the pass: each op's time as it ran, and its idle time before each kind of
    /// op (the host work an ordinary pass makes it wait for). Cheap enough for a real pass, unlike
    /// ``profiling``; setting it starts a new recording.
    public var timeline: Bool {
        get { opTimeline.active }
        set { opTimeline.reset(active: newValue, driver: driver) }
    }

    /// The table of the pass recorded since ``timeline`` was set (waits for its last op).
    public func timelineTable() throws -> String { try opTimeline.table(driver: driver) }

    let opTimeline = OpTimeline()

    /// Fill new device blocks with NaN so that outputs an op forgot to write show up (self-test).
    public var poisonAllocations: Bool {
        get { pool.poisonAllocations }
        set { pool.poisonAllocations = newValue }
    }

    /// The most device memory this process may use, as the driver counts it (context included; set it
    /// before loading weights). The pool never takes more than this minus what was in use when the
    /// backend started; an op that would need more throws ``CUDAError/memoryLimitReached``, which
    /// ``DeviceMemoryError/isOutOfDeviceMemory`` marks as retryable with a smaller batch. nil: no limit.
    public var memoryLimitBytes: Int? {
        get { pool.limitBytes.map { $0 + baselineDeviceBytes + Self.outsidePoolReserveBytes } }
        set { pool.limitBytes = newValue.map { max(0, $0 - baselineDeviceBytes - Self.outsidePoolReserveBytes) } }
    }

    /// Under a limit, room left for what the driver and libraries allocate outside the pool after start
    /// (cuBLASLt's per-shape state, kernel modules): measured at 20-28 MiB on the H200 under serving load,
    /// which took the whole process 3 MiB over a 15 GiB limit without this reserve.
    static let outsidePoolReserveBytes = 64 << 20

    /// Under a memory limit, the most bytes this backend's pool may hold (weights, activations and free
    /// ranges): the limit less what was in use when the backend started and the reserve outside the pool.
    public var poolCapacityBytes: Int? { pool.limitBytes }

    /// Device memory in use when the backend started (context, other processes).
    let baselineDeviceBytes: Int

    /// Number of CUDA devices the driver sees (0 when there is no usable driver).
    public static func deviceCount() -> Int {
        guard let driver = try? CUDADriver(), driver.cuInit(0) == 0 else { return 0 }
        var count: Int32 = 0
        return driver.cuDeviceGetCount(&count) == 0 ? Int(count) : 0
    }

    /// Opens the CUDA libraries, picks device `ordinal`, and compiles (or loads from the disk cache) the
    /// kernels for its architecture. `hostWait` says how host threads wait for the device (default:
    /// ``HostWait/fromEnvironment``); it applies to the device's primary context, so to every backend on it.
    public init(
        ordinal: Int = 0, kernelCacheDirectory: URL? = CUDABackend.defaultKernelCacheDirectory,
        hostWait: HostWait = .fromEnvironment
    ) throws {
        var driver = try CUDADriver()
        try driver.check(driver.cuInit(0), "cuInit")
        var count: Int32 = 0
        try driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount")
        guard count > ordinal else { throw CUDAError.noDevice }
        var handle: CUdevice = 0
        try driver.check(driver.cuDeviceGet(&handle, Int32(ordinal)), "cuDeviceGet")
        func attribute(_ attribute: Int) throws -> Int {
            var value: Int32 = 0
            try driver.check(
                driver.cuDeviceGetAttribute(&value, Int32(attribute), handle), "cuDeviceGetAttribute(\(attribute))")
            return Int(value)
        }
        var nameBytes = [CChar](repeating: 0, count: 256)
        try driver.check(driver.cuDeviceGetName(&nameBytes, 255, handle), "cuDeviceGetName")
        let deviceName = CString.decode(nameBytes)
        let major = try attribute(LYCHEE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        let minor = try attribute(LYCHEE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        guard major >= 8 else {
            throw CUDAError.unsupportedDevice(name: deviceName, computeCapability: "\(major).\(minor)")
        }
        var version: Int32 = 0
        try driver.check(driver.cuDriverGetVersion(&version), "cuDriverGetVersion")
        // Before the context is made; a driver too old to change an active primary context keeps its flags.
        if let flags = hostWait.contextFlags, let setFlags = driver.cuDevicePrimaryCtxSetFlags {
            _ = setFlags(handle, flags)
        }
        driver.blockingEvents = hostWait == .block
        var context: CUcontext?
        try driver.check(driver.cuDevicePrimaryCtxRetain(&context, handle), "cuDevicePrimaryCtxRetain")
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
        let blas = try CUBLASLtLibrary()
        let nvrtc = try NVRTCLibrary()
        let pool = DeviceMemoryPool(driver: driver)
        let usage = pool.deviceUsage()
        let info = DeviceInfo(
            name: deviceName, computeCapability: (major, minor),
            multiprocessors: try attribute(LYCHEE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
            sharedMemoryPerMultiprocessor: try attribute(
                LYCHEE_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR),
            totalMemoryBytes: usage.total, driverVersion: Int(version),
            libraries: [driver.library.path, blas.library.path, nvrtc.library.path])
        let compiler = KernelCompiler(
            nvrtc: nvrtc, architecture: info.compilerArchitecture, driverVersion: version,
            cacheDirectory: kernelCacheDirectory)
        self.baselineDeviceBytes = usage.used
        self.driver = driver
        self.context = context
        self.pool = pool
        self.device = info
        self.kernels = try KernelModule(driver: driver, compiler: compiler)
        self.matmul = try MatmulEngine(blas: blas, driver: driver, pool: pool)
        self.staging = try? HostStaging(driver: driver)
        self.downloads =
            ProcessInfo.processInfo.environment["LYCHEE_ASYNC_DOWNLOADS"] == "0"
            ? nil : try? HostDownloads(driver: driver, context: context)
        self.fp8TensorCores = hasFP8TensorCores
        self.wideAttention = AttentionWideKernelSource.runsWell(
            sharedMemoryPerMultiprocessor: info.sharedMemoryPerMultiprocessor)
        self.hopperAttentionChosen = ProcessInfo.processInfo.environment["LYCHEE_HOPPER_ATTENTION"] != "0"
        self.packedAttention = ProcessInfo.processInfo.environment["LYCHEE_PACKED_ATTENTION"] != "0"
        self.fusedWindowAttentionChosen = ProcessInfo.processInfo.environment["LYCHEE_FUSED_WINDOW_ATTENTION"] != "0"
    }

    /// `$LYCHEE_KERNEL_CACHE`, else `$XDG_CACHE_HOME/lychee-rerank/kernels`, else
    /// `~/.cache/lychee-rerank/kernels`: where compiled kernels are kept between runs.
    public static var defaultKernelCacheDirectory: URL { KernelCompiler.defaultCacheDirectory() }

    /// Waits until the device has finished all queued work; reports a failed kernel by name.
    public func synchronize() throws {
        try enter()
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
    }

    /// Device memory figures now, with the peak since the last reset.
    public func memoryStatistics() -> MemoryStatistics {
        let usage = pool.deviceUsage()
        return MemoryStatistics(
            peakDeviceUsedBytes: max(pool.peakDeviceUsedBytes, usage.used), currentDeviceUsedBytes: usage.used,
            totalBytes: usage.total, pooledBytes: pool.bytesFromDriver,
            peakLiveBytes: pool.peakLiveBytes)
    }

    /// Starts a new peak measurement.
    public func resetPeakMemory() { pool.resetPeak() }

    /// Makes the backend's context current on the calling thread.
    func enter() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
        if opTimeline.active { opTimeline.record(label: nil, driver: driver) }
        guard profile.active else { return }
        try driver.check(driver.cuCtxSynchronize(), "profile (cuCtxSynchronize)")
        profile.hostGap()
    }

    /// While profiling: waits for the device and books the time since the last point under `key`.
    func profilePoint(_ key: @autoclosure () -> String) throws {
        if opTimeline.active { opTimeline.record(label: key(), driver: driver) }
        guard profile.active else { return }
        try driver.check(driver.cuCtxSynchronize(), "profile (cuCtxSynchronize)")
        profile.point(key())
    }

    /// After an op: in checking mode, wait and report a kernel failure under the op's name.
    func finish(_ op: @autoclosure () -> String) throws {
        try profilePoint(op())
        guard synchronizeEveryOp else { return }
        try driver.check(driver.cuCtxSynchronize(), "\(op()) (cuCtxSynchronize)")
    }

    // MARK: Memory

    /// A new uninitialised bf16 device tensor.
    func makeTensor(shape: [Int], dtype: DType = .bf16) throws -> Tensor {
        let count = try Tensor.elementCount(of: shape)
        let storage = try CUDAStorage(pool: pool, byteCount: count * dtype.byteSize)
        return try Tensor(shape: shape, dtype: dtype, storage: storage)
    }

    /// The device address of `tensor`'s first element; throws for tensors of other backends or dtypes.
    func address(_ tensor: Tensor, op: String, argument: String, dtype: DType = .bf16) throws -> CUdeviceptr {
        guard let storage = tensor.storage as? CUDAStorage else {
            throw TensorError.foreignTensor(op: op, expected: "CUDA device", found: tensor.storage.deviceName)
        }
        guard tensor.dtype == dtype else {
            throw TensorError.unsupportedDType(op: op, argument: argument, dtype: tensor.dtype, supported: [dtype])
        }
        return storage.pointer + CUdeviceptr(tensor.byteOffset)
    }

    /// Copies host bytes into a new device tensor.
    func deviceCopy(of bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) throws -> Tensor {
        let tensor = try makeTensor(shape: shape, dtype: dtype)
        guard bytes.count > 0, let base = bytes.baseAddress else { return tensor }
        let pointer = try address(tensor, op: "upload", argument: "destination", dtype: dtype)
        try driver.check(driver.cuMemcpyHtoD(pointer, base, bytes.count), "cuMemcpyHtoD(\(bytes.count) bytes)")
        return tensor
    }

    /// A new device tensor whose bytes `fill` writes on the host: through the page-locked staging ring
    /// (an asynchronous copy, so the host does not wait for the device), else a plain copy.
    func stagedTensor(
        shape: [Int], dtype: DType, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws -> Tensor {
        let tensor = try makeTensor(shape: shape, dtype: dtype)
        guard tensor.byteCount > 0 else { return tensor }
        let pointer = try address(tensor, op: "upload", argument: "destination", dtype: dtype)
        if let staging {
            try staging.upload(byteCount: tensor.byteCount, to: pointer, fill: fill)
        } else {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: tensor.byteCount, alignment: 64)
            defer { scratch.deallocate() }
            try fill(scratch)
            guard let scratchBase = scratch.baseAddress else { return tensor }
            try driver.check(
                driver.cuMemcpyHtoD(pointer, scratchBase, scratch.count),
                "cuMemcpyHtoD(\(scratch.count) bytes)")
        }
        return tensor
    }

    /// Uploads a small host index list as a device buffer of int32 (typed f32 only for its 4-byte size).
    /// The caller keeps the returned tensor alive until its kernel is queued; the pool reuses the block
    /// only for later work on the same stream.
    func deviceIndices(_ values: [Int32]) throws -> (tensor: Tensor, pointer: CUdeviceptr) {
        let tensor = try stagedTensor(shape: [values.count], dtype: .f32) { target in
            values.withUnsafeBytes { target.copyMemory(from: $0) }
        }
        return (tensor, try address(tensor, op: "indices", argument: "indices", dtype: .f32))
    }
}
