import Dispatch

/// Reading stored elements as `Float`s on the host.
enum HostFloats {
    /// Converts `row.count` elements of `dtype` at `source` into `row`.
    static func read(_ source: UnsafeRawPointer, dtype: DType, into row: inout [Float]) {
        let count = row.count
        row.withUnsafeMutableBufferPointer { target in
            switch dtype {
            case .f32:
                for i in 0..<count { target[i] = source.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
            case .bf16:
                for i in 0..<count {
                    target[i] = HalfConversion.float(bf16: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                }
            case .f16:
                for i in 0..<count {
                    target[i] = HalfConversion.float(f16: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                }
            case .f8e4m3:
                let bytes = source.assumingMemoryBound(to: UInt8.self)
                for i in 0..<count { target[i] = FP8E4M3.float(bytes[i]) }
            }
        }
    }
}

/// Runs independent blocks of work on every core.
public enum ConcurrentRows {
    /// Calls `body` with each of `0..<count`, on all cores when there is more than one block (and on this
    /// thread for a single one); returns when every call has.
    public static func forEach(count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Calls `body` with consecutive ranges of `0..<length`, each `size` long (the last shorter), on all cores.
    public static func forEachChunk(of length: Int, size: Int, _ body: @Sendable (Range<Int>) -> Void) {
        forEach(count: (length + size - 1) / size) { index in body((index * size)..<min(length, (index + 1) * size)) }
    }

    /// Copies `byteCount` bytes on all cores, a mebibyte a worker (one core writing or reading page-locked
    /// memory takes milliseconds for the tens of megabytes of a cached prefix or a pass's images).
    public static func copyMemory(to target: UnsafeMutableRawPointer, from source: UnsafeRawPointer, byteCount: Int) {
        // Each worker copies its own chunk; both buffers outlive the workers.
        nonisolated(unsafe) let output = target
        nonisolated(unsafe) let input = source
        forEachChunk(of: byteCount, size: 1 << 20) { chunk in
            (output + chunk.lowerBound).copyMemory(from: input + chunk.lowerBound, byteCount: chunk.count)
        }
    }
}
