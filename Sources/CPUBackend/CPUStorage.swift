import TensorKit

/// Host memory behind a CPU tensor: either an aligned allocation this object owns, or external
/// bytes (a memory-mapped checkpoint) kept valid by retaining their owner.
///
/// `@unchecked Sendable`: the pointer and size never change; the elements are written only by ops
/// that just allocated the storage, or by `scatterRows`, whose caller owns the destination.
final class CPUStorage: TensorStorage, @unchecked Sendable {
    /// First byte.
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// False for external bytes: ops never write into them.
    let isWritable: Bool
    /// Keeps external bytes alive; nil for owned memory.
    private let owner: AnyObject?

    var deviceName: String { "CPU" }

    /// Alignment of owned allocations: a cache line, so SIMD loads never straddle one needlessly.
    static let alignment = 64

    /// Allocates `byteCount` uninitialised bytes.
    init(allocating byteCount: Int) {
        self.base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        self.byteCount = byteCount
        self.isWritable = true
        self.owner = nil
    }

    /// Wraps external bytes without copying; `owner` is retained for the storage's lifetime.
    init(wrapping base: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        // Never written through (isWritable is false); mutable only to share one pointer type.
        self.base = UnsafeMutableRawPointer(mutating: base)
        self.byteCount = byteCount
        self.isWritable = false
        self.owner = owner
    }

    deinit {
        if owner == nil { base.deallocate() }
    }
}
