// Issue 14: the order kinds a strategy asks for reach the CLOB as they are (FOK, post-only, GTD with its expiry), a
// resting order fills as a maker when liquidity arrives later (the fake's matching engine; the trade read back from
// `maker_orders` and booked once), and the venue's collateral and order version are checked by preflight and
// answered on submit (balance too low refused; an order version the venue no longer takes halts the venue).
import Foundation
import GRDB
import Synchronization
import Testing
import WardenCore
@testable import WardenEngine
import WardenFakes
import WardenIPC
import WardenPolymarket
import WardenTestKit

@Suite("Live order kinds, maker fills and collateral (engine on the CLOB fake)")
struct LiveOrderKindsTests {
    typealias T = LiveVenueTests
    static let asks = [BookLevel(price: 500_000, size: 6 * Fixed.one)]

    static func start(_ r: T.Rig) async {
        r.fake.setBook(token: T.token, bids: [], asks: asks)
        r.source.asks.withLock { $0 = asks }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
    }

    static func intent(_ r: T.Rig) throws -> Row? { try T.row(r.journal, "SELECT * FROM intents") }

    @Test("a resting order fills as a maker when liquidity crossing it arrives later: each trade read back and booked once, the order done at its size")
    func makerFillsLater() async throws {
        let r = try await T.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        await Self.start(r)
        try await T.eventually("resting on the fake, and the engine told so") {
            try r.fake.openOrders.count == 1 && Self.intent(r)?["status"] as String? == "resting"
        }
        // Someone sells 4 at 0.44: our bid at 0.45 is the maker, at its own price.
        r.fake.setBook(token: T.token, bids: [], asks: [BookLevel(price: 440_000, size: 4 * Fixed.one)])
        await r.engine.reconcileLive()
        #expect(try r.journal.fillCount() == 1)
        var position = await r.engine.core.accounts["live-buyer"]?.positions[T.token]
        #expect(position?.shares == 4 * Fixed.one && position?.costBasis == 1_800_000, "4 at 0.45, the maker's price")
        #expect(await r.engine.core.openOrders.first?.open == 6 * Fixed.one, "6 still resting")
        #expect(r.fake.openOrders.first?.matched == 4 * Fixed.one)
        // More than the rest arrives at the limit: 6 trade, the order is done.
        r.fake.setBook(token: T.token, bids: [], asks: [BookLevel(price: 450_000, size: 20 * Fixed.one)])
        await r.engine.reconcileLive()
        await r.engine.reconcileLive()
        #expect(try r.journal.fillCount() == 2, "each maker trade once, however often read back")
        position = await r.engine.core.accounts["live-buyer"]?.positions[T.token]
        #expect(position?.shares == 10 * Fixed.one && position?.costBasis == 4_500_000)
        let status = try Self.intent(r)?["status"] as String?
        #expect(r.fake.openOrders.isEmpty && status == "filled")
        let ids = try r.journal.read { try String.fetchAll($0, sql: "SELECT venue_trade_id FROM fills ORDER BY id") }
        #expect(ids.count == 2 && ids.allSatisfy { $0.contains(":0x") }, "a maker leg is booked by trade and order: \(ids)")
        #expect(r.fake.submissions == 1)
    }

    @Test("GTD: signed with its expiry, rests on the venue until it, then reconciliation ends it; an expiry under a minute ahead is refused before signing")
    func goodTillDate() async throws {
        let offset = Mutex<TimeInterval>(0)
        let fake = try await ClobFake.start(markets: [.init(tokens: [T.token, T.other])], heartbeatTimeout: 100_000,
                                            clock: { Date().addingTimeInterval(offset.withLock { $0 }) })
        defer { Task { await fake.stop() } }
        let r = try await T.rig(price: 450_000, tif: .goodTillDate, goodFor: 90, fake: fake)
        await Self.start(r)
        try await T.eventually("resting on the fake, and the engine told so") {
            try r.fake.openOrders.count == 1 && Self.intent(r)?["status"] as String? == "resting"
        }
        let expiry = try #require(r.fake.openOrders.first?.expiration)
        #expect(abs(Double(expiry) - Date().timeIntervalSince1970 - 90) < 10, "the intent's expiry, signed into the order")
        #expect(r.fake.openOrders.first?.orderType == "GTD")
        let shown = await r.engine.orders().venue?.orders.first?.kind
        #expect(shown?.hasPrefix("GTD until ") == true, "wardenctl orders and the dashboard say the kind and expiry: \(shown ?? "nil")")
        // The venue's clock passes the expiry: the order leaves its book.
        offset.withLock { $0 = 120 }
        r.fake.checkHeartbeats()
        offset.withLock { $0 = 0 }
        #expect(r.fake.openOrders.isEmpty)
        await r.engine.reconcileLive()
        let row = try #require(try Self.intent(r))
        #expect(row["status"] as String == "cancelled" && (row["note"] as String? ?? "").contains("expired"))

        let soon = try await T.rig(price: 450_000, tif: .goodTillDate, goodFor: 30)
        defer { Task { await soon.fake.stop() } }
        await Self.start(soon)
        try await T.eventually("refused") { (try Self.intent(soon))?["status"] as String? == "rejected" }
        #expect(((try Self.intent(soon))?["note"] as String? ?? "").contains("at least 60 s"))
        #expect(soon.fake.submissions == 0, "refused before signing: nothing sent")
    }

    @Test("FOK that cannot fill whole is refused by the venue with nothing traded; post-only that would cross is refused; post-only inside the spread rests")
    func fillOrKillAndPostOnly() async throws {
        let fok = try await T.rig(price: 550_000, tif: .fillOrKill)
        defer { Task { await fok.fake.stop() } }
        await Self.start(fok)  // 6 offered, 10 asked
        try await T.eventually("FOK refused") { (try Self.intent(fok))?["status"] as String? == "rejected" }
        #expect(((try Self.intent(fok))?["note"] as String? ?? "").contains("FOK"))
        #expect(try fok.journal.fillCount() == 0 && fok.fake.trades.isEmpty && fok.fake.submissions == 1)

        let crossing = try await T.rig(price: 550_000, tif: .resting, postOnly: true)
        defer { Task { await crossing.fake.stop() } }
        await Self.start(crossing)
        try await T.eventually("post-only refused") { (try Self.intent(crossing))?["status"] as String? == "rejected" }
        #expect(((try Self.intent(crossing))?["note"] as String? ?? "").contains("post-only"))
        #expect(crossing.fake.trades.isEmpty)

        let inside = try await T.rig(price: 450_000, tif: .resting, postOnly: true)
        defer { Task { await inside.fake.stop() } }
        await Self.start(inside)
        try await T.eventually("post-only resting") { inside.fake.openOrders.count == 1 }
        #expect((try Self.intent(inside))?["post_only"] as Bool? == true)
        #expect(await inside.engine.orders().venue?.orders.first?.kind == "GTC post-only")
    }

    @Test("collateral: a buy past the balance is refused by the venue; preflight fails on no balance, no allowance or another order version; a version mismatch on submit halts the venue")
    func collateralAndVersion() async throws {
        let r = try await T.rig()
        defer { Task { await r.fake.stop() } }
        let key = try SigningKey(hex: T.keyHex)
        r.fake.setCollateral(key.address, balance: 2 * Fixed.one, allowance: 1_000 * Fixed.one)
        await Self.start(r)
        try await T.eventually("refused for balance") { (try Self.intent(r))?["status"] as String? == "rejected" }
        #expect(((try Self.intent(r))?["note"] as String? ?? "").contains("not enough balance / allowance"))
        #expect(try r.journal.fillCount() == 0)

        let config = LiveVenueConfig(clobURL: r.fake.baseURL, key: key, credentials: try await ClobClient.deriveCredentials(baseURL: r.fake.baseURL, key: key))
        func check(_ name: String) async -> PreflightCheck? { await LiveSetup.checks(config, EngineSettings()).first { $0.name == name } }
        #expect(await check("venue balance")?.outcome == .fail, "2 pUSD cannot pay one order at the default cap of 10")
        #expect(await check("venue order version")?.outcome == .ok)
        r.fake.setCollateral(key.address, balance: 500 * Fixed.one, allowance: 500 * Fixed.one)
        let balance = await check("venue balance"), allowance = await check("venue allowance")
        #expect(balance?.outcome == .ok && allowance?.outcome == .ok)
        r.fake.setCollateral(key.address, balance: 500 * Fixed.one, allowance: 0)
        let none = await check("venue allowance")
        #expect(none?.outcome == .fail && none?.detail.contains("approve") == true)
        r.fake.setOrderVersion(1)
        let version = await check("venue order version")
        #expect(version?.outcome == .fail && version?.detail.contains("version 1") == true)

        // On submit: the venue refuses the order version; live orders halt for this venue, said on status.
        let v = try await T.rig(dir: tempDir())
        defer { Task { await v.fake.stop() } }
        v.fake.setOrderVersion(1)
        await Self.start(v)
        try await T.eventually("halted") { await v.engine.snapshot().venue?.problem?.contains("order_version_mismatch") == true }
    }

    @Test("settlement per trade: MATCHED → MINED → RETRYING → CONFIRMED as the venue says, shown on the orders view and counted on status until confirmed")
    func settlementShown() async throws {
        let r = try await T.rig()
        defer { Task { await r.fake.stop() } }
        await Self.start(r)  // a FAK buy of 10 at 0.55 against 6 offered: one trade
        try await T.eventually("the trade booked") { try r.journal.fillCount() == 1 }
        func settling() async -> [SettlingTradeInfo] { await r.engine.orders().settling ?? [] }
        #expect(await settling().map(\.status) == ["MATCHED"], "booked at MATCHED")
        for (status, retrying) in [("MINED", 0), ("RETRYING", 1)] {
            r.fake.setTradeStatus(status)
            await r.engine.reconcileLive()
            #expect(await settling().map(\.status) == [status])
            let v = try #require(await r.engine.snapshot().venue)
            #expect(v.trades_settling == 1 && v.trades_retrying == retrying)
        }
        r.fake.setTradeStatus("CONFIRMED")
        await r.engine.reconcileLive()
        #expect(await settling().isEmpty)
        #expect(await r.engine.snapshot().venue?.trades_settling == 0)
        #expect(try r.journal.read { try String.fetchOne($0, sql: "SELECT settlement FROM fills") } == "CONFIRMED")
        let budget = try #require(await r.engine.snapshot().venue?.ip_budget_remaining)
        #expect(budget["post_order"] == 3_499 && budget["general"] != nil, "the submission spent one call of the per-IP budget: \(budget)")
    }

    @Test("an expiry no clock reaches (infinite, NaN, past 10^11 s) is refused by the signer, never turned into a uint")
    func impossibleExpiry() throws {
        let signer = IntentSigner(key: try SigningKey(hex: T.keyHex), funder: nil, signatureType: .eoa)
        for e in [Double.infinity, .nan, 1e12, -5] {
            let intent = OrderIntent(strategy: "s", marketID: "m1", tokenID: T.token, side: .buy, kind: .entry, limitPrice: 450_000, shares: 10 * Fixed.one,
                                     reason: "test", timeInForce: .goodTillDate, expiresAt: Date(timeIntervalSince1970: e))
            #expect(throws: SigningError.self) { _ = try signer.order(intent, market: T.market, now: Date()) }
        }
    }
}
