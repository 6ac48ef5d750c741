import CCUDA
import Foundation
import TensorKit

/// Page-locked host memory that device rows are copied into on a stream of their own
/// (``CUDABackend/downloadRowsLater(_:)``): the copy waits for the work queued before it on the default stream,
/// then runs on the copy engine beside the work queued after it, and no host thread waits for it until the rows
/// are wanted (the image cache's hand-over, after the pass has answered).
///
/// Ranges come from segments of ``segmentBytes`` (more are pinned as needed, up to ``mostBytes`` in all; past that
/// ``start(from:bytes:)`` declines and the caller copies synchronously). A range is given back once its copy has
/// finished and its bytes were taken (``finish(_:)``) or abandoned (``abandon(_:)``).
final class HostDownloads: @unchecked Sendable {
    static let segmentBytes = 64 << 20
    static let mostBytes = 512 << 20

    /// One copy in flight: where it lands and the events around it.
    struct Ticket: @unchecked Sendable {
        let address: UInt64
        let bytes: Int
        /// Recorded on the default stream: the rows are written.
        let written: CUevent
        /// Recorded on the copy stream: the rows are on the host.
        let copied: CUevent
    }

    private let driver: CUDADriver
    private let context: CUcontext?
    private let lock = NSLock()
    private var ranges = RangeAllocator()  // guarded by `lock`; addresses are host pointers
    private var spareEvents: [CUevent] = []  // guarded by `lock`
    private let stream: CUstream

    init(driver: CUDADriver, context: CUcontext?) throws {
        self.driver = driver
        self.context = context
        var created: CUstream?
        // 1 = CU_STREAM_NON_BLOCKING: no implicit ordering with the default stream, only the events'.
        try driver.check(driver.cuStreamCreate(&created, 1), "cuStreamCreate")
        guard let created else { throw CUDAError.driver(call: "cuStreamCreate", code: 1, name: "no stream returned") }
        stream = created
    }

    deinit {
        _ = driver.cuCtxSetCurrent(context)
        _ = driver.cuStreamDestroy(stream)
        for event in spareEvents { _ = driver.cuEventDestroy(event) }
        for segment in ranges.segments.keys {
            _ = driver.cuMemFreeHost(UnsafeMutableRawPointer(bitPattern: UInt(segment)))
        }
    }

    /// Queues a copy of `bytes` from `source` after the work already queued on the default stream; nil when the
    /// page-locked memory is used up (the caller copies synchronously instead).
    func start(from source: CUdeviceptr, bytes: Int) throws -> Ticket? {
        try lock.withLock {
            guard let address = try place(bytes) else { return nil }
            do {
                let written = try takeEvent(), copied = try takeEvent()
                try driver.check(driver.cuEventRecord(written, nil), "cuEventRecord")
                try driver.check(driver.cuStreamWaitEvent(stream, written, 0), "cuStreamWaitEvent")
                try driver.check(
                    driver.cuMemcpyDtoHAsync(UnsafeMutableRawPointer(bitPattern: UInt(address)), source, bytes, stream),
                    "cuMemcpyDtoHAsync(\(bytes) bytes)")
                try driver.check(driver.cuEventRecord(copied, stream), "cuEventRecord")
                return Ticket(address: address, bytes: bytes, written: written, copied: copied)
            } catch {
                ranges.free(address)
                throw error
            }
        }
    }

    /// Waits for the copy and returns its bytes (copied out on all cores), giving the range back.
    func finish(_ ticket: Ticket) throws -> [UInt8] {
        defer { giveBack(ticket) }
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
        try driver.check(driver.cuEventSynchronize(ticket.copied), "cuEventSynchronize")
        guard let base = UnsafeRawPointer(bitPattern: UInt(ticket.address)) else { return [] }
        return [UInt8](unsafeUninitializedCapacity: ticket.bytes) { buffer, initialized in
            if let target = buffer.baseAddress {
                ConcurrentRows.copyMemory(to: target, from: base, byteCount: ticket.bytes)
            }
            initialized = ticket.bytes
        }
    }

    /// Gives a copy's range back without its bytes, once the copy has finished.
    func abandon(_ ticket: Ticket) {
        _ = driver.cuCtxSetCurrent(context)
        _ = driver.cuEventSynchronize(ticket.copied)
        giveBack(ticket)
    }

    private func giveBack(_ ticket: Ticket) {
        lock.withLock {
            ranges.free(ticket.address)
            spareEvents.append(ticket.written)
            spareEvents.append(ticket.copied)
        }
    }

    /// A free range of `bytes`, pinning another segment when none is large enough and the total allows.
    private func place(_ bytes: Int) throws -> UInt64? {
        if let address = ranges.allocate(bytes) { return address }
        let size = max(Self.segmentBytes, RangeAllocator.rounded(bytes))
        guard ranges.segmentBytes + size <= Self.mostBytes else { return nil }
        var pointer: UnsafeMutableRawPointer?
        guard driver.cuMemHostAlloc(&pointer, size, 0) == 0, let pointer else { return nil }
        ranges.addSegment(base: UInt64(UInt(bitPattern: pointer)), size: size)
        return ranges.allocate(bytes)
    }

    private func takeEvent() throws -> CUevent { try driver.orderingEvent(reusing: &spareEvents) }
}
