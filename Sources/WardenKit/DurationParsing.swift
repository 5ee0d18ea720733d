// Durations as operators write them in configuration: `250ms`, `10s`, `5m`, `1h`, or bare seconds.

extension Duration {
    /// Parses `250ms`, `1.5s`, `10s`, `5m`, `2h`, `1d`, or a bare number of seconds.
    /// Returns nil for anything else (negative values included).
    public static func parse(config text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !s.isEmpty else { return nil }
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            let number = String(s.dropLast(suffix.count))
            guard let v = Double(number), v >= 0, v.isFinite else { return nil }
            return bounded(v * scale)
        }
        guard let v = Double(s), v >= 0, v.isFinite else { return nil }
        return bounded(v)
    }

    /// Up to 10¹² seconds (tens of thousands of years: any range check then names it as out of range); past that,
    /// nil (not a duration), never an overflow.
    static func bounded(_ seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0, seconds <= 1e12 else { return nil }
        let whole = seconds.rounded(.down)
        return Duration(secondsComponent: Int64(whole), attosecondsComponent: Int64(((seconds - whole) * 1e9).rounded(.down)) * 1_000_000_000)
    }

    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// The duration in whole microseconds (sd_notify's WATCHDOG_USEC unit).
    public var microseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000 + atto / 1_000_000_000_000
    }

    /// Short human form: `250ms`, `10s`, `5m`.
    public var short: String {
        let ms = Int64((seconds * 1000).rounded())
        if ms < 1000 { return "\(ms)ms" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(Double(ms) / 1000)s"
    }
}

import Foundation
