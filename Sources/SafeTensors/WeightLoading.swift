/// How the bytes of a safetensors file reach memory.
public enum WeightLoading: String, Sendable, CaseIterable {
    /// Mapped read-only (`MAP_PRIVATE`): nothing is copied and pages load on first use, but the file must
    /// not be truncated or rewritten in place while it is in use (a truncated mapping faults with SIGBUS).
    case memoryMapped
    /// Read into memory once: later changes to the file on disk do not affect the process.
    case readIntoMemory
}
