// Token bucket per host (and path prefix), from the documented rate limits. Pure, with injected time.

/// Paces requests so that no window of `windowSeconds` ever holds more than `perWindow` of them:
/// a burst of 10 % of the limit plus a refill of the other 90 % per window (burst + rate × window ≤ limit).
public struct TokenBucket: Sendable, Equatable {
    public let limit: Int
    public let window: Double
    public let burst: Double
    public let ratePerSecond: Double
    public private(set) var tokens: Double
    public private(set) var updated: Double
    /// Times of the requests inside the last window (for usage).
    private var log: [Double] = []

    /// - Parameter now: seconds on a monotonic clock.
    public init(perWindow: Int, windowSeconds: Double, now: Double) {
        limit = max(perWindow, 1)
        window = max(windowSeconds, 0.001)
        burst = max(1, Double(limit) / 10).rounded(.down)
        ratePerSecond = (Double(limit) - burst) / window
        tokens = burst
        updated = now
    }

    private mutating func refill(_ now: Double) {
        guard now > updated else { return }
        tokens = min(burst, tokens + (now - updated) * ratePerSecond)
        updated = now
        log.removeAll { now - $0 >= window }
    }

    /// Takes a token now (returns 0) or says how many seconds until one is free (takes nothing).
    public mutating func take(now: Double) -> Double {
        refill(now)
        // Rounding can leave a hair under one token; a wait below the clock's resolution would spin.
        if tokens >= 1 - 1e-9 {
            tokens = max(0, tokens - 1)
            log.append(now)
            return 0
        }
        return ratePerSecond > 0 ? (1 - tokens) / ratePerSecond : window
    }

    /// Fraction of the documented limit used in the last window (0…1).
    public mutating func usage(now: Double) -> Double {
        refill(now)
        return Double(log.count) / Double(limit)
    }
}
