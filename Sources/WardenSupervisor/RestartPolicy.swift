// Restart timing: jittered exponential backoff and the restart-intensity window. Pure functions.
public import WardenKit

public enum RestartPolicy {
    /// Delay before restart number `failures` (1 = first failure) of a child that was not stable.
    /// - Parameter jitterUnit: a random value in -1…1, scaled by the configured jitter fraction.
    public static func nextDelay(after failures: Int, _ backoff: BackoffSettings, jitterUnit: Double) -> Duration {
        let exponent = Double(max(failures, 1) - 1)
        let raw = backoff.initial.seconds * pow(backoff.multiplier, min(exponent, 64))
        let capped = min(raw, backoff.max.seconds)
        let jittered = capped * (1 + max(-1, min(1, jitterUnit)) * backoff.jitter)
        return .nanoseconds(Int64(max(jittered, 0) * 1e9))
    }

    /// True when `restarts` (instants, any order) holds more than `max_restarts` within the window ending at `now`.
    public static func exceedsIntensity(_ restarts: [MonotonicInstant], now: MonotonicInstant, _ intensity: IntensitySettings) -> Bool {
        restarts.filter { now - $0 <= intensity.window }.count > intensity.maxRestarts
    }
}

import Foundation
