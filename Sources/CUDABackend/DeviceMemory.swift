import CCUDA
import Foundation
import TensorKit

/// A caching allocator over `cuMemAlloc`.
///
/// Freed blocks go back to a free list keyed by their rounded size and are handed out again: the
/// model's shapes repeat from layer to layer, so after the first layer nearly every request is a
/// reuse, and no allocation synchronises the device. All work runs on one stream in order, so a block
/// freed by the host can be reused by the next op safely. When the driver runs out of memory the
/// cached blocks are released and the allocation is tried once more.
final class DeviceMemoryPool: @unchecked Sendable {
    private let driver: CUDADriver
    private let lock = NSLock()
    private var freeBlocks: [Int: [CUdeviceptr]] = [:]
    private(set) var bytesFromDriver = 0
    /// Largest `total - free` the driver reported, sampled after every fresh allocation.
    private(set) var peakDeviceUsedBytes = 0
    /// Fill new blocks with 0xFF (bf16 NaN) so that unwritten outputs show up in checks.
    var poisonAllocations = false
    /// When set, the cache of free blocks is handed back to the driver before the pool would grow past
    /// this many bytes (the working set itself may still exceed it).
    var softLimitBytes: Int?

    init(driver: CUDADriver) {
        self.driver = driver
        samplePeak()
    }

    /// Sizes are rounded so that near-equal requests share blocks: 512 bytes below 1 MiB, 2 MiB above.
    static func roundedSize(_ bytes: Int) -> Int {
        let unit = bytes < (1 << 20) ? 512 : (2 << 20)
        return max(unit, (bytes + unit - 1) / unit * unit)
    }

    /// A block of at least `bytes`, with its real size: the smallest cached block that fits without
    /// wasting more than a quarter (plus one rounding unit), else a new one from the driver.
    func allocate(_ bytes: Int) throws -> (pointer: CUdeviceptr, size: Int) {
        let size = Self.roundedSize(bytes)
        if let reused = takeCached(size) {
            if poisonAllocations { try driver.check(driver.cuMemsetD8(reused.pointer, 0xFF, reused.size), "cuMemsetD8") }
            return reused
        }
        if let softLimitBytes, bytesFromDriver + size > softLimitBytes { try releaseCached() }
        var pointer: CUdeviceptr = 0
        var result = driver.cuMemAlloc(&pointer, size)
        if result == 2 {  // CUDA_ERROR_OUT_OF_MEMORY: hand the cache back and retry once.
            try releaseCached()
            result = driver.cuMemAlloc(&pointer, size)
            if result == 2 {
                var free = 0, total = 0
                _ = driver.cuMemGetInfo(&free, &total)
                throw CUDAError.outOfMemory(requestedBytes: size, freeBytes: free, totalBytes: total)
            }
        }
        try driver.check(result, "cuMemAlloc(\(size) bytes)")
        lock.lock()
        bytesFromDriver += size
        lock.unlock()
        samplePeak()
        if poisonAllocations { try driver.check(driver.cuMemsetD8(pointer, 0xFF, size), "cuMemsetD8") }
        return (pointer, size)
    }

    /// Best fit among the cached blocks, within the waste allowance.
    private func takeCached(_ size: Int) -> (pointer: CUdeviceptr, size: Int)? {
        lock.lock()
        defer { lock.unlock() }
        if let exact = freeBlocks[size]?.popLast() { return (exact, size) }
        let limit = size + size / 4 + (size < (1 << 20) ? 512 : (2 << 20))
        guard let best = freeBlocks.keys.filter({ $0 > size && $0 <= limit && !(freeBlocks[$0]?.isEmpty ?? true) }).min(),
            let pointer = freeBlocks[best]?.popLast()
        else { return nil }
        return (pointer, best)
    }

    /// Returns a block to the cache.
    func release(_ pointer: CUdeviceptr, size: Int) {
        lock.lock()
        freeBlocks[size, default: []].append(pointer)
        lock.unlock()
    }

    /// Frees every cached block (after the device finished with them).
    func releaseCached() throws {
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
        lock.lock()
        let blocks = freeBlocks
        freeBlocks = [:]
        lock.unlock()
        for (size, pointers) in blocks {
            for pointer in pointers {
                try driver.check(driver.cuMemFree(pointer), "cuMemFree")
                lock.lock()
                bytesFromDriver -= size
                lock.unlock()
            }
        }
    }

    /// The driver's view of the device: (used by every process, total).
    func deviceUsage() -> (used: Int, total: Int) {
        var free = 0, total = 0
        guard driver.cuMemGetInfo(&free, &total) == 0 else { return (0, 0) }
        return (total - free, total)
    }

    private func samplePeak() {
        let used = deviceUsage().used
        lock.lock()
        peakDeviceUsedBytes = max(peakDeviceUsedBytes, used)
        lock.unlock()
    }

    /// Forgets the peak so far (the next sample starts a new one).
    func resetPeak() {
        let used = deviceUsage().used
        lock.lock()
        peakDeviceUsedBytes = used
        lock.unlock()
    }
}

/// Device memory behind a CUDA tensor; the block returns to the pool when the last handle goes.
final class CUDAStorage: TensorStorage, @unchecked Sendable {
    let pointer: CUdeviceptr
    let byteCount: Int
    private let allocatedSize: Int
    private let pool: DeviceMemoryPool
    var deviceName: String { "CUDA device" }

    init(pool: DeviceMemoryPool, byteCount: Int) throws {
        let block = try pool.allocate(max(byteCount, 1))
        self.pointer = block.pointer
        self.allocatedSize = block.size
        self.byteCount = byteCount
        self.pool = pool
    }

    deinit { pool.release(pointer, size: allocatedSize) }
}

/// Host memory behind a tensor the CUDA backend keeps off the device: the embedding table, whose rows
/// are gathered on the host and uploaded per batch. Wraps checkpoint bytes (no copy) or owns a copy.
final class HostTableStorage: TensorStorage, @unchecked Sendable {
    let base: UnsafeRawPointer
    let byteCount: Int
    private let owner: AnyObject?
    private let ownsMemory: Bool
    var deviceName: String { "host (CUDA backend embedding table)" }

    init(bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        if let owner, let address = bytes.baseAddress {
            base = address
            ownsMemory = false
            self.owner = owner
        } else {
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
            if let address = bytes.baseAddress { copy.copyMemory(from: address, byteCount: bytes.count) }
            base = UnsafeRawPointer(copy)
            ownsMemory = true
            self.owner = nil
        }
        byteCount = bytes.count
    }

    deinit { if ownsMemory { UnsafeMutableRawPointer(mutating: base).deallocate() } }
}
