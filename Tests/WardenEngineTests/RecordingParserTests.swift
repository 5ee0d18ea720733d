// The recorder's books lines are read by a parser of their own (JSONDecoder was most of a backtest's work); JSONDecoder
// stays the definition of the format: the two must give the same records, and anything else goes to JSONDecoder.
import Foundation
import WardenPolymarket
import Testing
import WardenCore
@testable import WardenEngine

@Suite("Recording parser")
struct RecordingParserTests {
    static func book(_ token: String, hash: String?, time: Date?, changed: Date? = nil) -> OrderBook {
        var b = OrderBook(tokenID: token, bids: [BookLevel(price: 400_000, size: 12_340_000), BookLevel(price: 390_000, size: 1)],
                          asks: [BookLevel(price: 420_000, size: 99_000_000)], tickSize: 10_000, minOrderSize: 5_000_000,
                          bookTime: time, observedAt: Date(timeIntervalSince1970: 1_795_768_037.1600757), hash: hash)
        b.changedAt = changed
        return b
    }

    static func same(_ a: ReplayRecord, _ b: ReplayRecord) -> Bool {
        a.kind == b.kind && a.at == b.at && a.partial == b.partial && a.gone == b.gone && a.books == b.books
            && a.markets == nil && b.markets == nil && a.changes == nil && b.changes == nil
    }

    @Test("books records as the recorder writes them parse to what JSONDecoder gives, field for field")
    func agreesWithJSONDecoder() throws {
        var unsorted = Self.book("702", hash: nil, time: nil)
        unsorted.bids = [BookLevel(price: 10_000, size: 5), BookLevel(price: 20_000, size: 0)]  // as written, not re-sorted
        let records = [
            ReplayRecord(kind: .books, at: 1_790_000_005, books: [Self.book("700020", hash: "1", time: Date(timeIntervalSince1970: 1_790_000_005)),
                                                                  Self.book("700021", hash: "0xabc", time: nil, changed: Date(timeIntervalSince1970: 12.5))]),
            ReplayRecord(kind: .books, at: 1_790_000_010.25, books: [unsorted], partial: true, gone: ["700022", "700023"]),
            ReplayRecord(kind: .books, at: 1_790_000_015, books: [], partial: true),
        ]
        for r in records {
            let line = try r.line().dropLast()  // without its newline, as the reader gives it
            let fast = try #require(RecordingParser.books(ArraySlice(line)), "parsed: \(String(decoding: line, as: UTF8.self))")
            let slow = try ReplayRecord.decoder.decode(ReplayRecord.self, from: line)
            #expect(Self.same(fast, slow), "\(String(decoding: line, as: UTF8.self))")
        }
    }

    @Test("anything but the recorder's books shape goes to JSONDecoder: other kinds, unknown keys, escapes, fractions, leading zeros")
    func fallsBack() throws {
        let m = Market(id: "1", tokens: [OutcomeToken(tokenID: "a", outcome: "Yes")], tickSize: 10_000, minOrderSize: 1)
        let markets = try ReplayRecord(kind: .markets, at: 1, markets: [m]).line().dropLast()
        let deltas = try ReplayRecord(kind: .deltas, at: 2, changes: [LevelChange(tokenID: "a", side: .bid, price: 1, size: 1, hash: nil)]).line().dropLast()
        for line in [markets, deltas] { #expect(RecordingParser.books(ArraySlice(line)) == nil) }
        let good = #"{"at":5,"books":[{"asks":[],"bids":[{"price":400000,"size":1}],"minOrderSize":1,"observedAt":5,"tickSize":10000,"tokenID":"a"}],"kind":"books"}"#
        #expect(RecordingParser.books(ArraySlice(Array(good.utf8)))?.books?.first?.bids.first?.price == 400_000)
        for bad in [good.replacingOccurrences(of: #""tokenID":"a""#, with: #""tokenID":"a\"b""#),
                    good.replacingOccurrences(of: #""price":400000"#, with: #""price":400000.5"#),
                    good.replacingOccurrences(of: #""price":400000"#, with: #""price":0400000"#),
                    good.replacingOccurrences(of: #""kind":"books""#, with: #""kind":"books","extra":1"#),
                    good + " x", String(good.dropLast())] {
            #expect(RecordingParser.books(ArraySlice(Array(bad.utf8))) == nil, "\(bad)")
        }
        // What falls back still reads as JSONDecoder reads it (an escaped token id is a fine record).
        let escaped = good.replacingOccurrences(of: #""tokenID":"a""#, with: #""tokenID":"a\"b""#)
        #expect(try ReplayRecord.decode(line: ArraySlice(Array(escaped.utf8))).books?.first?.tokenID == "a\"b")
    }
}
