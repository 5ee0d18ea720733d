// notifier.db: alerts taken in (unique per source and seq), the messages to deliver per channel, the
// conditions used for coalescing and recovery pairing, and channel states. The notifier is its only user.
public import Foundation
public import GRDB

/// An alert as taken in from a source.
public struct IncomingAlert: Sendable, Equatable {
    public var source: String
    public var seq: Int64
    public var key: String
    public var kind: String
    public var severity: String
    public var message: String
    public var at: Date
    public var durationS: Double?
    public init(source: String, seq: Int64, key: String, kind: String, severity: String, message: String, at: Date, durationS: Double? = nil) {
        self.source = source; self.seq = seq; self.key = key; self.kind = kind; self.severity = severity
        self.message = message; self.at = at; self.durationS = durationS
    }
}

/// A message waiting for (or done with) one channel.
public struct Delivery: Sendable, Equatable {
    public var id: Int64
    public var channel: String
    public var text: String
    public var severity: String
    public var attempts: Int
    public var createdAt: Date
    public var nextAt: Date
}

/// What a condition (alerts sharing a key) looks like to the noise control.
public struct ConditionState: Sendable, Equatable, Codable {
    public var open = false
    public var openedAt: Date?
    public var cause: String?
    public var kind: String?
    public var causeSeverity: String?
    public var lastSentAt: Date?
    /// The severity of that last message: a more severe alert is never held back behind it.
    public var lastSentSeverity: String?
    /// Alerts held back within the coalescing window since the last message, and the latest of them.
    public var held = 0
    public var heldText: String?
    public var heldSeverity: String?
    public var escalated = false
    public init() {}
}

public struct ChannelRecord: Sendable, Equatable {
    public var state: String
    public var lastSuccessAt: Date?
    public var lastError: String?
}

public final class Outbox: Sendable {
    let pool: DatabasePool
    public let path: String

    public static func open(path: String) throws -> Outbox {
        var config = Configuration()
        config.busyMode = .timeout(2)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: path, configuration: config)
        let check = try pool.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }
        guard check == ["ok"] else {
            throw OutboxError("\(path) failed PRAGMA integrity_check: \(check.prefix(3).joined(separator: "; ")); the file is kept as it is")
        }
        try migrator.migrate(pool)
        return Outbox(pool: pool, path: path)
    }

    private init(pool: DatabasePool, path: String) {
        self.pool = pool
        self.path = path
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE cursors (source TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, gaps INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE alerts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL,
                    kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, at REAL NOT NULL, duration_s REAL,
                    received_at REAL NOT NULL, disposition TEXT NOT NULL, UNIQUE (source, seq));
                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, text TEXT NOT NULL, severity TEXT NOT NULL,
                    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, next_at REAL NOT NULL,
                    done_at REAL, last_error TEXT);
                CREATE INDEX deliveries_pending ON deliveries(channel, next_at) WHERE state = 'pending';
                CREATE TABLE conditions (key TEXT PRIMARY KEY, state TEXT NOT NULL);
                CREATE TABLE channels (name TEXT PRIMARY KEY, state TEXT NOT NULL, last_success_at REAL, last_error TEXT);
                CREATE TABLE digest (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, at REAL NOT NULL);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
        }
        return m
    }

    private static let encoder = JSONEncoder()

    // MARK: - Intake

    public enum Taken: Sendable, Equatable {
        case taken
        /// The same (source, seq) with the same content: a replay, nothing to do.
        case duplicate
        /// The same (source, seq) with other content: the source's sequence started again.
        case conflict
    }

    /// Stores the alert and moves the source's cursor in one transaction.
    /// `decide` runs inside the same transaction and returns what to queue (channel, text, severity).
    public func take(_ a: IncomingAlert, now: Date,
                     decide: (Database, Int64) throws -> (disposition: String, deliveries: [(channel: String, text: String, severity: String)]))
        throws -> Taken
    {
        try pool.write { db in
            if let old = try Row.fetchOne(db, sql: "SELECT key, at FROM alerts WHERE source = ? AND seq = ?", arguments: [a.source, a.seq]) {
                let same = (old["key"] as String) == a.key && abs((old["at"] as Double) - a.at.timeIntervalSince1970) < 0.001
                return same ? .duplicate : .conflict
            }
            try db.execute(sql: """
                INSERT INTO cursors (source, last_seq) VALUES (?, ?)
                ON CONFLICT(source) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)
                """, arguments: [a.source, a.seq])
            try db.execute(sql: """
                INSERT INTO alerts (source, seq, key, kind, severity, message, at, duration_s, received_at, disposition)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'new')
                """, arguments: [a.source, a.seq, a.key, a.kind, a.severity, a.message, a.at.timeIntervalSince1970, a.durationS,
                                 now.timeIntervalSince1970])
            let id = db.lastInsertedRowID
            let decision = try decide(db, id)
            try db.execute(sql: "UPDATE alerts SET disposition = ? WHERE id = ?", arguments: [decision.disposition, id])
            for d in decision.deliveries { try Self.enqueue(db, channel: d.channel, text: d.text, severity: d.severity, now: now) }
            return .taken
        }
    }

    static func enqueue(_ db: Database, channel: String, text: String, severity: String, now: Date) throws {
        try db.execute(sql: """
            INSERT INTO deliveries (channel, text, severity, state, created_at, next_at) VALUES (?, ?, ?, 'pending', ?, ?)
            """, arguments: [channel, text, severity, now.timeIntervalSince1970, now.timeIntervalSince1970])
    }

    public func enqueue(_ items: [(channel: String, text: String, severity: String)], now: Date) throws {
        try pool.write { db in for i in items { try Self.enqueue(db, channel: i.channel, text: i.text, severity: i.severity, now: now) } }
    }

    /// Records a gap in a source's stream (events it no longer holds) and moves the cursor past it.
    public func recordGap(source: String, through seq: Int64) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO cursors (source, last_seq, gaps) VALUES (?, ?, 1)
                ON CONFLICT(source) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq), gaps = gaps + 1
                """, arguments: [source, seq])
        }
    }

    public func cursor(_ source: String) throws -> (lastSeq: Int64, gaps: Int) {
        try pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT last_seq, gaps FROM cursors WHERE source = ?", arguments: [source])
            return (row?["last_seq"] ?? 0, row?["gaps"] ?? 0)
        }
    }

    /// Forgets a source's cursor (its sequence restarted, e.g. a fresh journal), keeping the alerts already taken.
    public func resetSource(_ source: String, renameTo archived: String) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE alerts SET source = ? WHERE source = ?", arguments: [archived, source])
            try db.execute(sql: "DELETE FROM cursors WHERE source = ?", arguments: [source])
        }
    }

    // MARK: - Conditions

    static func condition(_ db: Database, _ key: String) throws -> ConditionState {
        guard let s = try String.fetchOne(db, sql: "SELECT state FROM conditions WHERE key = ?", arguments: [key]) else { return ConditionState() }
        return try JSONDecoder().decode(ConditionState.self, from: Data(s.utf8))
    }

    static func save(_ db: Database, _ key: String, _ c: ConditionState) throws {
        let s = String(decoding: try encoder.encode(c), as: UTF8.self)
        try db.execute(sql: "INSERT OR REPLACE INTO conditions (key, state) VALUES (?, ?)", arguments: [key, s])
    }

    /// Runs `body` over every condition in one transaction; it returns the new state (nil: unchanged) and messages to queue.
    public func sweepConditions(now: Date,
                                _ body: (String, ConditionState) -> (ConditionState?, [(channel: String, text: String, severity: String)]))
        throws
    {
        try pool.write { db in
            for row in try Row.fetchAll(db, sql: "SELECT key, state FROM conditions") {
                let key: String = row["key"]
                let c = try JSONDecoder().decode(ConditionState.self, from: Data((row["state"] as String).utf8))
                let (changed, messages) = body(key, c)
                if let changed { try Self.save(db, key, changed) }
                for m in messages { try Self.enqueue(db, channel: m.channel, text: m.text, severity: m.severity, now: now) }
            }
        }
    }

    // MARK: - Digest (quiet hours)

    public static func holdForDigest(_ db: Database, text: String, at: Date) throws {
        try db.execute(sql: "INSERT INTO digest (text, at) VALUES (?, ?)", arguments: [text, at.timeIntervalSince1970])
    }

    /// Takes every held line out and queues them as one message per channel, in one transaction.
    public func flushDigest(now: Date, compose: ([String]) -> [(channel: String, text: String, severity: String)]) throws -> Int {
        try pool.write { db in
            let lines = try String.fetchAll(db, sql: "SELECT text FROM digest ORDER BY id")
            guard !lines.isEmpty else { return 0 }
            try db.execute(sql: "DELETE FROM digest")
            for m in compose(lines) { try Self.enqueue(db, channel: m.channel, text: m.text, severity: m.severity, now: now) }
            return lines.count
        }
    }

    public func meta(_ key: String) throws -> String? {
        try pool.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    public func setMeta(_ key: String, _ value: String) throws {
        try pool.write { try $0.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value]) }
    }

    // MARK: - Delivery

    /// The oldest due message of a channel.
    public func nextDue(channel: String, now: Date) throws -> Delivery? {
        try pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM deliveries WHERE channel = ? AND state = 'pending' AND next_at <= ? ORDER BY id LIMIT 1
                """, arguments: [channel, now.timeIntervalSince1970]).map(Self.delivery)
        }
    }

    static func delivery(_ r: Row) -> Delivery {
        Delivery(id: r["id"], channel: r["channel"], text: r["text"], severity: r["severity"], attempts: r["attempts"],
                 createdAt: Date(timeIntervalSince1970: r["created_at"]), nextAt: Date(timeIntervalSince1970: r["next_at"]))
    }

    public func markSent(_ id: Int64, at: Date) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE deliveries SET state = 'sent', done_at = ?, attempts = attempts + 1 WHERE id = ?",
                           arguments: [at.timeIntervalSince1970, id])
        }
    }

    public func retry(_ id: Int64, at next: Date, error: String, countAttempt: Bool = true) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE deliveries SET next_at = ?, last_error = ?, attempts = attempts + ? WHERE id = ?",
                           arguments: [next.timeIntervalSince1970, error, countAttempt ? 1 : 0, id])
        }
    }

    public func replaceText(_ id: Int64, _ text: String) throws {
        try pool.write { try $0.execute(sql: "UPDATE deliveries SET text = ? WHERE id = ?", arguments: [text, id]) }
    }

    /// Gives a message up (refused for good, or too old), keeping it and the reason.
    public func markFailed(_ id: Int64, at: Date, error: String) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE deliveries SET state = 'failed', done_at = ?, last_error = ? WHERE id = ?",
                           arguments: [at.timeIntervalSince1970, error, id])
        }
    }

    /// Messages older than `cutoff` still pending: given up, each with the reason; returns them.
    public func expire(olderThan cutoff: Date, now: Date) throws -> [Delivery] {
        try pool.write { db in
            let old = try Row.fetchAll(db, sql: "SELECT * FROM deliveries WHERE state = 'pending' AND created_at < ?",
                                       arguments: [cutoff.timeIntervalSince1970]).map(Self.delivery)
            for d in old {
                try db.execute(sql: "UPDATE deliveries SET state = 'failed', done_at = ?, last_error = COALESCE(last_error, '') || ' (given up: too old)' WHERE id = ?",
                               arguments: [now.timeIntervalSince1970, d.id])
            }
            return old
        }
    }

    public func saveChannel(_ name: String, _ r: ChannelRecord) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO channels (name, state, last_success_at, last_error) VALUES (?, ?, ?, ?)",
                           arguments: [name, r.state, r.lastSuccessAt?.timeIntervalSince1970, r.lastError])
        }
    }

    public func channels() throws -> [String: ChannelRecord] {
        try pool.read { db in
            var out: [String: ChannelRecord] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT * FROM channels") {
                out[r["name"]] = ChannelRecord(state: r["state"], lastSuccessAt: (r["last_success_at"] as Double?).map { Date(timeIntervalSince1970: $0) },
                                               lastError: r["last_error"])
            }
            return out
        }
    }

    // MARK: - Figures

    public struct Figures: Sendable {
        public var pendingByChannel: [String: Int]
        public var oldestPending: Date?
        public var alerts: Int
        public var delivered: Int
        public var failed: Int
        /// Intake cursors by source: last seq taken and gaps counted.
        public var cursors: [String: (lastSeq: Int64, gaps: Int)] = [:]
    }

    /// Every figure of the status in one read, with prepared statements kept by the connection.
    public func figures() throws -> Figures {
        try pool.read { db in
            var pending: [String: Int] = [:]
            var oldest: Double?
            var delivered = 0, failed = 0
            let byState = try db.cachedStatement(sql: "SELECT state, channel, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries GROUP BY state, channel")
            for r in try Row.fetchAll(byState) {
                let n: Int = r["n"]
                switch r["state"] as String {
                case "pending":
                    pending[r["channel"]] = n
                    let o: Double? = r["oldest"]
                    if let o { oldest = min(oldest ?? o, o) }
                case "sent": delivered += n
                case "failed": failed += n
                default: break
                }
            }
            var cursors: [String: (lastSeq: Int64, gaps: Int)] = [:]
            for r in try Row.fetchAll(try db.cachedStatement(sql: "SELECT source, last_seq, gaps FROM cursors")) {
                cursors[r["source"]] = (r["last_seq"], r["gaps"])
            }
            return Figures(pendingByChannel: pending, oldestPending: oldest.map { Date(timeIntervalSince1970: $0) },
                           alerts: try Int.fetchOne(try db.cachedStatement(sql: "SELECT COUNT(*) FROM alerts")) ?? 0,
                           delivered: delivered, failed: failed, cursors: cursors)
        }
    }

    public func sentSince(_ t: Date) throws -> Int {
        try pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM deliveries WHERE state = 'sent' AND done_at >= ?", arguments: [t.timeIntervalSince1970]) ?? 0 }
    }
}

public struct OutboxError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
