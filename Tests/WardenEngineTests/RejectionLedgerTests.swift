// Issue 17 #5: a rejection is counted once while it persists; every distinct reason is shown with its count.
import Testing
import WardenPolymarket
import WardenIPC
@testable import WardenEngine

@Suite("Rejection ledger")
struct RejectionLedgerTests {
    @Test("the same bad market on every discovery is one rejection; it counts again only after it went away")
    func persistence() {
        var l = RejectionLedger()
        let bad = Rejection(item: "market 7", reason: "tick size 0.05 is not a power of ten")
        for _ in 0..<13 { l.record([bad], from: .discovery) }
        #expect(l.total == 1 && l.current == 1)
        l.record([], from: .discovery)
        #expect(l.current == 0)
        #expect(l.record([bad], from: .discovery).count == 1)
        #expect(l.total == 2)
        l.record([Rejection(item: "book 1", reason: "crossed book")], from: .books)
        #expect(l.current == 2, "sources are kept apart: a book refresh does not clear discovery's rejections")
    }

    @Test("every distinct reason with its count and one example, most items first")
    func summary() {
        var l = RejectionLedger()
        l.record([Rejection(item: "market 1", reason: "fee unknown"), Rejection(item: "market 2", reason: "fee unknown"),
                  Rejection(item: "market 3", reason: "bad endDate"), Rejection(item: "market 3", reason: "bad endDate")], from: .discovery)
        let s = l.summary()
        #expect(s == [RejectionSummary(reason: "fee unknown", count: 2, example: "market 1"),
                      RejectionSummary(reason: "bad endDate", count: 1, example: "market 3")])
        #expect(l.total == 3, "a duplicate inside one answer counts once")
    }
}
