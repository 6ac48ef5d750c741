/// Bounds the requests the server works on at once (`maxConcurrent`) and those waiting for a turn
/// (`maxWaiting`); beyond both, a request is refused at once so that the client can back off.
actor AdmissionGate {
    /// Requests worked on at once.
    let maxConcurrent: Int
    /// Requests allowed to wait for a turn.
    let maxWaiting: Int
    private(set) var active = 0
    private var waiters = [CheckedContinuation<Void, Never>]()
    private let metrics: ServerMetrics?

    /// A gate with the given bounds (`maxConcurrent` at least 1, `maxWaiting` at least 0).
    init(maxConcurrent: Int, maxWaiting: Int, metrics: ServerMetrics? = nil) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxWaiting = max(0, maxWaiting)
        self.metrics = metrics
    }

    /// Requests waiting for a turn.
    var waiting: Int { waiters.count }

    /// Waits for a turn; returns false, without waiting, when the waiting line is full.
    func enter() async -> Bool {
        if active < maxConcurrent {
            active += 1
            report()
            return true
        }
        guard waiters.count < maxWaiting else { return false }
        await withCheckedContinuation { waiters.append($0) }
        // `leave()` handed its slot over: `active` already counts this request.
        return true
    }

    /// Ends a turn, handing the slot to the longest waiting request if any.
    func leave() {
        if waiters.isEmpty {
            active -= 1
        } else {
            waiters.removeFirst().resume()
        }
        report()
    }

    private func report() {
        metrics?.requestsInFlight.record(active)
        metrics?.requestsWaiting.record(waiters.count)
    }
}
