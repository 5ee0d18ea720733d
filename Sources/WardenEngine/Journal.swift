// engine.db: the write-ahead trading journal (GRDB over the system SQLite). The engine is its only user.
public import Foundation
import GRDB
public import WardenCore
public import WardenIPC

/// Storage trouble, by kind, so the engine can degrade (pause entries) rather than crash.
public struct JournalError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case corrupt, unwritable, locked }
    public var kind: Kind
    public var message: String
    public var description: String { "\(kind.rawValue): \(message)" }
}

public final class Journal: Sendable {
    public let path: String
    public let backupsDir: String
    let pool: DatabasePool
    let writeRetries: Int
    /// A backtest's journal: one long transaction, committed every `batchCommitEvery` writes and by `flush()`, each
    /// write in a savepoint of its own (a failed write still leaves nothing behind); reads go through the writer so
    /// they see what is not committed yet. A commit per write was a fifth of a day's backtest.
    let batched: Bool
    private let pending = PendingWrites()
    static let batchCommitEvery = 4096

    /// What opening found, to be said on every surface.
    public struct OpenReport: Sendable {
        public var createdFresh: Bool
    }

    /// Opens (or creates) the journal, checks integrity, migrates. A corrupt file is kept and named.
    /// The lock bound (busy timeout × attempts plus backoff: 4 × 0.5 s + 0.1 + 0.2 + 0.4 s, about 2.7 s) is kept
    /// well under the engine's watchdog, so a database held locked by another process degrades storage instead
    /// of stalling the cycle; a degraded engine probes at most every few seconds, so its cycles stay short.
    /// `durable: false` (a backtest's journal, made again by the next run) skips the fsync of every commit;
    /// `batched: true` (a backtest's, too) also groups commits (see `batched`; call `flush()` before another reader).
    public static func open(path: String, backupsDir: String, busyTimeout: TimeInterval = 0.5,
                            writeRetries: Int = 3, durable: Bool = true, batched: Bool = false) throws -> (Journal, OpenReport) {
        let existed = FileManager.default.fileExists(atPath: path)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        // The batch's transaction stays open between accesses.
        config.allowsUnsafeTransactions = batched
        config.prepareDatabase { db in
            try db.execute(sql: durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw JournalError(kind: Self.isCorruption(error) ? .corrupt : .unwritable,
                               message: "cannot open \(path): \(error)\(Self.backupHint(backupsDir))")
        }
        do {
            let result = try pool.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }
            guard result == ["ok"] else {
                throw JournalError(kind: .corrupt, message: "\(path) failed PRAGMA integrity_check: \(result.prefix(3).joined(separator: "; "))\(Self.backupHint(backupsDir))")
            }
            try migrator.migrate(pool)
        } catch let e as JournalError {
            throw e
        } catch {
            throw JournalError(kind: Self.isCorruption(error) ? .corrupt : .unwritable,
                               message: "\(path): \(error)\(Self.backupHint(backupsDir))")
        }
        return (Journal(path: path, backupsDir: backupsDir, pool: pool, writeRetries: writeRetries, batched: batched && !durable),
                OpenReport(createdFresh: !existed))
    }

    private init(path: String, backupsDir: String, pool: DatabasePool, writeRetries: Int, batched: Bool) {
        self.path = path
        self.backupsDir = backupsDir
        self.pool = pool
        self.writeRetries = writeRetries
        self.batched = batched
    }

    /// Commits a batched journal's open transaction (nothing to do for one that commits every write).
    public func flush() throws {
        guard batched else { return }
        try pool.writeWithoutTransaction { db in
            if db.isInsideTransaction { try db.commit() }
        }
        pending.reset()
    }

    /// A read: from a reader connection, or (batched) from the writer, which sees the open transaction.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        batched ? try pool.writeWithoutTransaction(body) : try pool.read(body)
    }

    static func isCorruption(_ error: any Error) -> Bool {
        guard let e = error as? DatabaseError else { return false }
        return e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB
    }

    static func backupHint(_ dir: String) -> String {
        guard let last = latestBackup(dir) else { return "; no backup exists yet" }
        return "; the file is kept as it is; last backup: \(last)"
    }

    public static func latestBackup(_ dir: String) -> String? {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("engine-") && $0.hasSuffix(".db") }
        return files.sorted().last.map { dir + "/" + $0 }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE accounts (strategy TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
                CREATE TABLE intents (
                    id TEXT PRIMARY KEY, strategy TEXT NOT NULL, market_id TEXT NOT NULL, token_id TEXT NOT NULL,
                    side TEXT NOT NULL, kind TEXT NOT NULL, limit_price INTEGER NOT NULL, shares INTEGER NOT NULL,
                    reason TEXT NOT NULL, status TEXT NOT NULL, note TEXT, created_at REAL NOT NULL, resolved_at REAL);
                CREATE INDEX intents_open ON intents(status) WHERE status = 'open';
                CREATE TABLE fills (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, intent_id TEXT NOT NULL UNIQUE REFERENCES intents(id),
                    strategy TEXT NOT NULL, market_id TEXT NOT NULL, token_id TEXT NOT NULL, side TEXT NOT NULL,
                    shares INTEGER NOT NULL, notional INTEGER NOT NULL, fee INTEGER NOT NULL, levels INTEGER NOT NULL,
                    at REAL NOT NULL);
                CREATE TABLE settlements (
                    strategy TEXT NOT NULL, market_id TEXT NOT NULL, winner TEXT NOT NULL, payout INTEGER NOT NULL,
                    at REAL NOT NULL, PRIMARY KEY (strategy, market_id));
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, topic_seq INTEGER NOT NULL,
                    at REAL NOT NULL, payload TEXT NOT NULL, UNIQUE (topic, topic_seq));
                CREATE TABLE reasons (code TEXT NOT NULL, market_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
                    PRIMARY KEY (code, market_id));
                CREATE TABLE equity (at REAL NOT NULL, strategy TEXT NOT NULL, equity INTEGER NOT NULL);
                CREATE INDEX equity_at ON equity(strategy, at);
                """)
        }
        // Resting orders fill in parts over time: an intent may have several fills (their sum never above its size,
        // which the audit checks).
        m.registerMigration("v2-partial-fills") { db in
            try db.execute(sql: """
                CREATE TABLE fills_v2 (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, intent_id TEXT NOT NULL REFERENCES intents(id),
                    strategy TEXT NOT NULL, market_id TEXT NOT NULL, token_id TEXT NOT NULL, side TEXT NOT NULL,
                    shares INTEGER NOT NULL, notional INTEGER NOT NULL, fee INTEGER NOT NULL, levels INTEGER NOT NULL,
                    at REAL NOT NULL);
                INSERT INTO fills_v2 SELECT id, intent_id, strategy, market_id, token_id, side, shares, notional, fee, levels, at FROM fills;
                DROP TABLE fills;
                ALTER TABLE fills_v2 RENAME TO fills;
                CREATE INDEX fills_intent ON fills(intent_id);
                CREATE INDEX intents_resting ON intents(status) WHERE status = 'resting';
                ALTER TABLE intents ADD COLUMN time_in_force TEXT NOT NULL DEFAULT 'ioc';
                CREATE TRIGGER fills_within_order BEFORE INSERT ON fills
                WHEN ((SELECT time_in_force FROM intents WHERE id = NEW.intent_id) = 'ioc'
                      AND EXISTS (SELECT 1 FROM fills WHERE intent_id = NEW.intent_id))
                  OR (SELECT COALESCE(SUM(shares), 0) FROM fills WHERE intent_id = NEW.intent_id) + NEW.shares
                      > (SELECT shares FROM intents WHERE id = NEW.intent_id)
                BEGIN SELECT RAISE(ABORT, 'a fill past its order: an immediate order fills once, a resting one up to its size'); END;
                """)
        }
        // Live orders: the venue named on the intent (recovery tells a live order, which may exist on the venue, from a
        // paper one, which never executed), the venue's order id and state, and each fill's venue trade id (booked
        // once). A live immediate order may trade against several makers: only paper ones fill once.
        m.registerMigration("v3-live-orders") { db in
            try db.execute(sql: """
                ALTER TABLE intents ADD COLUMN venue TEXT NOT NULL DEFAULT 'paper';
                ALTER TABLE intents ADD COLUMN venue_order_id TEXT;
                ALTER TABLE intents ADD COLUMN venue_state TEXT;
                ALTER TABLE fills ADD COLUMN venue_trade_id TEXT;
                ALTER TABLE fills ADD COLUMN voided_at REAL;
                ALTER TABLE fills ADD COLUMN void_note TEXT;
                CREATE UNIQUE INDEX fills_trade ON fills(venue_trade_id) WHERE venue_trade_id IS NOT NULL;
                DROP TRIGGER fills_within_order;
                CREATE TRIGGER fills_within_order BEFORE INSERT ON fills
                WHEN ((SELECT time_in_force FROM intents WHERE id = NEW.intent_id) = 'ioc'
                      AND (SELECT venue FROM intents WHERE id = NEW.intent_id) = 'paper'
                      AND EXISTS (SELECT 1 FROM fills WHERE intent_id = NEW.intent_id))
                  OR (SELECT COALESCE(SUM(shares), 0) FROM fills WHERE intent_id = NEW.intent_id) + NEW.shares
                      > (SELECT shares FROM intents WHERE id = NEW.intent_id)
                BEGIN SELECT RAISE(ABORT, 'a fill past its order: an immediate order fills once, a resting one up to its size'); END;
                """)
        }
        // Shadow mode: the live order each shadowed paper intent would have been, signed, never sent.
        m.registerMigration("v4-shadow-orders") { db in
            try db.execute(sql: """
                CREATE TABLE shadow_orders (intent_id TEXT PRIMARY KEY REFERENCES intents(id), order_id TEXT NOT NULL, body TEXT NOT NULL,
                    at REAL NOT NULL);
                """)
        }
        // Order kinds beyond IOC and GTC: post-only and a GTD expiry; a fill-or-kill paper order fills once, as an IOC.
        // A live fill's settlement as the venue last said it (NULL: booked at MATCHED, not read back since).
        m.registerMigration("v5-order-kinds") { db in
            try db.execute(sql: """
                ALTER TABLE intents ADD COLUMN post_only INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE intents ADD COLUMN expires_at REAL;
                ALTER TABLE fills ADD COLUMN settlement TEXT;
                DROP TRIGGER fills_within_order;
                CREATE TRIGGER fills_within_order BEFORE INSERT ON fills
                WHEN ((SELECT time_in_force FROM intents WHERE id = NEW.intent_id) IN ('ioc', 'fok')
                      AND (SELECT venue FROM intents WHERE id = NEW.intent_id) = 'paper'
                      AND EXISTS (SELECT 1 FROM fills WHERE intent_id = NEW.intent_id))
                  OR (SELECT COALESCE(SUM(shares), 0) FROM fills WHERE intent_id = NEW.intent_id) + NEW.shares
                      > (SELECT shares FROM intents WHERE id = NEW.intent_id)
                BEGIN SELECT RAISE(ABORT, 'a fill past its order: an immediate order fills once, a resting one up to its size'); END;
                """)
        }
        return m
    }

    /// A write transaction, retried with backoff while the database is locked; past the bound, `.locked`.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                guard batched else { return try pool.write(body) }
                return try pool.writeWithoutTransaction { db in
                    if !db.isInsideTransaction { try db.beginTransaction() }
                    var result: T?
                    try db.inSavepoint { result = try body(db); return .commit }
                    if pending.count() >= Self.batchCommitEvery { try db.commit(); pending.reset() }
                    return result!
                }
            } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED {
                attempt += 1
                if attempt > writeRetries {
                    throw JournalError(kind: .locked, message: "database locked after \(attempt) attempts: \(e.message ?? "\(e)")")
                }
                usleep(useconds_t(min(1_000_000, 50_000 << attempt)))
            } catch let e as DatabaseError {
                throw JournalError(kind: Self.isCorruption(e) ? .corrupt : .unwritable, message: "\(e)")
            }
        }
    }

    /// Takes the write lock and lets it go, writing nothing (no page changes, so no sync): a journal another
    /// process holds locked is found within the lock bound even when the engine has nothing to write.
    public func checkWritable() throws {
        try write { db in try db.execute(sql: "UPDATE intents SET id = id WHERE 0") }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    // MARK: - Trading writes

    /// Writes an intent before it is executed.
    public func recordIntent(_ i: OrderIntent, at: Date, venue: String = "paper") throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO intents (id, strategy, market_id, token_id, side, kind, limit_price, shares, reason, status, created_at, time_in_force,
                                     venue, venue_state, post_only, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)
                """, arguments: [i.id, i.strategy, i.marketID, i.tokenID, i.side.rawValue, i.kind.rawValue,
                                 i.limitPrice, i.shares, i.reason, at.timeIntervalSince1970, i.timeInForce.rawValue,
                                 venue, venue == "paper" ? nil : VenueOrderState.pending.rawValue, i.postOnly,
                                 i.expiresAt?.timeIntervalSince1970])
        }
    }

    /// A live order's venue id and state (the id is written before the order is sent: a crash after it leaves an order
    /// that may exist, found again by it).
    public func setVenueOrder(_ id: String, orderID: String?, state: VenueOrderState, note: String) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE intents SET venue_order_id = COALESCE(?, venue_order_id), venue_state = ?,
                    note = CASE WHEN ? = '' THEN note ELSE ? END WHERE id = ?
                """, arguments: [orderID, state.rawValue, note, note, id])
        }
    }

    /// Live orders not finished when the engine stopped (pending, on the book, unknown), with their venue id.
    public func liveOrders() throws -> [(intent: OrderIntent, orderID: String?, state: VenueOrderState, filled: Micros, since: Date)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.*, COALESCE((SELECT SUM(f.shares) FROM fills f WHERE f.intent_id = i.id), 0) AS filled
                FROM intents i WHERE i.venue <> 'paper' AND i.status IN ('open', 'resting') ORDER BY i.created_at, i.id
                """).map { r in
                (Self.intent(r), r["venue_order_id"], VenueOrderState(rawValue: r["venue_state"] ?? "") ?? .unknown, r["filled"],
                 Date(timeIntervalSince1970: r["created_at"]))
            }
        }
    }

    /// The booked fill of a venue trade, and whether it was voided already.
    public func fill(venueTradeID id: String) throws -> (fill: Fill, voided: Bool)? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM fills WHERE venue_trade_id = ?", arguments: [id]).map { r in
                (Fill(intentID: r["intent_id"], strategy: r["strategy"], marketID: r["market_id"], tokenID: r["token_id"],
                      side: Side(rawValue: r["side"]) ?? .buy, shares: r["shares"], notional: r["notional"], fee: r["fee"], levels: r["levels"],
                      at: Date(timeIntervalSince1970: r["at"]), venueTradeID: r["venue_trade_id"]),
                 (r["voided_at"] as Double?) != nil)
            }
        }
    }

    /// A fill the venue voided (its trade FAILED at settlement): marked void with why, and the account corrected, in
    /// one transaction with its event.
    @discardableResult
    public func voidFill(venueTradeID id: String, account: Account, note: String, at: Date, eventTopic: String, event: some Encodable) throws -> Int64 {
        let state = String(decoding: try Self.encoder.encode(account), as: UTF8.self)
        let payload = String(decoding: try Self.encoder.encode(event), as: UTF8.self)
        return try write { db in
            try db.execute(sql: "UPDATE fills SET voided_at = ?, void_note = ? WHERE venue_trade_id = ? AND voided_at IS NULL",
                           arguments: [at.timeIntervalSince1970, note, id])
            guard db.changesCount == 1 else { throw JournalError(kind: .unwritable, message: "fill of trade \(id) is not booked or already void") }
            try db.execute(sql: "INSERT OR REPLACE INTO accounts (strategy, state, updated_at) VALUES (?, ?, ?)",
                           arguments: [account.strategy, state, at.timeIntervalSince1970])
            return try Self.insertEvent(db, topic: eventTopic, at: at, payload: payload)
        }
    }

    /// Shadow mode: a paper intent's live order as it would have been sent (the body without the API key).
    public func recordShadow(intentID: String, orderID: String, body: String, at: Date) throws {
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO shadow_orders (intent_id, order_id, body, at) VALUES (?, ?, ?, ?)",
                           arguments: [intentID, orderID, body, at.timeIntervalSince1970])
        }
    }

    /// The newest shadow orders, newest first.
    public func shadowOrders(limit: Int) throws -> [(intentID: String, orderID: String, body: String, at: Date)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM shadow_orders ORDER BY at DESC, intent_id DESC LIMIT ?", arguments: [limit]).map {
                ($0["intent_id"], $0["order_id"], $0["body"], Date(timeIntervalSince1970: $0["at"]))
            }
        }
    }

    /// An intent's status, or nil when the journal has no such intent.
    public func intentStatus(_ id: String) throws -> String? {
        try read { try String.fetchOne($0, sql: "SELECT status FROM intents WHERE id = ?", arguments: [id]) }
    }

    /// Venue trade ids already booked.
    public func bookedTrades() throws -> Set<String> {
        try read { Set(try String.fetchAll($0, sql: "SELECT venue_trade_id FROM fills WHERE venue_trade_id IS NOT NULL")) }
    }

    /// The fill, its intent's resolution, the account after it and its event, in one transaction.
    /// Returns the event's seq.
    @discardableResult
    public func recordFill(_ f: Fill, account: Account, status: String, eventTopic: String, event: some Encodable) throws -> Int64 {
        let state = String(decoding: try Self.encoder.encode(account), as: UTF8.self)
        let payload = String(decoding: try Self.encoder.encode(event), as: UTF8.self)
        return try write { db in
            try db.execute(sql: """
                INSERT INTO fills (intent_id, strategy, market_id, token_id, side, shares, notional, fee, levels, at, venue_trade_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [f.intentID, f.strategy, f.marketID, f.tokenID, f.side.rawValue, f.shares, f.notional,
                                 f.fee, f.levels, f.at.timeIntervalSince1970, f.venueTradeID])
            try db.execute(sql: "UPDATE intents SET status = ?, resolved_at = ? WHERE id = ?",
                           arguments: [status, f.at.timeIntervalSince1970, f.intentID])
            try db.execute(sql: "INSERT OR REPLACE INTO accounts (strategy, state, updated_at) VALUES (?, ?, ?)",
                           arguments: [account.strategy, state, f.at.timeIntervalSince1970])
            return try Self.insertEvent(db, topic: eventTopic, at: f.at, payload: payload)
        }
    }

    /// Resolves an intent that did not fill (rejected, failed, abandoned at recovery).
    public func resolveIntent(_ id: String, status: String, note: String, at: Date) throws {
        try write { db in
            try db.execute(sql: "UPDATE intents SET status = ?, note = ?, resolved_at = ? WHERE id = ? AND status = 'open'",
                           arguments: [status, note, at.timeIntervalSince1970, id])
        }
    }

    /// An intent the venue put on its book: `resting` until it fills or is cancelled (not resolved).
    public func markResting(_ id: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE intents SET status = 'resting' WHERE id = ? AND status = 'open'", arguments: [id])
        }
    }

    /// The end of an order taken off the venue's book (`cancelled`, `rejected`): recorded as `partial` whenever
    /// some of it traded, whatever the caller knows, so an intent with fills is never marked as never traded.
    public func finishIntent(_ id: String, status: String, note: String, at: Date) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE intents SET status = CASE WHEN EXISTS (SELECT 1 FROM fills WHERE intent_id = intents.id) THEN 'partial' ELSE ? END,
                    note = ?, resolved_at = ? WHERE id = ? AND status IN ('open', 'resting', 'filled')
                """, arguments: [status, note, at.timeIntervalSince1970, id])
        }
    }

    /// Orders resting on the venue's book when the engine stopped, with the shares still open.
    public func restingIntents() throws -> [(intent: OrderIntent, open: Micros, since: Date)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.*, i.shares - COALESCE((SELECT SUM(f.shares) FROM fills f WHERE f.intent_id = i.id), 0) AS open
                FROM intents i WHERE i.status = 'resting' AND i.venue = 'paper' ORDER BY i.created_at, i.id
                """).map { r in
                (Self.intent(r), r["open"], Date(timeIntervalSince1970: r["created_at"]))
            }
        }
    }

    /// A settlement of one account's positions in a resolved market, with the account after it.
    public func recordSettlement(strategy: String, marketID: String, winner: String, payout: Micros, account: Account, at: Date,
                                 eventTopic: String, event: some Encodable) throws {
        let state = String(decoding: try Self.encoder.encode(account), as: UTF8.self)
        let payload = String(decoding: try Self.encoder.encode(event), as: UTF8.self)
        try write { db in
            try db.execute(sql: "INSERT INTO settlements (strategy, market_id, winner, payout, at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [strategy, marketID, winner, payout, at.timeIntervalSince1970])
            try db.execute(sql: "INSERT OR REPLACE INTO accounts (strategy, state, updated_at) VALUES (?, ?, ?)",
                           arguments: [strategy, state, at.timeIntervalSince1970])
            try Self.insertEvent(db, topic: eventTopic, at: at, payload: payload)
        }
    }

    /// Inserts an event with the next seq of its topic (the seq subscribers see); returns that seq.
    @discardableResult
    static func insertEvent(_ db: Database, topic: String, at: Date, payload: String) throws -> Int64 {
        let next = (try Int64.fetchOne(db, sql: "SELECT MAX(topic_seq) FROM events WHERE topic = ?", arguments: [topic]) ?? 0) + 1
        try db.execute(sql: "INSERT INTO events (topic, topic_seq, at, payload) VALUES (?, ?, ?, ?)",
                       arguments: [topic, next, at.timeIntervalSince1970, payload])
        return next
    }

    public func saveAccount(_ a: Account, at: Date) throws {
        let state = String(decoding: try Self.encoder.encode(a), as: UTF8.self)
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO accounts (strategy, state, updated_at) VALUES (?, ?, ?)",
                           arguments: [a.strategy, state, at.timeIntervalSince1970])
        }
    }

    /// Appends an event (activity or alert); returns its seq, which is also the stream's seq.
    @discardableResult
    public func appendEvent(topic: String, at: Date, _ event: some Encodable) throws -> Int64 {
        let payload = String(decoding: try Self.encoder.encode(event), as: UTF8.self)
        return try write { db in try Self.insertEvent(db, topic: topic, at: at, payload: payload) }
    }

    /// Writes events under the seqs their publisher already gave them (alerts published while storage failed),
    /// in one transaction; a seq already present is left as it is.
    public func appendEvents(topic: String, _ events: [(seq: UInt64, at: Date, payload: String)]) throws {
        guard !events.isEmpty else { return }
        try write { db in
            for e in events {
                try db.execute(sql: "INSERT OR IGNORE INTO events (topic, topic_seq, at, payload) VALUES (?, ?, ?, ?)",
                               arguments: [topic, Int64(e.seq), e.at.timeIntervalSince1970, e.payload])
            }
        }
    }

    static func encode(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }

    public func saveReasons(_ control: TradingControl) throws {
        let rows = try control.reasons.map { ($0.code.rawValue, $0.marketID ?? "", String(decoding: try Self.encoder.encode($0), as: UTF8.self)) }
        try write { db in
            try db.execute(sql: "DELETE FROM reasons")
            for r in rows {
                try db.execute(sql: "INSERT INTO reasons (code, market_id, state) VALUES (?, ?, ?)", arguments: [r.0, r.1, r.2])
            }
        }
    }

    public func recordEquity(_ values: [(strategy: String, equity: Micros)], at: Date) throws {
        try write { db in
            for v in values {
                try db.execute(sql: "INSERT INTO equity (at, strategy, equity) VALUES (?, ?, ?)",
                               arguments: [at.timeIntervalSince1970, v.strategy, v.equity])
            }
        }
    }

    // MARK: - Reads

    public func loadAccounts() throws -> [String: Account] {
        try read { db in
            var out: [String: Account] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT strategy, state FROM accounts") {
                let s: String = row["state"]
                out[row["strategy"]] = try JSONDecoder().decode(Account.self, from: Data(s.utf8))
            }
            return out
        }
    }

    /// Loss-streak cool-downs by strategy, kept so a restart neither shortens nor restarts one.
    public func cooldowns() throws -> [String: Date] {
        try read { db in
            var out: [String: Date] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT key, value FROM meta WHERE key LIKE 'cooldown_until:%'") {
                let key: String = r["key"], value: String = r["value"]
                if let t = Double(value) { out[String(key.dropFirst("cooldown_until:".count))] = Date(timeIntervalSince1970: t) }
            }
            return out
        }
    }

    public func saveCooldown(strategy: String, until: Date?) throws {
        try write { db in
            if let until {
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               arguments: ["cooldown_until:\(strategy)", String(until.timeIntervalSince1970)])
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: ["cooldown_until:\(strategy)"])
            }
        }
    }

    public func loadReasons() throws -> [TradingReason] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT state FROM reasons").map { try JSONDecoder().decode(TradingReason.self, from: Data($0.utf8)) }
        }
    }

    public func openIntents() throws -> [OrderIntent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM intents WHERE status = 'open' AND venue = 'paper' ORDER BY created_at").map { Self.intent($0) }
        }
    }

    static func intent(_ r: Row) -> OrderIntent {
        OrderIntent(id: r["id"], strategy: r["strategy"], marketID: r["market_id"], tokenID: r["token_id"],
                    side: Side(rawValue: r["side"]) ?? .buy, kind: IntentKind(rawValue: r["kind"]) ?? .entry,
                    limitPrice: r["limit_price"], shares: r["shares"], reason: r["reason"],
                    timeInForce: TimeInForce(rawValue: r["time_in_force"]) ?? .immediate, postOnly: r["post_only"] ?? false,
                    expiresAt: (r["expires_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    public func intentCount(status: String) throws -> Int {
        try read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM intents WHERE status = ?", arguments: [status]) ?? 0 }
    }

    /// Intents whose id begins with `prefix` followed by a dash (the orders of one run, IntentIDs).
    public func intentCount(idPrefix prefix: String) throws -> Int {
        try read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM intents WHERE substr(id, 1, ?) = ?", arguments: [prefix.count + 1, prefix + "-"]) ?? 0 }
    }

    public func fillCount() throws -> Int { try read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM fills") ?? 0 } }

    /// Trades newest first: at most `limit` older than `beforeID`, and how many there are in all.
    public func trades(limit: Int, beforeID: Int64? = nil) throws -> (rows: [TradeInfo], total: Int) {
        try read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fills") ?? 0
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM fills WHERE id < ? ORDER BY id DESC LIMIT ?",
                                        arguments: [beforeID ?? Int64.max, limit]).map(Self.tradeRow)
            return (rows, total)
        }
    }

    /// Every trade, oldest first, in pages (for a streaming CSV export).
    public func forEachTrade(pageSize: Int = 1000, _ body: ([TradeInfo]) throws -> Void) throws {
        var after: Int64 = 0
        while true {
            let page = try read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM fills WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, pageSize]).map(Self.tradeRow)
            }
            if page.isEmpty { return }
            try body(page)
            after = page.last!.id
        }
    }

    static func tradeRow(_ r: Row) -> TradeInfo {
        let shares: Int64 = r["shares"], notional: Int64 = r["notional"], fee: Int64 = r["fee"]
        return TradeInfo(id: r["id"], intent_id: r["intent_id"], strategy: r["strategy"], market_id: r["market_id"],
                        token_id: r["token_id"], side: r["side"], shares: Fixed.text(shares, decimals: 6),
                        price: Fixed.text(shares > 0 ? notional * Fixed.one / shares : 0, decimals: 6),
                        notional: Fixed.text(notional, decimals: 6), fee: Fixed.text(fee, decimals: 6), at: r["at"])
    }

    /// Events of a topic after `seq`, oldest first (for replay to subscribers).
    public func events(topic: String, after seq: Int64, limit: Int) throws -> [(seq: Int64, payload: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT topic_seq, payload FROM events WHERE topic = ? AND topic_seq > ? ORDER BY topic_seq LIMIT ?",
                             arguments: [topic, seq, limit]).map { ($0["topic_seq"], $0["payload"]) }
        }
    }

    public func lastEventSeq(topic: String) throws -> Int64 {
        try read { try Int64.fetchOne($0, sql: "SELECT MAX(topic_seq) FROM events WHERE topic = ?", arguments: [topic]) ?? 0 }
    }

    /// The venue's settlement statuses of booked live trades (MATCHED, MINED, CONFIRMED, RETRYING; FAILED ones are voided
    /// instead): written where they changed; how many changed.
    @discardableResult
    public func setSettlements(_ statuses: [(tradeID: String, status: String)]) throws -> Int {
        guard !statuses.isEmpty else { return 0 }
        return try write { db in
            var changed = 0
            for (id, status) in statuses {
                try db.execute(sql: """
                    UPDATE fills SET settlement = ? WHERE venue_trade_id = ? AND voided_at IS NULL AND COALESCE(settlement, 'MATCHED') <> ?
                    """, arguments: [status, id, status])
                changed += db.changesCount
            }
            return changed
        }
    }

    /// How many standing live fills are not CONFIRMED yet, and of them RETRYING (counted, not read).
    public func settlingCounts() throws -> (settling: Int, retrying: Int) {
        try read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS n, COALESCE(SUM(settlement = 'RETRYING'), 0) AS retrying FROM fills
                WHERE venue_trade_id IS NOT NULL AND voided_at IS NULL AND COALESCE(settlement, 'MATCHED') <> 'CONFIRMED'
                """)
            return (row?["n"] ?? 0, row?["retrying"] ?? 0)
        }
    }

    /// Live fills standing whose trade is not CONFIRMED yet, oldest first.
    public func settlingTrades(limit: Int = 200) throws -> [(tradeID: String, fill: Fill, status: String)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.*, COALESCE(f.settlement, 'MATCHED') AS status FROM fills f
                WHERE f.venue_trade_id IS NOT NULL AND f.voided_at IS NULL AND COALESCE(f.settlement, 'MATCHED') <> 'CONFIRMED'
                ORDER BY f.id LIMIT ?
                """, arguments: [limit]).map { r in
                (r["venue_trade_id"], Fill(intentID: r["intent_id"], strategy: r["strategy"], marketID: r["market_id"], tokenID: r["token_id"],
                                           side: Side(rawValue: r["side"]) ?? .buy, shares: r["shares"], notional: r["notional"], fee: r["fee"], levels: 1,
                                           at: Date(timeIntervalSince1970: r["at"]), venueTradeID: r["venue_trade_id"]), r["status"])
            }
        }
    }

    /// Every settlement, oldest first.
    public func settlementRows() throws -> [(strategy: String, market: String, at: Date)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT strategy, market_id, at FROM settlements ORDER BY at, strategy, market_id").map {
                ($0["strategy"], $0["market_id"], Date(timeIntervalSince1970: $0["at"]))
            }
        }
    }

    public func equityHistory(strategy: String, limit: Int) throws -> [(at: Double, equity: Micros)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT at, equity FROM equity WHERE strategy = ? ORDER BY at DESC LIMIT ?",
                             arguments: [strategy, limit]).map { ($0["at"], $0["equity"]) }.reversed()
        }
    }

    // MARK: - Maintenance

    public func integrityOK() throws -> Bool {
        try read { try String.fetchAll($0, sql: "PRAGMA integrity_check") } == ["ok"]
    }

    /// Online backup through SQLite's backup API into `backupsDir/engine-<time>.db`; keeps the newest `keep`.
    @discardableResult
    public func backup(at now: Date, keep: Int = 5) throws -> String {
        try FileManager.default.createDirectory(atPath: backupsDir, withIntermediateDirectories: true)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let target = "\(backupsDir)/engine-\(f.string(from: now)).db"
        let dest = try DatabaseQueue(path: target)
        try pool.backup(to: dest)
        try dest.close()
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: backupsDir)) ?? []).filter { $0.hasPrefix("engine-") && $0.hasSuffix(".db") }.sorted()
        var kept: [String] = []
        for old in files.dropLast(keep) {
            do { try FileManager.default.removeItem(atPath: backupsDir + "/" + old) } catch { kept.append("\(old): \(error.localizedDescription)") }
        }
        if !kept.isEmpty {
            throw JournalError(kind: .unwritable, message: "backup \(target) written, but old backups could not be removed (disk use grows): \(kept.joined(separator: "; "))")
        }
        return target
    }
}

/// How many writes a batched journal's open transaction holds.
private final class PendingWrites: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    /// Counts one more write and returns the total.
    func count() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
    func reset() { lock.lock(); n = 0; lock.unlock() }
}
