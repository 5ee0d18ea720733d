// Issue 14 with real processes: warden + warden-engine trading one strategy live on the CLOB trading fake (its
// liquidity the Polymarket fake's books) beside paper ones. wardenctl status and orders say the venue's state; a
// submission answered 500 shows as UNKNOWN there until reconciliation finds it; a preflight with a missing key blocks
// the start naming the credential.
import Foundation
import Testing
import WardenCore
import WardenFakes
import WardenIPC
import WardenTestKit

/// The test key (throwaway; it signs orders for the loopback fake only).
let liveTestKey = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

/// A CLOB trading fake beside a Polymarket fake, stopped together with its book feed.
struct LiveBeside: Sendable {
    let clob: ClobFake
    let feed: Task<Void, Never>
    func stop() async { feed.cancel(); await clob.stop() }
}

/// A CLOB trading fake for `scenario`'s markets whose liquidity follows `fake`'s books (refreshed every 200 ms).
func clobBeside(_ fake: PolymarketFake, _ scenario: FakeScenario) async throws -> (ClobFake, Task<Void, Never>) {
    let clob = try await ClobFake.start(markets: scenario.markets.map { ClobFake.Market(tokens: [$0.yesToken, $0.noToken], tickSize: Fixed.parse($0.tick) ?? 10_000) })
    let feed = Task {
        while !Task.isCancelled {
            for b in fake.currentBooks() { clob.setBook(token: b.token, bids: b.bids, asks: b.asks) }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
    return (clob, feed)
}

func liveTree(_ fake: PolymarketFake, _ clob: ClobFake, key: String? = liveTestKey, hooks: String? = nil) throws -> TestTree {
    try engineTree(fake, extraEngine: """
      strategies:
        mean_reversion:
          window: 5
          z_entry: 1.0
      live:
        strategies: [mean_reversion]
        clob_url: \(clob.baseURL)
        max_order: 50
        max_market: 200
        max_day: 10000
        heartbeat: 1s
        reconcile: 1s
    """, program: key.map { """
        env:
          WARDEN_SECRET_POLYMARKET_PRIVATE_KEY: "\($0)"
    """ + (hooks.map { "\n      WARDEN_ENGINE_TEST_HOOKS: \($0)" } ?? "") } ?? "")
}

@Suite("Live trading stack on the fakes", .serialized)
struct LiveStackTests {
    @Test("one strategy trades live on the CLOB fake: its orders are signed, matched and booked; status and `wardenctl orders` show the venue healthy")
    func tradesLive() async throws {
        let scenario = FakeScenario.demo()
        let fake = try await PolymarketFake.start(scenario)
        let (clob, feed) = try await clobBeside(fake, scenario)
        defer { feed.cancel(); Task { await fake.stop(); await clob.stop() } }
        let tree = try liveTree(fake, clob)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let venue = try await eventually("a live order sent and the venue healthy", within: .seconds(90)) {
            let v = try await engineStatus(tree)?.venue
            return v?.status == "healthy" && clob.submissions > 0 ? v : nil
        }
        #expect(venue.strategies == ["mean_reversion"] && venue.heartbeat_age_s != nil)
        let s = try await wardenctl(tree, "status")
        #expect(s.out.contains("live venue polymarket-clob at 127.0.0.1: HEALTHY"), "\(s.out)")
        let o = try await wardenctl(tree, "orders")
        #expect(o.code == 0 && o.out.contains("HEALTHY") && o.out.contains("strategies: mean_reversion"), "\(o.out)")
        let json = try await wardenctl(tree, "orders", "--json")
        let decoded = try JSONDecoder().decode(OrdersResponse.self, from: Data(json.out.utf8))
        #expect(decoded.venue?.status == "healthy")
        await w.stop()
    }

    @Test("F46: a submission answered 500 (placed anyway) is UNKNOWN in status and `wardenctl orders` until reconciliation finds it on the venue")
    func unknownShown() async throws {
        let scenario = FakeScenario.demo()
        let fake = try await PolymarketFake.start(scenario)
        let (clob, feed) = try await clobBeside(fake, scenario)
        defer { feed.cancel(); Task { await fake.stop(); await clob.stop() } }
        clob.setSubmitFault(.failedButPlaced)
        let tree = try liveTree(fake, clob)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        _ = try await eventually("an order of unknown outcome", within: .seconds(90)) {
            (try await engineStatus(tree)?.venue?.unknown_orders ?? 0) > 0 ? true : nil
        }
        // Reconciliation (every second) settles each such order quickly; while the fault lasts new ones keep coming, so
        // each surface is polled until it shows one.
        _ = try await eventually("UNKNOWN in wardenctl orders", within: .seconds(60)) {
            try await wardenctl(tree, "orders").out.contains("UNKNOWN") ? true : nil
        }
        _ = try await eventually("UNKNOWN in wardenctl status", within: .seconds(60)) {
            try await wardenctl(tree, "status").out.contains("live orders UNKNOWN") ? true : nil
        }
        clob.setSubmitFault(.none)
        _ = try await eventually("reconciliation settles every unknown order", within: .seconds(60)) {
            try await engineStatus(tree)?.venue?.unknown_orders == 0 ? true : nil
        }
        await w.stop()
    }

    @Test("F47: the engine killed right after the venue answered an order, before recording it: the restarted engine holds it as UNKNOWN, finds it on the venue, books its trades once and never sends it again")
    func crashBetweenSendAndRecord() async throws {
        let scenario = FakeScenario.demo()
        let fake = try await PolymarketFake.start(scenario)
        let (clob, feed) = try await clobBeside(fake, scenario)
        defer { feed.cancel(); Task { await fake.stop(); await clob.stop() } }
        let tree = try liveTree(fake, clob, hooks: "crash_after_post")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await eventually("the engine killed by the hook and started again", within: .seconds(90)) {
            let p = program(try await status(tree), "engine")
            return (p?.restarts ?? 0) >= 1 && p?.state == "RUNNING" ? p : nil
        }
        #expect(engine.restarts == 1)
        let posted = clob.submissions
        #expect(posted >= 1)
        _ = try await eventually("nothing unknown once reconciled", within: .seconds(60)) {
            let v = try await engineStatus(tree)?.venue
            return v?.unknown_orders == 0 && v?.reconciled_age_s != nil ? true : nil
        }
        let db = tree.root + "/var/lib/engine.db"
        let first = try await sh("sqlite3 '\(db)' \"SELECT id, venue_order_id, status FROM intents WHERE venue = 'clob' ORDER BY created_at LIMIT 1\"")
        let fields = first.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map(String.init)
        #expect(fields.count == 3 && fields[1].hasPrefix("0x") && fields[2] != "open" && fields[2] != "abandoned", "the crashed order was settled: \(first.out)")
        let dup = try await sh("sqlite3 '\(db)' \"SELECT COUNT(*) FROM intents WHERE venue_order_id = '\(fields.count == 3 ? fields[1] : "")'\"")
        #expect(dup.out.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "one intent for the order")
        let trades = try await sh("sqlite3 '\(db)' \"SELECT COUNT(*), COUNT(DISTINCT venue_trade_id) FROM fills WHERE venue_trade_id IS NOT NULL\"")
        let counts = trades.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|")
        #expect(counts.count == 2 && counts[0] == counts[1], "each venue trade booked once: \(trades.out)")
        let log = try await wardenctl(tree, "logs", "engine", "-n", "400")
        #expect(log.out.contains("test hook crash_after_post") && log.out.contains("UNKNOWN until reconciliation"), "\(log.out.suffix(2000))")
        await w.stop()
    }

    @Test("preflight: a live strategy without its private key blocks the start, naming the credential and where to put it")
    func missingKeyBlocks() async throws {
        let scenario = FakeScenario.demo()
        let fake = try await PolymarketFake.start(scenario)
        let (clob, feed) = try await clobBeside(fake, scenario)
        defer { feed.cancel(); Task { await fake.stop(); await clob.stop() } }
        let tree = try liveTree(fake, clob, key: nil)
        let r = try await runTool("warden-engine", ["preflight", "--config", tree.configPath])
        #expect(r.code != 0)
        #expect((r.out + r.err).contains("polymarket_private_key") && (r.out + r.err).contains("WARDEN_SECRET_POLYMARKET_PRIVATE_KEY"), "\(r.out) \(r.err)")
        #expect(clob.submissions == 0)
    }
}
