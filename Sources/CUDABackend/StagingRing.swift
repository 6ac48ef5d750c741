/// Where the next upload goes in a ring of page-locked host memory, and which earlier copies must finish
/// first. Pure bookkeeping (no CUDA calls), so it is tested without a GPU.
///
/// Regions are handed out in order; each stays in flight until the copy that reads it is known to have
/// finished (its token is retired). Free space is `[head, capacity) + [0, oldest start)` while the ring
/// has not wrapped, `[head, oldest start)` once it has.
struct StagingRing {
    /// What ``reserve(_:)`` found.
    enum Reservation: Equatable {
        /// The region starts at this offset; call ``commit(offset:length:token:)`` once its copy is queued.
        case fits(offset: Int)
        /// No room yet: wait for the copy with this token (the oldest in flight), ``retireOldest()``, retry.
        case waitFor(token: Int)
        /// Larger than the whole ring.
        case tooLarge
    }

    let capacity: Int
    private(set) var head = 0
    private var inFlight: [(start: Int, end: Int, token: Int)] = []
    private var first = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Regions whose copies may still be running.
    var inFlightCount: Int { inFlight.count - first }

    /// The token of the oldest region in flight.
    var oldestToken: Int? { first < inFlight.count ? inFlight[first].token : nil }

    func reserve(_ length: Int) -> Reservation {
        guard length <= capacity else { return .tooLarge }
        guard first < inFlight.count else { return .fits(offset: 0) }
        let tail = inFlight[first].start
        let oldest = inFlight[first].token
        if head > tail {
            if capacity - head >= length { return .fits(offset: head) }
            if tail >= length { return .fits(offset: 0) }
            return .waitFor(token: oldest)
        }
        if head < tail, tail - head >= length { return .fits(offset: head) }
        // head == tail with regions in flight: the ring is full.
        return .waitFor(token: oldest)
    }

    /// Records a region handed out by ``reserve(_:)`` as in flight under `token`.
    mutating func commit(offset: Int, length: Int, token: Int) {
        if first == inFlight.count { head = 0 }
        inFlight.append((offset, offset + length, token))
        head = offset + length
    }

    /// Forgets the oldest region (its copy has finished) and returns its token.
    @discardableResult
    mutating func retireOldest() -> Int? {
        guard first < inFlight.count else { return nil }
        let token = inFlight[first].token
        first += 1
        if first == inFlight.count {
            inFlight.removeAll(keepingCapacity: true)
            first = 0
            head = 0
        } else if first >= 1024 {
            inFlight.removeFirst(first)
            first = 0
        }
        return token
    }
}
