// The journal on real files: write-ahead intents, atomic fills, recovery, corruption, locks, backups.
import Foundation
import GRDB
import Testing
import WardenCore
@testable import WardenEngine
import WardenIPC

func tempDir() -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString.prefix(8))").path
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

private struct Note: Codable { var text: String }

private func sampleFill(_ intent: OrderIntent) -> Fill {
    Fill(intentID: intent.id, strategy: intent.strategy, marketID: intent.marketID, tokenID: intent.tokenID, side: .buy,
         shares: 10 * Fixed.one, notional: 5 * Fixed.one, fee: 10_000, levels: 1, at: Date())
}

private func sampleIntent(_ strategy: String = "s") -> OrderIntent {
    OrderIntent(strategy: strategy, marketID: "m1", tokenID: "yes", side: .buy, kind: .entry, limitPrice: 500_000,
                shares: 10 * Fixed.one, reason: "test")
}

@Suite("Journal", .serialized)
struct JournalTests {
    @Test("a fill, its account and event commit together; the account reloads exactly")
    func fillTransaction() throws {
        let dir = tempDir()
        let (j, report) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
        #expect(report.createdFresh)
        let intent = sampleIntent()
        try j.recordIntent(intent, at: Date())
        var account = Account(strategy: "s", bankroll: 100 * Fixed.one)
        let fill = sampleFill(intent)
        try account.apply(fill)
        try j.recordFill(fill, account: account, status: "filled", eventTopic: "trades", event: Note(text: "filled"))
        #expect(try j.openIntents().isEmpty)
        #expect(try j.loadAccounts()["s"] == account)
        #expect(try j.fillCount() == 1)
        // A second fill for the same immediate intent is refused by the schema: never twice.
        #expect(throws: JournalError.self) {
            try j.recordFill(fill, account: account, status: "filled", eventTopic: "trades", event: Note(text: "again"))
        }
        #expect(try j.fillCount() == 1 && j.loadAccounts()["s"] == account, "the failed transaction changed nothing")
    }

    @Test("a resting order fills in parts up to its size, never past it; it is found resting at the next start with what is still open")
    func restingParts() throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
        var intent = sampleIntent()
        intent.timeInForce = .resting
        try j.recordIntent(intent, at: Date())
        try j.markResting(intent.id)
        var account = Account(strategy: "s", bankroll: 100 * Fixed.one)
        var part = sampleFill(intent)
        part.shares = intent.shares / 2
        part.notional /= 2
        for _ in 0..<2 {
            try account.apply(part)
            try j.recordFill(part, account: account, status: "resting", eventTopic: "trades", event: Note(text: "part"))
            if account.fills == 1 {
                let back = try j.restingIntents()
                #expect(back.map(\.intent.id) == [intent.id] && back.first?.open == intent.shares - part.shares && back.first?.intent.timeInForce == .resting)
            }
        }
        #expect(throws: JournalError.self, "a third half would fill past the order's size") {
            try j.recordFill(part, account: account, status: "resting", eventTopic: "trades", event: Note(text: "past"))
        }
        #expect(try j.fillCount() == 2)
        // An order that traded is never recorded as one that did not, whatever its end is called.
        var other = sampleIntent()
        other.timeInForce = .resting
        try j.recordIntent(other, at: Date())
        try j.markResting(other.id)
        var otherPart = sampleFill(other)
        otherPart.shares = other.shares / 2
        otherPart.notional /= 2
        try account.apply(otherPart)
        try j.recordFill(otherPart, account: account, status: "resting", eventTopic: "trades", event: Note(text: "part"))
        try j.finishIntent(other.id, status: "rejected", note: "the account could not pay the rest", at: Date())
        #expect(try j.intentCount(status: "partial") == 1 && !j.restingIntents().contains { $0.intent.id == other.id })
        let audit = try j.verify()
        #expect(audit.problems.isEmpty, "\(audit.problems)")
    }

    @Test("a journal written before resting orders existed is migrated with every fill kept, and still refuses a second fill of an order")
    func migrationKeepsFills() throws {
        let dir = tempDir()
        let path = dir + "/engine.db"
        let intent = sampleIntent()
        do {
            let queue = try DatabaseQueue(path: path)
            try Journal.migrator.migrate(queue, upTo: "v1")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO intents (id, strategy, market_id, token_id, side, kind, limit_price, shares, reason, status, created_at) VALUES (?, 's', 'm1', 'yes', 'buy', 'entry', 500000, 10000000, 'old', 'filled', 1)",
                               arguments: [intent.id])
                try db.execute(sql: "INSERT INTO fills (intent_id, strategy, market_id, token_id, side, shares, notional, fee, levels, at) VALUES (?, 's', 'm1', 'yes', 'buy', 10000000, 5000000, 0, 1, 1)",
                               arguments: [intent.id])
            }
        }
        let (j, _) = try Journal.open(path: path, backupsDir: dir + "/backups")
        #expect(try j.fillCount() == 1)
        #expect(try j.trades(limit: 10).rows.first?.intent_id == intent.id)
        #expect(throws: JournalError.self) {
            try j.recordFill(sampleFill(intent), account: Account(strategy: "s", bankroll: 100 * Fixed.one), status: "filled", eventTopic: "trades", event: Note(text: "again"))
        }
    }

    @Test("F38: an intent left open by a crash is found at start and resolved exactly once")
    func recovery() throws {
        let dir = tempDir()
        do {
            let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/b")
            try j.recordIntent(sampleIntent(), at: Date())
        }
        let (j, report) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/b")
        #expect(!report.createdFresh)
        let open = try j.openIntents()
        #expect(open.count == 1)
        try j.resolveIntent(open[0].id, status: "abandoned", note: "engine restarted before execution", at: Date())
        try j.resolveIntent(open[0].id, status: "abandoned", note: "twice", at: Date())
        #expect(try j.openIntents().isEmpty)
    }

    @Test("a loss-streak cool-down survives a reopen with its original end; a cleared one is gone")
    func cooldownsKept() throws {
        let dir = tempDir()
        let until = Date(timeIntervalSince1970: 1_800_000_000.25)
        do {
            let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/b")
            try j.saveCooldown(strategy: "mean_reversion", until: until)
            try j.saveCooldown(strategy: "arbitrage", until: until)
            try j.saveCooldown(strategy: "arbitrage", until: nil)
        }
        let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/b")
        #expect(try j.cooldowns() == ["mean_reversion": until])
    }

    @Test("F12: a corrupt file is refused, kept, and named with the last backup")
    func corrupt() throws {
        let dir = tempDir()
        let path = dir + "/engine.db"
        do {
            let (j, _) = try Journal.open(path: path, backupsDir: dir + "/backups")
            for _ in 0..<200 { try j.appendEvent(topic: "activity", at: Date(), Note(text: String(repeating: "x", count: 200))) }
            try j.backup(at: Date())
        }
        // Overwrite pages in the middle of the file.
        let h = try #require(FileHandle(forUpdatingAtPath: path))
        try h.seek(toOffset: 8192)
        h.write(Data(repeating: 0x5A, count: 16384))
        try h.close()
        try? FileManager.default.removeItem(atPath: path + "-wal")
        do {
            _ = try Journal.open(path: path, backupsDir: dir + "/backups")
            Issue.record("opened a corrupt journal")
        } catch let e as JournalError {
            #expect(e.kind == .corrupt)
            #expect(e.message.contains(path) && e.message.contains("last backup: \(dir)/backups/engine-"))
        }
        #expect(FileManager.default.fileExists(atPath: path), "the corrupt file is kept")
    }

    @Test("F11: a long exclusive lock fails writes loudly after the bound; writes land once it goes")
    func locked() async throws {
        let dir = tempDir()
        let path = dir + "/engine.db"
        let (j, _) = try Journal.open(path: path, backupsDir: dir + "/b", busyTimeout: 0.1, writeRetries: 2)
        // Another process holds BEGIN EXCLUSIVE, as in the fault catalogue.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)
            """, path]
        // Output through a file, polled: a blocking read would hold a thread the other tests' fakes answer on.
        let said = dir + "/holder.out"
        _ = FileManager.default.createFile(atPath: said, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: said))
        holder.standardOutput = out
        try holder.run()
        try out.close()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? String(contentsOfFile: said, encoding: .utf8))?.contains("locked") != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect((try? String(contentsOfFile: said, encoding: .utf8))?.contains("locked") == true)
        do {
            try j.recordIntent(sampleIntent(), at: Date())
            Issue.record("write succeeded under an exclusive lock")
        } catch let e as JournalError {
            #expect(e.kind == .locked && e.message.contains("locked"))
        }
        #expect(try j.openIntents().isEmpty, "nothing was acknowledged")
        // With nothing to write, the engine's periodic check finds the lock too.
        do {
            try j.checkWritable()
            Issue.record("the write lock was taken under an exclusive lock")
        } catch let e as JournalError {
            #expect(e.kind == .locked)
        }
        kill(holder.processIdentifier, SIGKILL)  // the lock holder goes away
        while holder.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        try j.checkWritable()
        try j.recordIntent(sampleIntent(), at: Date())
        #expect(try j.openIntents().count == 1)
    }

    @Test("backups are complete databases, and only the newest are kept")
    func backups() throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
        try j.recordIntent(sampleIntent(), at: Date())
        var last = ""
        for i in 0..<7 { last = try j.backup(at: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)), keep: 3) }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/backups")
        #expect(files.count == 3)
        let copy = try DatabaseQueue(path: last)
        #expect(try copy.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM intents") } == 1)
    }

    @Test("trade history pages newest first and says how many there are; export sees every row")
    func tradesPaged() throws {
        let dir = tempDir()
        let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/b")
        var account = Account(strategy: "s", bankroll: 10_000 * Fixed.one)
        for _ in 0..<25 {
            let i = sampleIntent()
            try j.recordIntent(i, at: Date())
            let f = sampleFill(i)
            try account.apply(f)
            try j.recordFill(f, account: account, status: "filled", eventTopic: "trades", event: Note(text: "f"))
        }
        let page = try j.trades(limit: 10)
        #expect(page.rows.count == 10 && page.total == 25 && page.rows[0].id == 25)
        let next = try j.trades(limit: 10, beforeID: page.rows.last!.id)
        #expect(next.rows.first?.id == 15)
        var exported = 0
        try j.forEachTrade(pageSize: 7) { exported += $0.count }
        #expect(exported == 25)
    }
}
