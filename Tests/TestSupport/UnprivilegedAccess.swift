import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs file-system code as an ordinary user even when the tests run as root (whose permission checks always
/// pass), so that "permission denied" paths can be tested anywhere.
///
/// As root, the calling thread's file-system user id is switched to `nobody` (65534) with `setfsuid`, which
/// drops root's file-permission overrides for that thread only, and switched back afterwards. `body` must be
/// synchronous: it has to run on the calling thread.
public enum UnprivilegedAccess {
    public static func run<T>(_ body: () throws -> T) throws -> T {
        guard geteuid() == 0 else { return try body() }
        typealias SetFSUID = @convention(c) (UInt32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setfsuid") else {
            throw CocoaError(.featureUnsupported)
        }
        let setfsuid = unsafeBitCast(symbol, to: SetFSUID.self)
        _ = setfsuid(65534)
        defer { _ = setfsuid(0) }
        return try body()
    }
}
