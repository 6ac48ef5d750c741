import CCUDA
import Foundation
import Testing

@testable import CUDABackend

/// A pretend device of `capacity` bytes for the pool: blocks are numbers from a counter.
final class PretendDevice: DeviceMemoryDriver, @unchecked Sendable {
    let capacity: Int
    private let lock = NSLock()  // guards the fields below
    private var next: CUdeviceptr = 0x1_0000_0000
    private var sizes: [CUdeviceptr: Int] = [:]
    private(set) var takenBytes = 0

    init(capacity: Int = 1 << 30) { self.capacity = capacity }

    func allocate(_ bytes: Int) -> Result<CUdeviceptr, CUDAStatus> {
        lock.withLock {
            guard takenBytes + bytes <= capacity else { return .failure(CUDAStatus(code: 2)) }
            let pointer = next
            next += CUdeviceptr(bytes + (2 << 20))
            sizes[pointer] = bytes
            takenBytes += bytes
            return .success(pointer)
        }
    }

    func free(_ pointer: CUdeviceptr) throws { lock.withLock { takenBytes -= sizes.removeValue(forKey: pointer) ?? 0 } }
    func memoryInfo() -> (free: Int, total: Int)? { lock.withLock { (capacity - takenBytes, capacity) } }
    func synchronize() throws {}
    func fill(_ pointer: CUdeviceptr, byte: UInt8, count: Int) throws {}
    func error(for status: CUDAStatus, call: String) -> any Error {
        CUDAError.driver(call: call, code: status.code, name: "CUDA_ERROR_\(status.code)")
    }
}

@Suite("Device memory pool under a limit (pretend device)")
struct DeviceMemoryPoolTests {
    @Test("small blocks come from the large arena once the small segments' room is used up")
    func smallBlocksSpillIntoTheArena() throws {
        let device = PretendDevice()
        let pool = DeviceMemoryPool(driver: device)
        pool.limitBytes = 256 << 20
        // The first large request takes all the room but the small segments' reserve, as one arena.
        let large = try pool.allocate(64 << 20)
        #expect(pool.bytesFromDriver > 200 << 20)
        // A prefix's per-layer keys and values: 120 blocks of about half a MiB (60 MiB, past the 32 MiB reserve).
        var small = [CUdeviceptr]()
        for _ in 0..<120 { small.append(try pool.allocate(560_128).pointer) }
        #expect(Set(small).count == small.count)
        #expect(pool.bytesFromDriver <= 256 << 20)
        #expect(device.takenBytes <= 256 << 20)
        // Each freed block goes back where it came from: the arena's room is whole again.
        for pointer in small { pool.release(pointer) }
        pool.release(large.pointer)
        #expect(try pool.allocate(200 << 20).size >= 200 << 20)
    }

    @Test("past the limit the pool still refuses, with the retryable error")
    func limitIsKept() throws {
        let pool = DeviceMemoryPool(driver: PretendDevice())
        pool.limitBytes = 128 << 20
        _ = try pool.allocate(64 << 20)
        do {
            for _ in 0..<400 { _ = try pool.allocate(560_128) }
            Issue.record("allocated 220 MiB under a 128 MiB limit")
        } catch let error as CUDAError {
            #expect(error.isOutOfDeviceMemory, "\(error)")
        }
        #expect(pool.bytesFromDriver <= 128 << 20)
    }

    @Test("a device that runs out below the limit: empty segments go back, then the error names the sizes")
    func deviceOutOfMemory() throws {
        let pool = DeviceMemoryPool(driver: PretendDevice(capacity: 100 << 20))
        let first = try pool.allocate(70 << 20)
        pool.release(first.pointer)
        // Needs a segment the device cannot give while the first one is held: the pool hands it back first.
        #expect(try pool.allocate(90 << 20).size >= 90 << 20)
        #expect(throws: CUDAError.self) { _ = try pool.allocate(50 << 20) }
    }
}
