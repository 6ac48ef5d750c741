#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's limit on open file descriptors: every connection takes one, and the common soft limit
/// of 1,024 lets a few hundred idle sockets lock every client out.
public enum DescriptorLimit {
    /// The soft and hard limits before and after a change.
    public struct Change: Sendable, Equatable {
        public var softBefore: UInt64
        public var softAfter: UInt64
        public var hard: UInt64
    }

    /// Raises the soft limit to the hard limit; nil when the limits cannot be read.
    @discardableResult
    public static func raiseSoftToHard() -> Change? {
        var limit = rlimit()
        #if canImport(Glibc)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return nil }
        let before = UInt64(limit.rlim_cur)
        let hard = UInt64(limit.rlim_max)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(resource, &limit) != 0 { return Change(softBefore: before, softAfter: before, hard: hard) }
        }
        return Change(softBefore: before, softAfter: UInt64(limit.rlim_cur), hard: hard)
    }
}
