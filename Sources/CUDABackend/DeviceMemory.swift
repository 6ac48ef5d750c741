import CCUDA
import Foundation
import TensorKit

/// The device memory allocator: segments from `cuMemAlloc`, sub-allocated by ``RangeAllocator``.
///
/// Small requests (under 1 MiB: index lists, norms' weights) come from 4 MiB segments of their own, so
/// that they never split the large ranges activations need; large ones from segments of at least
/// 64 MiB (a request larger than that gets a segment of its own size, which later requests share once
/// it is free). After the first batch nearly every request is served from segments already held: no
/// driver call, no synchronisation. All work runs on one stream in order, so a range freed by the host
/// can be handed to the next op at once.
///
/// With ``limitBytes`` set the pool never holds more than that from the driver: a large request that
/// needs a new segment takes all the room left (less a reserve for small segments) as one arena, so
/// batches of any shape are served from it without driver calls. When a new segment would pass the
/// limit, segments with nothing live in them go back first (after the device finishes with them); when
/// even that is not enough the allocation fails with ``CUDAError/memoryLimitReached``, which the
/// reranker answers by splitting the batch.
final class DeviceMemoryPool: @unchecked Sendable {
    static let smallRequestLimit = 1 << 20
    static let smallSegmentBytes = 4 << 20
    static let largeSegmentBytes = 64 << 20
    /// Segments are whole multiples of the driver's large-page size.
    static let segmentGranularity = 2 << 20
    /// Under a limit, room kept free for small segments when a large request takes the rest as an arena.
    static let smallReserveBytes = 32 << 20

    private let driver: any DeviceMemoryDriver
    private let lock = NSLock()
    private var small = RangeAllocator()
    private var large = RangeAllocator()
    private(set) var bytesFromDriver = 0
    /// Largest `total - free` the driver reported, sampled after every new segment.
    private(set) var peakDeviceUsedBytes = 0
    /// Largest number of bytes live at once (what the work needed, without the pool's slack).
    private(set) var peakLiveBytes = 0
    /// Fill new blocks with 0xFF (bf16 NaN) so that unwritten outputs show up in checks.
    var poisonAllocations = false
    /// The most bytes the pool takes from the driver (weights, activations and free ranges); nil: no bound.
    var limitBytes: Int?

    init(driver: any DeviceMemoryDriver) {
        self.driver = driver
        samplePeak()
    }

    static func segmentSize(forRequest bytes: Int) -> Int {
        let minimum = bytes < smallRequestLimit ? smallSegmentBytes : largeSegmentBytes
        return max(minimum, roundedToGranularity(RangeAllocator.rounded(bytes)))
    }

    static func roundedToGranularity(_ bytes: Int) -> Int {
        (bytes + segmentGranularity - 1) / segmentGranularity * segmentGranularity
    }

    /// A block of at least `bytes`, with its rounded size.
    func allocate(_ bytes: Int) throws -> (pointer: CUdeviceptr, size: Int) {
        let isSmall = bytes < Self.smallRequestLimit
        let block = try lock.withLock { try allocateLocked(bytes, small: isSmall) }
        if poisonAllocations { try driver.fill(block.pointer, byte: 0xFF, count: block.size) }
        return block
    }

    private func allocateLocked(_ bytes: Int, small isSmall: Bool) throws -> (pointer: CUdeviceptr, size: Int) {
        let size = RangeAllocator.rounded(bytes)
        if let address = takeRange(bytes, small: isSmall) { return (address, size) }
        do {
            try addSegment(forRequest: bytes, small: isSmall)
        } catch CUDAError.memoryLimitReached where isSmall {
            // Under a limit the large arena holds nearly all the room: when small segments run out (a prefix's
            // keys and values are dozens of sub-MiB blocks at once), small blocks come from the arena.
            if let address = takeRange(bytes, small: false) { return (address, size) }
            throw CUDAError.memoryLimitReached(
                requestedBytes: size, limitBytes: limitBytes ?? 0, heldBytes: bytesFromDriver)
        }
        guard let address = takeRange(bytes, small: isSmall) else {
            throw CUDAError.memoryLimitReached(
                requestedBytes: size, limitBytes: limitBytes ?? 0, heldBytes: bytesFromDriver)
        }
        return (address, size)
    }

    private func takeRange(_ bytes: Int, small isSmall: Bool) -> CUdeviceptr? {
        let address = isSmall ? small.allocate(bytes) : large.allocate(bytes)
        if address != nil { peakLiveBytes = max(peakLiveBytes, small.liveBytes + large.liveBytes) }
        return address
    }

    /// Takes a new segment from the driver for a request of `bytes`, within the limit.
    private func addSegment(forRequest bytes: Int, small isSmall: Bool) throws {
        let needed = Self.roundedToGranularity(RangeAllocator.rounded(bytes))
        var size = Self.segmentSize(forRequest: bytes)
        if let limitBytes {
            if bytesFromDriver + needed > limitBytes { try releaseEmptySegmentsLocked() }
            let room = limitBytes - bytesFromDriver
            guard needed <= room else {
                throw CUDAError.memoryLimitReached(
                    requestedBytes: RangeAllocator.rounded(bytes), limitBytes: limitBytes, heldBytes: bytesFromDriver)
            }
            // Under a limit, a large request takes all the room left (but a reserve for small segments) as
            // one arena: later batches of other shapes are carved from it, and no segment goes back and forth
            // to the driver between batches (cuMemFree waits for the device).
            let available = isSmall ? min(size, room) : room - Self.smallReserveBytes
            size = max(needed, available / Self.segmentGranularity * Self.segmentGranularity)
        }
        var outcome = driver.allocate(size)
        if case .failure(let status) = outcome, status.isOutOfMemory {
            // Out of device memory: hand back empty segments, retry with the bare need.
            try releaseEmptySegmentsLocked()
            size = needed
            outcome = driver.allocate(size)
            if case .failure(let again) = outcome, again.isOutOfMemory {
                let info = driver.memoryInfo()
                throw CUDAError.outOfMemory(
                    requestedBytes: size, freeBytes: info?.free ?? 0, totalBytes: info?.total ?? 0)
            }
        }
        let pointer: CUdeviceptr
        switch outcome {
        case .success(let address): pointer = address
        case .failure(let status): throw driver.error(for: status, call: "cuMemAlloc(\(size) bytes)")
        }
        if isSmall { small.addSegment(base: pointer, size: size) } else { large.addSegment(base: pointer, size: size) }
        bytesFromDriver += size
        samplePeakLocked()
    }

    /// Returns a block to its segment (the range allocator knows its length).
    func release(_ pointer: CUdeviceptr) {
        lock.withLock {
            if small.free(pointer) == nil { large.free(pointer) }
        }
    }

    private func releaseEmptySegmentsLocked() throws {
        // A range freed by the host may still be read by queued work: let the device finish first.
        try driver.synchronize()
        for segment in small.removeEmptySegments() + large.removeEmptySegments() {
            try driver.free(segment.base)
            bytesFromDriver -= segment.size
        }
    }

    /// The driver's view of the device: (used by every process, total).
    func deviceUsage() -> (used: Int, total: Int) {
        guard let (free, total) = driver.memoryInfo() else { return (0, 0) }
        return (total - free, total)
    }

    private func samplePeak() {
        lock.withLock { samplePeakLocked() }
    }

    private func samplePeakLocked() {
        peakDeviceUsedBytes = max(peakDeviceUsedBytes, deviceUsage().used)
    }

    /// Forgets the peaks so far (the next sample starts a new one).
    func resetPeak() {
        let used = deviceUsage().used
        lock.withLock {
            peakDeviceUsedBytes = used
            peakLiveBytes = small.liveBytes + large.liveBytes
        }
    }
}

/// Device memory behind a CUDA tensor; the block returns to the pool when the last handle goes.
final class CUDAStorage: TensorStorage, @unchecked Sendable {
    let pointer: CUdeviceptr
    let byteCount: Int
    private let pool: DeviceMemoryPool
    var deviceName: String { "CUDA device" }

    init(pool: DeviceMemoryPool, byteCount: Int) throws {
        let block = try pool.allocate(max(byteCount, 1))
        self.pointer = block.pointer
        self.byteCount = byteCount
        self.pool = pool
    }

    deinit { pool.release(pointer) }
}

/// Host memory behind a tensor the CUDA backend keeps off the device: the embedding table, whose rows
/// are gathered on the host and uploaded per batch.
///
/// Always a copy of the bytes it is given, never a view into them: the checkpoint's mapping can then be
/// unmapped once the weights are on the device, so a shard truncated or rewritten on disk later cannot
/// fault (SIGBUS) a running GPU server.
final class HostTableStorage: TensorStorage, @unchecked Sendable {
    let base: UnsafeRawPointer
    let byteCount: Int
    var deviceName: String { "host (CUDA backend embedding table)" }

    init(copying bytes: UnsafeRawBufferPointer) {
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        if let address = bytes.baseAddress { copy.copyMemory(from: address, byteCount: bytes.count) }
        base = UnsafeRawPointer(copy)
        byteCount = bytes.count
    }

    deinit { UnsafeMutableRawPointer(mutating: base).deallocate() }
}
