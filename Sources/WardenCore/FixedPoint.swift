// Exact money: prices, shares and dollars as integer millionths, so accounting invariants hold exactly.

/// Millionths. Prices are micro-dollars per share (0…1_000_000), shares are micro-shares, money micro-dollars.
public typealias Micros = Int64

public enum Fixed {
    public static let one: Micros = 1_000_000

    /// Parses a decimal string ("0.15", "100", "1e-3" rejected) into millionths; nil when malformed.
    public static func parse(_ text: String) -> Micros? {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty, s.count <= 32 else { return nil }
        var negative = false
        var body = Substring(s)
        if body.first == "-" { negative = true; body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let intPart = parts.first, !(intPart.isEmpty && (parts.count < 2 || parts[1].isEmpty)) else { return nil }
        guard intPart.allSatisfy(\.isASCIIDigit), intPart.count <= 12 else { return nil }
        var value = Int64(intPart.isEmpty ? "0" : String(intPart))! * one
        if parts.count == 2 {
            let frac = parts[1]
            guard frac.allSatisfy(\.isASCIIDigit) else { return nil }
            let digits = String(frac.prefix(6)).padding(toLength: 6, withPad: "0", startingAt: 0)
            value += Int64(digits)!
        }
        return negative ? -value : value
    }

    /// From a Double (API numbers); nil for NaN or infinities.
    public static func from(_ d: Double) -> Micros? {
        guard d.isFinite, abs(d) < 9e12 else { return nil }
        return Micros((d * 1e6).rounded())
    }

    /// price × shares, rounded up (what a buyer pays).
    public static func costUp(_ price: Micros, _ shares: Micros) -> Micros {
        let (q, r) = (price * shares).quotientAndRemainder(dividingBy: one)
        return r > 0 ? q + 1 : q
    }

    /// price × shares, rounded down (what a seller receives).
    public static func proceedsDown(_ price: Micros, _ shares: Micros) -> Micros {
        (price * shares) / one
    }

    public static func double(_ m: Micros) -> Double { Double(m) / 1e6 }

    /// "12.345678" without trailing zeros beyond two decimals.
    public static func text(_ m: Micros, decimals: Int = 2) -> String {
        let neg = m < 0
        let a = abs(m)
        let whole = a / one
        var frac = String(a % one)
        frac = String(repeating: "0", count: 6 - frac.count) + frac
        var shown = String(frac.prefix(max(decimals, 0)))
        let rest = frac.dropFirst(shown.count)
        if rest.contains(where: { $0 != "0" }) { shown = String(frac.reversed().drop { $0 == "0" }.reversed()) }
        return (neg ? "-" : "") + "\(whole)" + (shown.isEmpty ? "" : ".\(shown)")
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

import Foundation
