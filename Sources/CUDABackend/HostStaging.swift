import CCUDA
import Foundation

/// Page-locked host memory through which the backend uploads per-batch data (index lists, rotary tables,
/// pixels, embedding rows) with `cuMemcpyHtoDAsync`.
///
/// A copy from ordinary (pageable) memory makes the host wait until the device has finished all queued
/// work; from page-locked memory it is queued like a kernel, so the host can run ahead and queue the next
/// layers while the device computes. Each region stays reserved until an event recorded after its copy
/// has completed (``StagingRing``); the ring grows when one upload is larger than it.
final class HostStaging: @unchecked Sendable {
    static let initialCapacity = 64 << 20

    private let driver: CUDADriver
    private let lock = NSLock()
    private var base: UnsafeMutableRawPointer
    private var ring: StagingRing
    /// The event of each in-flight region, by token.
    private var events: [Int: CUevent] = [:]
    private var spareEvents: [CUevent] = []
    private var nextToken = 0

    init(driver: CUDADriver, capacity: Int = HostStaging.initialCapacity) throws {
        self.driver = driver
        base = try Self.allocatePinned(driver: driver, bytes: capacity)
        ring = StagingRing(capacity: capacity)
    }

    deinit {
        for event in events.values + spareEvents { _ = driver.cuEventDestroy(event) }
        _ = driver.cuMemFreeHost(base)
    }

    private static func allocatePinned(driver: CUDADriver, bytes: Int) throws -> UnsafeMutableRawPointer {
        var pointer: UnsafeMutableRawPointer?
        try driver.check(driver.cuMemHostAlloc(&pointer, bytes, 0), "cuMemHostAlloc(\(bytes) bytes)")
        guard let pointer else {
            throw CUDAError.driver(call: "cuMemHostAlloc(\(bytes) bytes)", code: 2, name: "no memory returned")
        }
        return pointer
    }

    /// Lets `fill` write `byteCount` bytes into staging memory, then queues their copy to `destination`
    /// on the default stream. Returns before the copy has run.
    func upload(
        byteCount: Int, to destination: CUdeviceptr, fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        guard byteCount > 0 else { return }
        try lock.withLock {
            let length = (byteCount + 255) / 256 * 256
            retireFinished()
            let offset = try place(length)
            let region = UnsafeMutableRawBufferPointer(start: base + offset, count: byteCount)
            try fill(region)
            try driver.check(
                driver.cuMemcpyHtoDAsync(destination, region.baseAddress, byteCount, nil),
                "cuMemcpyHtoDAsync(\(byteCount) bytes)")
            let event = try takeEvent()
            try driver.check(driver.cuEventRecord(event, nil), "cuEventRecord")
            let token = nextToken
            nextToken += 1
            events[token] = event
            ring.commit(offset: offset, length: length, token: token)
        }
    }

    /// An offset with `length` free bytes, waiting for old copies or growing the ring as needed.
    private func place(_ length: Int) throws -> Int {
        while true {
            switch ring.reserve(length) {
            case .fits(let offset):
                return offset
            case .waitFor(let token):
                if let event = events[token] {
                    try driver.check(driver.cuEventSynchronize(event), "cuEventSynchronize")
                }
                retire(ring.retireOldest())
            case .tooLarge:
                try grow(toHold: length)
            }
        }
    }

    /// Replaces the ring with one twice the size needed, once every copy from the old one has finished.
    private func grow(toHold length: Int) throws {
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize")
        while let token = ring.retireOldest() { retire(token) }
        let capacity = max(2 * length, 2 * ring.capacity)
        let larger = try Self.allocatePinned(driver: driver, bytes: capacity)
        _ = driver.cuMemFreeHost(base)
        base = larger
        ring = StagingRing(capacity: capacity)
    }

    /// Retires the oldest regions whose copies have already finished (no waiting).
    private func retireFinished() {
        while let token = ring.oldestToken, let event = events[token], driver.cuEventQuery(event) == 0 {
            retire(ring.retireOldest())
        }
    }

    private func retire(_ token: Int?) {
        guard let token, let event = events.removeValue(forKey: token) else { return }
        spareEvents.append(event)
    }

    private func takeEvent() throws -> CUevent { try driver.orderingEvent(reusing: &spareEvents) }
}
