// Write-ahead by construction: the actions that send an order begin with its journal write, and a performer that
// fails that write performs nothing after it, whatever the venue (here the real paper venue on a hand-made book).
import Foundation
import Testing
import WardenCore
import WardenEngine
import WardenTestKit

private struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full" } }

@Suite("Engine actions")
struct EngineActionTests {
    static let intent = OrderIntent(strategy: "s", marketID: "m1", tokenID: "yes", side: .buy, kind: .entry,
                                    limitPrice: 500_000, shares: 10 * Fixed.one, reason: "test")

    @Test("sending an order is its intent's journal write, then the venue request, in that order")
    func sendOrder() {
        #expect(OrderFlow.send(Self.intent) == [.journal(.intent(Self.intent)), .venue(.submit(Self.intent))])
    }

    @Test("a failed journal write is followed by no venue request: the venue never sees the order, nothing fills")
    func failedWriteSendsNothing() {
        var venue = PaperVenue()
        let m = market(), b = book("yes", asks: [(0.48, 100)])
        var requests: [VenueRequest] = []
        let outcome = ActionPerformer.perform(OrderFlow.send(Self.intent), journal: { _ in throw DiskFull() }, venue: { r in
            requests.append(r)
            return venue.handle(r, market: m, book: b, at: t0)
        })
        #expect(requests.isEmpty && outcome.reports.isEmpty && outcome.performed == 1)
        #expect(outcome.failed?.write == .intent(Self.intent) && outcome.failed?.error == "disk full")
        #expect(venue.openOrders.isEmpty)
    }

    @Test("a written intent reaches the venue after its write, and the paper fill comes back")
    func writtenThenSent() {
        var venue = PaperVenue()
        let m = market(), b = book("yes", asks: [(0.48, 100)])
        var order: [String] = []
        let outcome = ActionPerformer.perform(OrderFlow.send(Self.intent), journal: { _ in order.append("journal") }, venue: { r in
            order.append("venue")
            return venue.handle(r, market: m, book: b, at: t0)
        })
        #expect(order == ["journal", "venue"] && outcome.failed == nil && outcome.performed == 2)
        guard case .filled(let fill, let open)? = outcome.reports.first else {
            Issue.record("no fill: \(outcome.reports)")
            return
        }
        #expect(fill.shares == 10 * Fixed.one && fill.averagePrice == 480_000 && open == 0)
    }

    @Test("the same actions against the same book give the same reports (no clock, no randomness inside)")
    func deterministic() {
        func run() -> [VenueReport] {
            var venue = PaperVenue()
            let m = market(), b = book("yes", asks: [(0.48, 4), (0.49, 3), (0.50, 100)])
            return ActionPerformer.perform(OrderFlow.send(Self.intent), journal: { _ in }, venue: { venue.handle($0, market: m, book: b, at: t0) }).reports
        }
        #expect(run() == run() && !run().isEmpty)
    }
}

@Suite("Intent ids")
struct IntentIDsTests {
    @Test("orders are numbered within a run under the run's prefix; a run that finds its own ids in the journal continues after them")
    func numbering() throws {
        var ids = IntentIDs(run: "bt")
        #expect([ids.next(), ids.next(), ids.next()] == ["bt-1", "bt-2", "bt-3"])
        #expect(IntentIDs.runPrefix(startedAt: Date(timeIntervalSince1970: 1_795_749_729.744)) == String(1_795_749_729_744, radix: 36))
        let dir = try ScratchDirectory()
        let (journalOpen, _) = try Journal.open(path: dir.path + "/j.db", backupsDir: dir.path + "/backups", durable: false)
        for id in ["r1-1", "r1-2", "r10-1"] {
            try journalOpen.recordIntent(OrderIntent(id: id, strategy: "s", marketID: "m", tokenID: "t", side: .buy, kind: .entry,
                                                     limitPrice: 500_000, shares: Fixed.one, reason: "test"), at: t0)
        }
        var again = IntentIDs(run: "r1", issued: try journalOpen.intentCount(idPrefix: "r1"))
        #expect(again.next() == "r1-3", "r10's ids are another run's")
    }
}
