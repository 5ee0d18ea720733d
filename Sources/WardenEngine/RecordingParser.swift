// The recorder's own `books` lines read without Foundation's JSONDecoder: a day of book snapshots is hundreds of
// megabytes of JSON, and decoding it generically was most of a backtest's work. Only the exact shape the recorder
// writes is taken (keys it knows, numbers, plain strings); anything else — another record kind, an unknown key, an
// escaped string, a fraction where an integer belongs — returns nil and the line goes through JSONDecoder, which
// remains the definition of the format (a test holds the two to the same records).
import Foundation
import WardenPolymarket
import WardenCore

extension ReplayRecord {
    /// One recording line: the recorder's books lines through `RecordingParser`, anything else through JSONDecoder.
    static func decode(line: ArraySlice<UInt8>) throws -> ReplayRecord {
        if let r = RecordingParser.books(line) { return r }
        return try decoder.decode(ReplayRecord.self, from: Data(line))
    }
}

enum RecordingParser {
    /// The record on this line, or nil when it is not a plain books record in the recorder's shape.
    static func books(_ line: ArraySlice<UInt8>) -> ReplayRecord? {
        line.withUnsafeBufferPointer { buf -> ReplayRecord? in
            guard let base = buf.baseAddress else { return nil }
            var s = Scanner(p: base, end: base + buf.count)
            return s.record()
        }
    }

    private struct Scanner {
        var p: UnsafePointer<UInt8>
        let end: UnsafePointer<UInt8>

        mutating func skipSpace() {
            while p < end, p.pointee == 0x20 || p.pointee == 0x0A || p.pointee == 0x0D || p.pointee == 0x09 { p += 1 }
        }

        mutating func take(_ c: UInt8) -> Bool {
            skipSpace()
            guard p < end, p.pointee == c else { return false }
            p += 1
            return true
        }

        /// A string without escapes.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = p
            while p < end, p.pointee != UInt8(ascii: "\"") {
                if p.pointee == UInt8(ascii: "\\") || p.pointee < 0x20 { return nil }
                p += 1
            }
            guard p < end else { return nil }
            let s = String(decoding: UnsafeBufferPointer(start: start, count: p - start), as: UTF8.self)
            p += 1
            return s
        }

        /// An integer (what Int64 decoding takes: no fraction, no exponent).
        mutating func integer() -> Int64? {
            skipSpace()
            var negative = false
            if p < end, p.pointee == UInt8(ascii: "-") { negative = true; p += 1 }
            var v: Int64 = 0, digits = 0
            // JSON has no leading zeros: "07" is not a number (JSONDecoder refuses it; so does this).
            if p + 1 < end, p.pointee == 0x30, p[1] >= 0x30, p[1] <= 0x39 { return nil }
            while p < end, p.pointee >= 0x30, p.pointee <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(p.pointee - 0x30))
                guard !o1, !o2 else { return nil }
                v = a; digits += 1; p += 1
            }
            guard digits > 0, p >= end || (p.pointee != UInt8(ascii: ".") && p.pointee != UInt8(ascii: "e") && p.pointee != UInt8(ascii: "E")) else { return nil }
            return negative ? -v : v
        }

        /// Any JSON number as a Double (strtod on the number's own bytes).
        mutating func double() -> Double? {
            skipSpace()
            let start = p
            while p < end, let c = Optional(p.pointee), (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { p += 1 }
            let n = p - start
            guard n > 0, n < 64 else { return nil }
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { tmp -> Double? in
                for i in 0..<n { tmp[i] = CChar(bitPattern: start[i]) }
                tmp[n] = 0
                var stop: UnsafeMutablePointer<CChar>?
                let v = strtod(tmp.baseAddress!, &stop)
                guard stop == tmp.baseAddress! + n, v.isFinite else { return nil }
                return v
            }
        }

        /// `{...}` with a callback per key; false when the object is not well formed or a key is refused.
        mutating func object(_ field: (inout Scanner, String) -> Bool) -> Bool {
            guard take(UInt8(ascii: "{")) else { return false }
            if take(UInt8(ascii: "}")) { return true }
            repeat {
                guard let key = string(), take(UInt8(ascii: ":")), field(&self, key) else { return false }
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "}"))
        }

        /// `[...]` with a callback per element.
        mutating func array(_ element: (inout Scanner) -> Bool) -> Bool {
            guard take(UInt8(ascii: "[")) else { return false }
            if take(UInt8(ascii: "]")) { return true }
            repeat {
                guard element(&self) else { return false }
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]"))
        }

        mutating func level() -> BookLevel? {
            var price: Int64?, size: Int64?
            let ok = object { s, key in
                switch key {
                case "price": price = s.integer(); return price != nil
                case "size": size = s.integer(); return size != nil
                default: return false
                }
            }
            guard ok, let price, let size else { return nil }
            return BookLevel(price: price, size: size)
        }

        /// `[...]` of elements `one` reads; nil when one of them is not what it takes.
        mutating func list<T>(_ one: (inout Scanner) -> T?) -> [T]? {
            var out: [T] = []
            let ok = array { s in
                guard let v = one(&s) else { return false }
                out.append(v)
                return true
            }
            return ok ? out : nil
        }

        mutating func book() -> OrderBook? {
            var token: String?, bids: [BookLevel]?, asks: [BookLevel]?, tick: Int64?, minimum: Int64?
            var bookTime: Double?, observed: Double?, hash: String?, changed: Double?
            let ok = object { s, key in
                switch key {
                case "tokenID": token = s.string(); return token != nil
                case "bids": bids = s.list { $0.level() }; return bids != nil
                case "asks": asks = s.list { $0.level() }; return asks != nil
                case "tickSize": tick = s.integer(); return tick != nil
                case "minOrderSize": minimum = s.integer(); return minimum != nil
                case "bookTime": bookTime = s.double(); return bookTime != nil
                case "observedAt": observed = s.double(); return observed != nil
                case "hash": hash = s.string(); return hash != nil
                case "changedAt": changed = s.double(); return changed != nil
                default: return false
                }
            }
            guard ok, let token, let bids, let asks, let tick, let minimum, let observed else { return nil }
            var b = OrderBook(tokenID: token, bids: [], asks: [], tickSize: tick, minOrderSize: minimum,
                              bookTime: bookTime.map { Date(timeIntervalSince1970: $0) }, observedAt: Date(timeIntervalSince1970: observed), hash: hash)
            // As decoded: the levels as written (the initializer would sort and filter them).
            b.bids = bids
            b.asks = asks
            b.changedAt = changed.map { Date(timeIntervalSince1970: $0) }
            return b
        }

        mutating func record() -> ReplayRecord? {
            var at: Double?, kind: String?, books: [OrderBook]?, partial: Bool?, gone: [String]?
            let ok = object { s, key in
                switch key {
                case "at": at = s.double(); return at != nil
                case "kind": kind = s.string(); return kind == "books"
                case "books": books = s.list { $0.book() }; return books != nil
                case "partial":
                    if s.take(UInt8(ascii: "t")), s.literal("rue") { partial = true; return true }
                    if s.take(UInt8(ascii: "f")), s.literal("alse") { partial = false; return true }
                    return false
                case "gone": gone = s.list { $0.string() }; return gone != nil
                default: return false
                }
            }
            skipSpace()
            guard ok, p == end, let at, kind == "books", let books else { return nil }
            return ReplayRecord(kind: .books, at: at, books: books, partial: partial, gone: gone)
        }

        mutating func literal(_ rest: String) -> Bool {
            for c in rest.utf8 {
                guard p < end, p.pointee == c else { return false }
                p += 1
            }
            return true
        }
    }
}
