// Issue 14's rows: the stack with mean_reversion trading live on the CLOB trading fake (its liquidity the market
// fake's books) beside the paper strategies, one venue fault injected through the fake, the five rules checked.
// Faults met on a submission are detected when the strategy next sends an order, so their bounds are wider.
import Foundation
import GRDB
import WardenCore
import WardenFakes
import WardenIPC
import WardenPolymarket

extension Catalogue {
    static let live: [Scenario] = [f44, f45, f46, f48, f49, f50, f51, f52, f53, f54, f55]

    /// Caps a strategy's usual orders fit in (the demo book's orders are worth about 25).
    static func liveOptions(_ extra: String = "    max_order: 100\n    max_market: 1000\n    max_day: 1000000") -> StackOptions {
        var o = StackOptions()
        o.live = true
        o.liveExtra = extra
        return o
    }

    /// A live scenario: waits for the venue to be healthy, injects, watches the surfaces, then `after` (the written
    /// response) and `clear` with the recovery said on the channel.
    static func liveFault(_ id: String, _ title: String, _ scenario: String, detect: Double, options: StackOptions = liveOptions(),
                          inject: @escaping @Sendable (Run, ClobFake) async throws -> Void, sight: Sight,
                          after: (@Sendable (Run, ClobFake) async throws -> Void)? = nil,
                          clear: (@Sendable (ClobFake) -> Void)? = nil, recovery: String? = nil) -> Scenario {
        var s = Scenario(id: id, title: title, scenario: scenario) { run in
            guard let clob = run.stack.clob else { throw ChaosError("the stack has no CLOB fake") }
            await run.eventually("the live venue healthy", within: .seconds(30)) { await run.engine()?.venue?.status == "healthy" ? true : nil }
            let mark = run.mark, t0 = ContinuousClock.now
            try await inject(run, clob)
            await run.see(sight, from: t0, mark: mark, detectBound: detect)
            if let after { try await after(run, clob) }
            if let clear {
                clear(clob)
                if let recovery { await run.recoveryOnChannel(recovery, since: mark) }
            }
        }
        s.options = options
        return s
    }

    /// The engine's journal, read-only (the scenario looks up what the engine booked).
    static func journalRow(_ run: Run, _ sql: String) throws -> Row? {
        var c = Configuration()
        c.readonly = true
        return try DatabaseQueue(path: run.stack.stateDir + "/engine.db", configuration: c).read { try Row.fetchOne($0, sql: sql) }
    }

    /// A client of the fake signing with the stack's key (what another bot on the same wallet would be).
    static func walletClient(_ clob: ClobFake) async throws -> (ClobClient, SigningKey) {
        let key = try SigningKey(hex: chaosLiveKey)
        return (ClobClient(baseURL: clob.baseURL, key: key, credentials: try await ClobClient.deriveCredentials(baseURL: clob.baseURL, key: key)), key)
    }

    /// Posts a resting buy far under the market on the wallet, tagged `tag` (nil: untagged, not Warden's).
    static func postOnWallet(_ clob: ClobFake, tag: String?, salt: Int) async throws -> String {
        let (client, key) = try await walletClient(clob)
        let order = try ClobOrder.limit(key: key, tokenID: "9001", side: .buy, price: 10_000, size: 10 * Fixed.one, tick: 10_000,
                                        salt: String(salt), timestamp: UInt64(Date().timeIntervalSince1970 * 1000), tag: tag)
        return try await client.post(try SignedClobOrder(order: order, domain: .ctfV2, key: key), type: .gtc).orderID
    }

    static let f44 = liveFault("F44", "venue reads failing",
                               "the CLOB fake answers 500 to /data/orders and /data/trades (reconcile every 1 s): after 3 failures in a row venue_reads (exits only), alert; reads back: cleared by itself",
                               detect: 8, inject: { _, clob in clob.setReadsFailing(true) },
                               sight: Sight(status: { reason($0, "venue_reads") != nil && $0.engine?.trading_state == "REDUCING" },
                                            metrics: { ($0.value("warden_trading_reason_active", ["code": "venue_reads"]) ?? 0) > 0 },
                                            channel: { any($0, "live venue reads failing") }),
                               clear: { $0.setReadsFailing(false) }, recovery: "live venue reads work again")

    static let f45 = liveFault("F45", "order reconciliation drift",
                               "an order tagged with an intent the journal has as ended is put on the wallet and its cancels refused: drift at each reconciliation, cancels attempted, after 3 in a row reconcile_drift (reduce-only), alert; cancels work again: the order cancelled, cleared",
                               detect: 8,
                               inject: { run, clob in
                                   let ended = await run.eventually("a live order of the strategy ended in the journal", within: .seconds(60)) {
                                       try? journalRow(run, "SELECT id FROM intents WHERE venue = 'clob' AND status IN ('filled', 'partial', 'cancelled', 'rejected') LIMIT 1")?["id"] as String?
                                   }
                                   guard let ended else { throw ChaosError("no live order ended") }
                                   clob.setCancelsRefused(true)
                                   _ = try await postOnWallet(clob, tag: ended, salt: 4501)
                               },
                               sight: Sight(status: { reason($0, "reconcile_drift") != nil && $0.engine?.trading_state == "REDUCING" },
                                            metrics: { ($0.value("warden_trading_reason_active", ["code": "reconcile_drift"]) ?? 0) > 0 },
                                            channel: { any($0, "order reconciliation drift") }),
                               clear: { $0.setCancelsRefused(false) }, recovery: "reconciliation agrees with the journal again")

    static let f46 = liveFault("F46", "unknown outcome",
                               "POST /order answers 500 \"could not run the execution\" with the order placed: UNKNOWN on every surface, never re-sent; the fault cleared, reconciliation finds it and settles it once",
                               detect: 30, inject: { _, clob in clob.setSubmitFault(.failedButPlaced) },
                               sight: Sight(status: { ($0.engine?.venue?.unknown_orders ?? 0) > 0 },
                                            metrics: { ($0.value("warden_venue_orders_unknown") ?? 0) > 0 },
                                            channel: { any($0, "outcome UNKNOWN") }),
                               after: { run, clob in
                                   clob.setSubmitFault(.none)
                                   await run.eventually("every unknown order settled by reconciliation", within: .seconds(30)) {
                                       await run.engine()?.venue?.unknown_orders == 0 ? true : nil
                                   }
                               },
                               clear: { _ in }, recovery: "of unknown outcome")

    static let f48 = liveFault("F48", "heartbeat unhealthy",
                               "the CLOB fake stops acknowledging heartbeats (heartbeat 1 s; unhealthy past 10 s): no new live orders, alert; acknowledged again: healthy, open orders re-read, recovery said",
                               detect: 14, inject: { _, clob in clob.setHeartbeatsRefused(true) },
                               sight: Sight(status: { $0.engine?.venue?.status == "unhealthy" && $0.engine?.venue?.problem?.contains("heartbeat") == true },
                                            metrics: { $0.value("warden_venue_healthy") == 0 },
                                            channel: { any($0, "live venue unhealthy") }),
                               after: { run, clob in
                                   let before = clob.submissions
                                   try await Task.sleep(for: .seconds(3))
                                   run.expect(clob.submissions == before, "no live order sent while the heartbeat is unhealthy (\(clob.submissions - before) sent)")
                               },
                               clear: { $0.setHeartbeatsRefused(false) }, recovery: "live venue healthy again")

    static let f49 = liveFault("F49", "user channel dropped or frozen",
                               "the CLOB fake's user channel goes silent (no events, no PONG; ping 1 s): frozen after 3 s, closed, reconnected with backoff, said; orders and trades re-read over REST meanwhile; answering again: connected, re-read, recovery said",
                               detect: 8,
                               inject: { run, clob in
                                   await run.eventually("the user channel connected", within: .seconds(20)) {
                                       await run.engine()?.venue?.user_channel == "connected" ? true : nil
                                   }
                                   clob.setUserChannelFrozen(true)
                               },
                               sight: Sight(status: { $0.engine?.venue?.user_channel?.contains("frozen") == true },
                                            metrics: { $0.value("warden_venue_user_channel_up") == 0 },
                                            channel: { any($0, "user channel dropped") }),
                               after: { run, _ in
                                   // Past a few reconcile intervals with the channel down, a reconciliation is still
                                   // recent: waited for with a bound (a loaded machine is slow, not wrong).
                                   try await Task.sleep(for: .seconds(3))
                                   _ = await run.eventually("orders and trades still read over REST while the user channel is down (a reconciliation under 3 s old)",
                                                            within: .seconds(15)) {
                                       (await run.engine()?.venue?.reconciled_age_s).flatMap { $0 < 3 ? true : nil }
                                   }
                               },
                               clear: { $0.setUserChannelFrozen(false) }, recovery: "user channel connected again")

    static let f50 = liveFault("F50", "settlement failed",
                               "the CLOB fake marks every matched trade FAILED: each booked fill voided, position and account corrected in one transaction, alert; the journal audit holds",
                               detect: 6,
                               inject: { run, clob in
                                   await run.eventually("a live trade booked", within: .seconds(60)) {
                                       (try? journalRow(run, "SELECT COUNT(*) AS n FROM fills WHERE venue_trade_id IS NOT NULL")?["n"] as Int?).flatMap { $0 > 0 ? true : nil }
                                   }
                                   clob.setTradeStatus("FAILED")
                               },
                               sight: Sight(status: { ($0.engine?.venue?.fills_voided_total ?? 0) > 0 },
                                            metrics: { ($0.value("warden_venue_fills_voided_total") ?? 0) > 0 },
                                            channel: { any($0, "FAILED at settlement") }))

    static let f51 = liveFault("F51", "venue cancel-only",
                               "the CLOB fake answers 503 cancel-only to new orders: venue_cancel_only (exits only), alert; answering again: cleared within 6 heartbeats, recovery said",
                               detect: 30, inject: { _, clob in clob.setSubmitFault(.cancelOnly) },
                               sight: Sight(status: { reason($0, "venue_cancel_only") != nil && $0.engine?.trading_state == "REDUCING" },
                                            metrics: { ($0.value("warden_trading_reason_active", ["code": "venue_cancel_only"]) ?? 0) > 0 },
                                            channel: { any($0, "cancel-only mode") }),
                               clear: { $0.setSubmitFault(.none) }, recovery: "live venue takes orders again")

    static let f52 = liveFault("F52", "per-signer rate limit",
                               "the CLOB fake answers 429 with Retry-After 3 and the Poly-RateLimit headers: no live order until then, alert; the budget on /metrics; healthy again after",
                               detect: 30, inject: { _, clob in clob.setSubmitFault(.rateLimited(retryAfter: 3)) },
                               sight: Sight(status: { $0.engine?.venue?.problem?.contains("rate limited") == true },
                                            metrics: { $0.value("warden_venue_healthy") == 0 && $0.value("warden_venue_rate_limit_remaining") != nil },
                                            channel: { any($0, "rate limited by the venue") }),
                               clear: { $0.setSubmitFault(.none) }, recovery: "live venue healthy again")

    static let f53 = liveFault("F53", "invalid signature",
                               "the CLOB fake refuses the next order as \"invalid signature\": live orders HALTED for the venue with the exact reason until a restart, no retry storm",
                               detect: 30, inject: { _, clob in clob.setSubmitFault(.invalidSignature) },
                               sight: Sight(status: { $0.engine?.venue?.problem?.contains("HALTED") == true && $0.engine?.venue?.problem?.contains("invalid signature") == true },
                                            metrics: { $0.value("warden_venue_healthy") == 0 },
                                            channel: { any($0, "HALTED for this venue") }),
                               after: { run, clob in
                                   let before = clob.submissions
                                   try await Task.sleep(for: .seconds(4))
                                   run.expect(clob.submissions == before, "no retry after the refusal (\(clob.submissions - before) more sent)")
                                   run.note("live orders stay halted until a restart: the key or credentials need an operator")
                               })

    static let f54 = liveFault("F54", "orders on the wallet that are not ours",
                               "an untagged order is put on the wallet by another client: reported on every surface once, never adopted or cancelled",
                               detect: 6, inject: { _, clob in _ = try await postOnWallet(clob, tag: nil, salt: 5401) },
                               sight: Sight(status: { ($0.engine?.venue?.foreign_orders ?? 0) > 0 },
                                            metrics: { ($0.value("warden_venue_orders_foreign") ?? 0) > 0 },
                                            channel: { any($0, "is not Warden's") }),
                               after: { run, clob in
                                   try await Task.sleep(for: .seconds(3))
                                   let zero = "0x" + String(repeating: "0", count: 64)
                                   let foreign = clob.openOrders.first { $0.metadata == zero }
                                   run.expect(foreign != nil, "the foreign order is left alone (not cancelled)")
                                   let held = await run.engine()?.venue?.orders.compactMap(\.order_id) ?? []
                                   run.expect(foreign.map { !held.contains($0.id) } ?? true, "never adopted")
                               })

    static let f55 = liveFault("F55", "caps exceeded",
                               "engine.live.max_order lowered to 0.5 and `wardenctl reload` (the engine restarts on its changed section): every live entry is over the cap: refused before signing with the reason, counted, alerted; nothing more reaches the venue",
                               detect: 30,
                               inject: { run, _ in
                                   try run.stack.update { $0.liveExtra = "    max_order: 0.5\n    max_day: 1000000" }
                                   try await run.operate("reload")
                               },
                               sight: Sight(status: { ($0.engine?.venue?.caps_refused_total ?? 0) > 0 },
                                            metrics: { ($0.value("warden_venue_caps_refused_total") ?? 0) > 0 },
                                            channel: { any($0, "refused before signing") }),
                               after: { run, _ in
                                   let since = Date().timeIntervalSince1970
                                   try await Task.sleep(for: .seconds(3))
                                   let refused = await run.engine()?.venue?.caps_refused_total ?? 0
                                   let sent = try journalRow(run, "SELECT COUNT(*) AS n FROM intents WHERE venue <> 'paper' AND kind = 'entry' AND created_at > \(since)")?["n"] as Int? ?? -1
                                   run.expect(sent == 0, "no live entry sent past the cap (\(sent) were; exits are never capped)")
                                   run.note("\(refused) entries refused by the cap")
                               })
}
