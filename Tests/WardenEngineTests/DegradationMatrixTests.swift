// Issue 16 #1: the degradation matrix is one table; every row raises its reason with its effect and clears it with
// the recovery and its duration, driven by hand-made observations on a manual clock.
import Foundation
import Testing
import WardenCore
@testable import WardenEngine

@Suite("Degradation matrix")
struct DegradationMatrixTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("every row: raised once with its effect, refreshed silently, cleared with a recovery that says how long", arguments: DegradationMatrix.rows.map(\.code))
    func raiseAndClear(_ code: ReasonCode) throws {
        var control = TradingControl()
        let market = code == .marketStale ? "m7" : nil
        let fact = DegradationFact(since: t0, marketID: market, detail: "3.2% free", place: "/var/lib/warden", bound: "10%")
        let raised = try #require(DegradationMatrix.assess(code, bad: true, fact, now: t0, control: &control))
        #expect(raised.kind == .paused && raised.alert)
        #expect(raised.key == (market.map { "\(code.rawValue):\($0)" } ?? code.rawValue))
        #expect(control.has(code, marketID: market))
        // The effect: entries stop (globally, or for the one market); PAUSED blocks exits too, the live venue's
        // reasons (drift, reads failing, cancel-only) leave exits (reduce-only).
        #expect(control.blocking(.entry, marketID: "m7")?.code == code)
        if code.effect == .REDUCING {
            #expect(control.blocking(.exit, marketID: "m7") == nil && control.effective == .REDUCING)
        } else {
            #expect(control.blocking(.exit, marketID: "m7")?.code == code)
        }
        if market != nil {
            #expect(control.blocking(.entry, marketID: "m1") == nil && control.effective == .ACTIVE, "a market's reason blocks that market only")
        } else if code.effect != .REDUCING {
            #expect(control.effective == .PAUSED)
        }
        #expect(DegradationMatrix.assess(code, bad: true, DegradationFact(since: t0.addingTimeInterval(5), marketID: market), now: t0, control: &control) == nil,
                "still bad: nothing new is said")
        #expect(control.reasons.first?.since == t0, "a refreshed reason keeps its since")
        let later = t0.addingTimeInterval(42)
        let cleared = DegradationMatrix.assess(code, bad: false, DegradationFact(since: later, marketID: market, detail: "30.0% free"), now: later, control: &control)
        if code == .apiHealth {
            #expect(cleared == nil && control.has(code), "the API health guard ends by its cooldown, not by one good observation")
        } else {
            let c = try #require(cleared)
            #expect(c.kind == .resumed && c.severity == .info && c.duration == 42)
            #expect(!control.has(code, marketID: market) && control.blocking(.entry, marketID: "m7") == nil)
            #expect(DegradationMatrix.assess(code, bad: false, fact, now: later, control: &control) == nil, "cleared once")
        }
    }

    @Test("the texts operators see are the rows' own")
    func texts() throws {
        var control = TradingControl()
        let stale = try #require(DegradationMatrix.assess(.dataStale, bad: true, DegradationFact(since: t0, detail: "order book refresh failed: timeout"),
                                                          now: t0, control: &control))
        #expect(stale.severity == .critical)
        #expect(stale.message.hasPrefix("market data stale since ") && stale.message.hasSuffix("; entries paused (order book refresh failed: timeout)"))
        #expect(control.reasons.first?.message.hasSuffix("(order book refresh failed: timeout)") == true)
        let disk = try #require(DegradationMatrix.assess(.diskLow, bad: true, DegradationFact(since: t0, detail: "3.2% free", place: "/s", bound: "10%"),
                                                         now: t0, control: &control))
        #expect(disk.message == "disk nearly full (3.2% free in /s); entries paused before writes fail")
        #expect(control.reasons.last?.message == "3.2% free in /s, below 10%; entries paused")
        let back = try #require(DegradationMatrix.assess(.diskLow, bad: false, DegradationFact(since: t0, detail: "30.0% free"), now: t0, control: &control))
        #expect(back.message == "disk space back (30.0% free)")
    }

    @Test("a reason with an expiry ends by itself, said with how long it lasted")
    func expiry() throws {
        var control = TradingControl()
        _ = DegradationMatrix.assess(.apiHealth, bad: true, DegradationFact(since: t0, detail: "h: error rate 50%", expiresAt: t0.addingTimeInterval(30)),
                                     now: t0, control: &control)
        #expect(DegradationMatrix.expire(now: t0.addingTimeInterval(29), control: &control).isEmpty)
        let gone = DegradationMatrix.expire(now: t0.addingTimeInterval(30), control: &control)
        #expect(gone.map(\.key) == ["api_health"] && gone.first?.duration == 30 && gone.first?.kind == .resumed)
        #expect(control.effective == .ACTIVE)
    }

    @Test("every degradation reason has a row; operator and risk reasons have none")
    func coverage() {
        let rows = Set(DegradationMatrix.rows.map(\.code))
        for code in ReasonCode.allCases {
            if code == .journalUnusable { continue }  // raised once at start, never cleared while running
            #expect(rows.contains(code) == (code.source == .degradation), "\(code)")
        }
    }
}
