// Circuit breaker per host: closed → open after repeated failures → half-open probe → closed. Pure.

public struct CircuitBreaker: Sendable, Equatable {
    public enum State: String, Sendable, Codable { case closed, open, halfOpen = "half-open" }
    public struct Settings: Sendable, Equatable {
        /// Consecutive failures that open the circuit.
        public var failureThreshold = 5
        /// How long it stays open before one probe is let through.
        public var openSeconds = 30.0
        public init() {}
    }

    public let settings: Settings
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    public private(set) var openedAt: Double?
    public private(set) var probeInFlight = false
    public private(set) var timesOpened = 0

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Whether a request may go now. In half-open, only one probe at a time.
    public mutating func allow(now: Double) -> Bool {
        switch state {
        case .closed:
            return true
        case .open:
            guard let at = openedAt, now - at >= settings.openSeconds else { return false }
            state = .halfOpen
            probeInFlight = true
            return true
        case .halfOpen:
            if probeInFlight { return false }
            probeInFlight = true
            return true
        }
    }

    public mutating func recordSuccess() {
        state = .closed
        consecutiveFailures = 0
        openedAt = nil
        probeInFlight = false
    }

    public mutating func recordFailure(now: Double) {
        consecutiveFailures += 1
        probeInFlight = false
        if state == .halfOpen || consecutiveFailures >= settings.failureThreshold {
            if state != .open { timesOpened += 1 }
            state = .open
            openedAt = now
        }
    }

    /// Seconds until the next probe is allowed, when open.
    public func retryIn(now: Double) -> Double? {
        guard state == .open, let at = openedAt else { return nil }
        return max(0, settings.openSeconds - (now - at))
    }
}
