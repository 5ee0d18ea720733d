// Exact money: prices, shares and dollars as integer millionths, so accounting invariants hold exactly.

/// Millionths. Prices are micro-dollars per share (0…1_000_000), shares are micro-shares, money micro-dollars.
public typealias Micros = Int64

public enum Fixed {
    public static let one: Micros = 1_000_000

    /// Parses a decimal string ("0.15", "100", "1e-3" rejected) into millionths; nil when malformed.
    /// Works on the UTF-8 bytes: a digit is one of the ten ASCII bytes, so a combining mark or any other
    /// non-ASCII text is malformed (a `Character` "0\u{301}" sorts between "0" and "9" and is no digit).
    public static func parse(_ text: String) -> Micros? {
        var bytes = Array(text.utf8)
        while let f = bytes.first, f == 0x20 || f == 0x09 { bytes.removeFirst() }
        while let l = bytes.last, l == 0x20 || l == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty, bytes.count <= 32 else { return nil }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        var whole: Int64 = 0
        var intDigits = 0
        while i < bytes.count, bytes[i] != UInt8(ascii: ".") {
            let b = bytes[i]
            guard b >= 0x30, b <= 0x39 else { return nil }
            intDigits += 1
            guard intDigits <= 12 else { return nil }
            whole = whole * 10 + Int64(b - 0x30)
            i += 1
        }
        var frac: Int64 = 0
        var fracDigits = 0
        if i < bytes.count {
            i += 1
            while i < bytes.count {
                let b = bytes[i]
                guard b >= 0x30, b <= 0x39 else { return nil }
                if fracDigits < 6 { frac = frac * 10 + Int64(b - 0x30) }
                fracDigits += 1
                i += 1
            }
        }
        guard intDigits > 0 || fracDigits > 0 else { return nil }
        for _ in min(fracDigits, 6)..<6 { frac *= 10 }
        let value = whole * one + frac
        return negative ? -value : value
    }

    /// From a Double (API numbers); nil for NaN or infinities.
    public static func from(_ d: Double) -> Micros? {
        guard d.isFinite, abs(d) < 9e12 else { return nil }
        return Micros((d * 1e6).rounded())
    }

    /// price × shares, rounded up (what a buyer pays). Computed in 128 bits and saturated at Int64's range,
    /// so a size from outside (up to 10¹² shares) cannot overflow and trap.
    public static func costUp(_ price: Micros, _ shares: Micros) -> Micros {
        let (q, r) = (Int128(price) * Int128(shares)).quotientAndRemainder(dividingBy: Int128(one))
        return saturate(r > 0 ? q + 1 : q)
    }

    /// price × shares, rounded down (what a seller receives).
    public static func proceedsDown(_ price: Micros, _ shares: Micros) -> Micros {
        saturate((Int128(price) * Int128(shares)) / Int128(one))
    }

    static func saturate(_ v: Int128) -> Micros {
        v > Int128(Int64.max) ? .max : v < Int128(Int64.min) ? .min : Micros(v)
    }

    public static func double(_ m: Micros) -> Double { Double(m) / 1e6 }

    /// "12.345678" without trailing zeros beyond two decimals.
    public static func text(_ m: Micros, decimals: Int = 2) -> String {
        let neg = m < 0
        let a = m.magnitude  // UInt64: Int64.min has no positive Int64
        let whole = a / UInt64(one)
        var frac = String(a % UInt64(one))
        frac = String(repeating: "0", count: 6 - frac.count) + frac
        var shown = String(frac.prefix(max(decimals, 0)))
        let rest = frac.dropFirst(shown.count)
        if rest.contains(where: { $0 != "0" }) { shown = String(frac.reversed().drop { $0 == "0" }.reversed()) }
        return (neg ? "-" : "") + "\(whole)" + (shown.isEmpty ? "" : ".\(shown)")
    }
}


import Foundation
