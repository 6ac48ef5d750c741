import CCUDA
import Foundation

/// How a host thread waits for the device (a pass's scores, a copy to the host, a staging slot).
///
/// The driver's own choice (``driver``) spins a core for as long as the device is busy when the machine has
/// more cores than CUDA contexts: the engine thread then burns a core through every pass, and a thread waiting
/// for an image's copy to the host another, which the host's preparation (image decoding, tokenizing, JSON)
/// does not get. ``block`` sleeps until the device signals instead.
public enum HostWait: String, Sendable, CaseIterable {
    /// The driver's heuristic (spin where there are more cores than contexts, else yield).
    case driver
    /// Spin on the core.
    case spin
    /// Spin, yielding the core to other threads.
    case yield
    /// Sleep until the device signals (also for the backend's own events).
    case block

    /// `LYCHEE_GPU_WAIT` (driver, spin, yield or block) when set, else ``block``.
    public static var fromEnvironment: HostWait {
        ProcessInfo.processInfo.environment["LYCHEE_GPU_WAIT"].flatMap(HostWait.init(rawValue:)) ?? .block
    }

    /// The primary context's scheduling flags (nil: leave the driver's).
    var contextFlags: UInt32? {
        switch self {
        case .driver: nil
        case .spin: UInt32(LYCHEE_CU_CTX_SCHED_SPIN)
        case .yield: UInt32(LYCHEE_CU_CTX_SCHED_YIELD)
        case .block: UInt32(LYCHEE_CU_CTX_SCHED_BLOCKING_SYNC)
        }
    }
}
