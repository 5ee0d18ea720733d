// The journal's own audit: integrity, each fill once, and every account agreeing with its fills to the micro-dollar.
import Foundation
import GRDB
import WardenCore

/// What `Journal.verify()` found; `problems` empty means every check passed.
public struct JournalAudit: Sendable, Codable {
    public var integrity: String
    public var fills: Int
    public var openIntents: Int
    public var accounts: [String]
    public var problems: [String]
    public var ok: Bool { problems.isEmpty }
}

extension Journal {
    /// Checks PRAGMA integrity_check; no immediate order filled twice, no order filled past its size; one trades event per fill; and per account:
    /// cash + positions at cost + fees = bankroll + realised P&L, cash and fees equal to what the fills and
    /// settlements add up to, and each position equal to the sum of its fills.
    public func verify() throws -> JournalAudit {
        try read { db in
            var problems: [String] = []
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            if integrity != ["ok"] { problems.append("integrity_check: \(integrity.prefix(3).joined(separator: "; "))") }
            for row in try Row.fetchAll(db, sql: """
                SELECT f.intent_id, SUM(f.shares) AS filled, i.shares AS size, COUNT(*) AS n FROM fills f JOIN intents i ON i.id = f.intent_id
                GROUP BY f.intent_id HAVING filled > size OR (n > 1 AND i.time_in_force IN ('ioc', 'fok') AND i.venue = 'paper')
                """) {
                problems.append("intent \(row["intent_id"] as String) has \(row["n"] as Int) fills of \(Fixed.text(row["filled"] as Int64)) shares for an order of \(Fixed.text(row["size"] as Int64))")
            }
            let fills = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fills") ?? 0
            let tradeEvents = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE topic = 'trades'") ?? 0
            if tradeEvents != fills { problems.append("\(fills) fills but \(tradeEvents) trade events") }
            let unresolvedFills = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM fills f JOIN intents i ON i.id = f.intent_id WHERE i.status NOT IN ('filled', 'partial', 'resting')
                """) ?? 0
            if unresolvedFills > 0 { problems.append("\(unresolvedFills) fills whose intent is not marked filled") }
            let openIntents = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM intents WHERE status = 'open'") ?? 0

            var names: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT strategy, state FROM accounts ORDER BY strategy") {
                let name: String = row["strategy"]
                names.append(name)
                let a = try JSONDecoder().decode(Account.self, from: Data((row["state"] as String).utf8))
                problems += try Self.audit(a, db)
            }
            return JournalAudit(integrity: integrity.first ?? "", fills: fills, openIntents: openIntents, accounts: names, problems: problems)
        }
    }

    /// One account against the fills and settlements recorded for its strategy.
    private static func audit(_ a: Account, _ db: Database) throws -> [String] {
        var problems: [String] = []
        let name = a.strategy
        if !a.invariantHolds {
            problems.append("\(name): cash \(Fixed.text(a.cash)) + cost \(Fixed.text(a.exposure)) + fees \(Fixed.text(a.fees)) ≠ bankroll \(Fixed.text(a.bankroll)) + realised \(Fixed.text(a.realizedPnL))")
        }
        var cash = a.bankroll, fees: Micros = 0, count = 0
        var held: [String: (market: String, shares: Micros)] = [:]
        for f in try Row.fetchAll(db, sql: "SELECT market_id, token_id, side, shares, notional, fee FROM fills WHERE strategy = ? AND voided_at IS NULL ORDER BY id", arguments: [name]) {
            let shares: Int64 = f["shares"], notional: Int64 = f["notional"], fee: Int64 = f["fee"]
            let token: String = f["token_id"]
            let buy = (f["side"] as String) == Side.buy.rawValue
            cash += buy ? -(notional + fee) : notional - fee
            fees += fee
            count += 1
            held[token] = (f["market_id"], (held[token]?.shares ?? 0) + (buy ? shares : -shares))
        }
        var settled: Set<String> = []
        for s in try Row.fetchAll(db, sql: "SELECT market_id, payout FROM settlements WHERE strategy = ?", arguments: [name]) {
            cash += s["payout"] as Int64
            settled.insert(s["market_id"])
        }
        if cash != a.cash { problems.append("\(name): cash \(Fixed.text(a.cash)) but its fills and settlements give \(Fixed.text(cash))") }
        if fees != a.fees { problems.append("\(name): fees \(Fixed.text(a.fees)) but its fills sum to \(Fixed.text(fees))") }
        if count != a.fills { problems.append("\(name): counts \(a.fills) fills, the journal holds \(count)") }
        if settled != a.settledMarkets { problems.append("\(name): settled markets \(a.settledMarkets.sorted()) but settlements recorded for \(settled.sorted())") }
        for (token, h) in held {
            let expected = settled.contains(h.market) ? 0 : h.shares
            let actual = a.positions[token]?.shares ?? 0
            if expected != actual { problems.append("\(name): holds \(Fixed.text(actual)) of \(token), its fills give \(Fixed.text(expected))") }
        }
        for (token, p) in a.positions where held[token] == nil {
            problems.append("\(name): holds \(Fixed.text(p.shares)) of \(token) without a fill")
        }
        return problems
    }
}
