// Issue 16 #5: `warden-engine backtest` on a recording the test makes from the fake: a report folder whose
// report.md is the same bytes on a second run, whose figures agree with the run's own journal, whose report.html
// renders its charts in headless Chromium (screenshot in test-output/), and a recording with a bad line reported
// up to that line, the line named.
import Foundation
import GRDB
import Testing
import WardenFakes
import WardenIPC
import WardenTestKit

@Suite("Backtest", .serialized)
struct BacktestTests {
    /// A recording of the demo fake (its wide market included) and a configuration with the market maker on.
    static func record() async throws -> (tree: TestTree, recording: String) {
        let fake = try await PolymarketFake.start(.demo(wideMarket: true))
        let tree = try engineTree(fake, extraEngine: """
          strategies:
            market_maker: {enabled: true, stop_before_end_hours: 0}
        """)
        let recording = tree.root + "/recording.jsonl.gz"
        let rec = try await runTool("warden-engine", ["record", "--config", tree.configPath, "--out", recording, "--duration", "8s"],
                                    env: recorderTimeouts)
        await fake.stop()
        #expect(rec.code == 0, "\(rec.out)\(rec.err)")
        return (tree, recording)
    }

    @Test("a report folder: report.md byte-identical on a second run, figures equal to the run's journal, report.html charts render in Chromium")
    func reportAndDeterminism() async throws {
        let (tree, recording) = try await Self.record()
        let first = tree.root + "/report-1", second = tree.root + "/report-2"
        let a = try await runTool("warden-engine", ["backtest", "--data", recording, "--report", first, "--config", tree.configPath])
        #expect(a.code == 0 && a.out.contains("backtest:"), "\(a.out)\(a.err)")
        let b = try await runTool("warden-engine", ["backtest", "--data", recording, "--report", second, "--config", tree.configPath])
        #expect(b.code == 0, "\(b.out)\(b.err)")
        let md1 = try String(contentsOfFile: first + "/report.md", encoding: .utf8)
        let md2 = try String(contentsOfFile: second + "/report.md", encoding: .utf8)
        #expect(md1 == md2, "the same recording and settings give the same report.md")
        for s in ["complement_arb", "near_resolution", "mean_reversion", "market_maker"] { #expect(md1.contains("| \(s) |"), "\(s) in\n\(md1)") }
        // The channel's book events in the recording carry no tick size; replayed, the book keeps the one it had
        // (a replay once gave such books tick 0, and every strategy's intent on them was refused as off tick).
        #expect(!md1.contains("not on tick 0.0000"), "\(md1)")
        // The report's fills and net P&L per strategy are the journal's: its fills, and equity minus bankroll.
        let db = try DatabaseQueue(path: first + "/journal.db")
        let fills = try await db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM fills") ?? -1 }
        #expect(md1.contains("## Fills (all \(fills))") || md1.contains("of \(fills))"), "\(fills) fills in the journal")
        let perStrategy = try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT strategy, COUNT(*) AS n FROM fills GROUP BY strategy").map { ($0["strategy"] as String, $0["n"] as Int) }
        }
        for (s, n) in perStrategy { #expect(md1.split(separator: "\n").contains { $0.hasPrefix("| \(s) |") && $0.contains("| \(n) |") }, "\(s): \(n) fills") }
        let audit = try await db.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fills f JOIN intents i ON i.id = f.intent_id WHERE i.status NOT IN ('filled', 'partial', 'resting')") ?? -1
        }
        #expect(audit == 0)
        // The same decisions, order for order: both runs' journals hold the same intents under the same ids (the engine
        // numbers the orders it sends; nothing random names them).
        func intents(_ dir: String) async throws -> [String] {
            try await DatabaseQueue(path: dir + "/journal.db").read { db in
                try Row.fetchAll(db, sql: "SELECT id, strategy, token_id, side, limit_price, shares, status FROM intents ORDER BY id").map { "\($0)" }
            }
        }
        let (i1, i2) = (try await intents(first), try await intents(second))
        #expect(!i1.isEmpty && i1 == i2, "\(i1.count) intents in the first run, \(i2.count) in the second")
        #expect(i1.allSatisfy { $0.contains("id:\"bt-") }, "backtest order ids are bt-<n>: \(i1.prefix(2))")
        let html = try String(contentsOfFile: first + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg id=\"equity\"") && html.contains("<svg id=\"drawdown\""))
        #expect(!html.contains("src=") && !html.contains("<link") && !html.contains("url("), "self-contained: nothing fetched from anywhere")
        // A sweep: one run per value, each with its own report, ranked in sweep.md.
        let swept = tree.root + "/sweep"
        let sw = try await runTool("warden-engine", ["backtest", "--data", recording, "--report", swept, "--config", tree.configPath,
                                                     "--sweep", "engine.strategies.market_maker.size=5,10,20"], limit: .seconds(120))
        #expect(sw.code == 0 && sw.out.contains("sweep: 3 runs"), "\(sw.out)\(sw.err)")
        let ranking = try String(contentsOfFile: swept + "/sweep.md", encoding: .utf8)
        let ranked = ranking.split(separator: "\n").filter { $0.hasPrefix("| 1 |") || $0.hasPrefix("| 2 |") || $0.hasPrefix("| 3 |") }
        #expect(ranked.count == 3 && ranking.contains("engine.strategies.market_maker.size"), "\(ranking)")
        for i in 1...3 { #expect(FileManager.default.fileExists(atPath: swept + "/run-\(i)/report.md")) }
        if FileManager.default.fileExists(atPath: "/usr/bin/chromedriver") {
            let shot = packageRoot + "/test-output/backtest/report.png"
            let r = try await runProgram("/usr/bin/python3", [packageRoot + "/Tests/e2e/backtest_report_e2e.py", "--report", first + "/report.html",
                                                               "--strategies", "complement_arb,market_maker,mean_reversion,near_resolution", "--out", shot],
                                         limit: .seconds(120))
            #expect(r.code == 0 && r.out.contains("PASS"), "\(r.out)")
            #expect(FileManager.default.fileExists(atPath: shot))
        }
    }

    @Test("a recording with a malformed line: what comes before it is replayed and reported, the line named; --set and --strategies apply; a wrong key is refused")
    func badLineAndOverrides() async throws {
        let (tree, recording) = try await Self.record()
        let plain = tree.root + "/cut.jsonl"
        let text = try await runProgram("/bin/sh", ["-c", "gzip -dc '\(recording)'"], limit: .seconds(30)).out
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let bad = lines.count * 2 / 3
        lines[bad] = "{\"kind\":\"books\",\"at\":"
        try lines.joined(separator: "\n").write(toFile: plain, atomically: true, encoding: .utf8)
        let out = tree.root + "/report-cut"
        let r = try await runTool("warden-engine", ["backtest", "--data", plain, "--report", out, "--config", tree.configPath,
                                                    "--strategies", "market_maker", "--set", "engine.strategies.market_maker.size=7"])
        #expect(r.code == 0, "\(r.out)\(r.err)")
        #expect(r.err.contains("line \(bad + 1)"), "\(r.err)")
        let md = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        #expect(md.contains("Warning: ") && md.contains("line \(bad + 1)"), "\(md)")
        #expect(md.contains("Strategies: market_maker\n"), "\(md)")
        for row in md.split(separator: "\n") where row.hasPrefix("| ") && row.contains("| market_maker | buy |") {
            #expect(row.contains("| 7.00 |") || row.contains("| 7 |"), "a quote of 7 shares: \(row)")
        }
        let wrong = try await runTool("warden-engine", ["backtest", "--data", plain, "--report", out, "--set", "engine.strategies.market_maker.sise=7"])
        #expect(wrong.code != 0 && wrong.err.contains("engine.strategies.market_maker.sise"), "\(wrong.err)")
    }

    /// A recording made here: two binary markets, a snapshot every 10 s for 70 s; m1's asks sum to 0.95 from 20 s to
    /// 30 s, m2's to 0.90 from 40 s on; the bids move every snapshot, so the final marks differ from the entries.
    static func arbitrageRecording(at path: String) throws {
        let t0 = 1_800_000_000.0
        func market(_ id: String) -> String {
            #"{"acceptingOrders":true,"active":true,"closed":false,"conditionID":"0x\#(id)","endDate":\#(Int(t0) + 30 * 86_400),"#
                + #""fees":{"exponent":1,"rate":0,"takerOnly":true},"id":"\#(id)","minOrderSize":5000000,"question":"Q \#(id)?","slug":"\#(id)","#
                + #""tickSize":10000,"tokens":[{"outcome":"Yes","tokenID":"\#(id)a"},{"outcome":"No","tokenID":"\#(id)b"}]}"#
        }
        func book(_ token: String, bid: Int, ask: Int, size: Int, at: Double, k: Int) -> String {
            #"{"asks":[{"price":\#(ask),"size":\#(size)000000}],"bids":[{"price":\#(bid),"size":100000000}],"hash":"\#(token)-\#(k)","#
                + #""minOrderSize":5000000,"observedAt":\#(at),"tickSize":10000,"tokenID":"\#(token)"}"#
        }
        var lines = [#"{"at":\#(t0),"kind":"markets","markets":[\#(market("m1")),\#(market("m2"))]}"#]
        for k in 0...7 {
            let at = t0 + Double(k * 10)
            let arb1 = k == 2 || k == 3, arb2 = k >= 4
            let books = [book("m1a", bid: 400_000 + k * 10_000, ask: arb1 ? 450_000 : 520_000, size: 50, at: at, k: k),
                         book("m1b", bid: 460_000, ask: 500_000, size: 50, at: at, k: k),
                         book("m2a", bid: 280_000, ask: arb2 ? 300_000 : 350_000, size: 20, at: at, k: k),
                         book("m2b", bid: 550_000 + k * 5_000, ask: arb2 ? 600_000 : 700_000, size: 20, at: at, k: k)]
            lines.append(#"{"at":\#(at),"books":[\#(books.joined(separator: ","))],"kind":"books"}"#)
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test("the paper engine trading the same recording journals the same fills and the same P&L as the backtest")
    func paperRunEqualsBacktest() async throws {
        let tree = try TestTree(programs: """
        \(StackYAML.entry(.engine, Bin.path("warden-engine")))
            critical: true
            watchdog_sec: 10s
            start_timeout: 30s
        """, supervisor: """
          log_level: info
        engine:
          source: replay
          replay_file: recording.jsonl
          # 70 recorded seconds in 35 real ones: each state lasts 5 s, many cycles of either run even on a loaded machine.
          replay_speed: 2
          cycle: 200ms
          book_refresh: 200ms
          stale_data_after: 5s
          stale_market_after: 60s
          backup_interval: 1h
          # Only the arbitrage, whose decisions depend on the books alone (the others read time or mid histories,
          # which a real-time run samples at other instants than the simulated clock).
          strategies:
            near_resolution: {enabled: false}
            mean_reversion: {enabled: false}

        """)
        let recording = tree.root + "/recording.jsonl"
        try Self.arbitrageRecording(at: recording)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let ended = try await eventually("the replay ends", within: .seconds(150)) {
            let e = try await engineStatus(tree)
            return e?.reasons?.first { $0.code == "data_stale" && $0.message.contains("ended") } != nil ? e : nil
        }
        let paper = try #require(ended.accounts?.first { $0.strategy == "complement_arb" })
        await w.stop()
        let report = tree.root + "/report"
        let bt = try await runTool("warden-engine", ["backtest", "--data", recording, "--report", report, "--config", tree.configPath])
        #expect(bt.code == 0, "\(bt.out)\(bt.err)")
        func fills(_ path: String) async throws -> [String] {
            try await DatabaseQueue(path: path).read { db in
                try Row.fetchAll(db, sql: "SELECT strategy, token_id, side, shares, notional, fee FROM fills ORDER BY token_id").map { "\($0)" }
            }
        }
        let paperFills = try await fills(tree.root + "/var/lib/engine.db"), backtestFills = try await fills(report + "/journal.db")
        #expect(paperFills.count == 4 && paperFills == backtestFills, "paper:\n\(paperFills)\nbacktest:\n\(backtestFills)")
        let md = try String(contentsOfFile: report + "/report.md", encoding: .utf8)
        let net = String(format: "%.2f", paper.equity - paper.bankroll)
        #expect(md.split(separator: "\n").contains { $0.hasPrefix("| complement_arb | \(net) |") }, "paper net P&L \(net) in\n\(md)")
    }

    @Test("damaged times: a line a year ahead is reached by skipping the gap (said in the report), a line going back stops the play before it, named")
    func damagedTimes() async throws {
        let dir = try ScratchDirectory()
        let good = dir.path + "/good.jsonl"
        try Self.arbitrageRecording(at: good)
        let lines = try String(contentsOfFile: good, encoding: .utf8).split(separator: "\n").map(String.init)
        let config = dir.path + "/bt.yaml"
        try "engine:\n  cycle: 2s\n".write(toFile: config, atomically: true, encoding: .utf8)

        // The last snapshot again, a year on: 15 million cycles if played one by one.
        let ahead = dir.path + "/ahead.jsonl"
        let yearOn = lines.last!.replacingOccurrences(of: #"{"at":1800000070"#, with: #"{"at":1831536070"#)
        #expect(yearOn != lines.last!)
        try ((lines + [yearOn]).joined(separator: "\n") + "\n").write(toFile: ahead, atomically: true, encoding: .utf8)
        let r1 = try await runTool("warden-engine", ["backtest", "--data", ahead, "--report", dir.path + "/r1", "--config", config],
                                   limit: .seconds(300))
        #expect(r1.code == 0, "\(r1.out)\(r1.err)")
        let md1 = try String(contentsOfFile: dir.path + "/r1/report.md", encoding: .utf8)
        #expect(md1.contains("Warning: no records from 2027-01-15T08:01:1") && md1.contains("to 2028-01-15T08:01:10"), "\(md1)")
        #expect(md1.contains("| complement_arb |"), "\(md1)")

        // Line 6 (the snapshot at +40 s) stamped 100 s earlier than line 5: the play ends after line 5, which is named.
        var back = lines
        back[5] = back[5].replacingOccurrences(of: #"{"at":1800000040"#, with: #"{"at":1799999940"#)
        let behind = dir.path + "/back.jsonl"
        try (back.joined(separator: "\n") + "\n").write(toFile: behind, atomically: true, encoding: .utf8)
        let r2 = try await runTool("warden-engine", ["backtest", "--data", behind, "--report", dir.path + "/r2", "--config", config],
                                   limit: .seconds(300))
        #expect(r2.code == 0, "\(r2.out)\(r2.err)")
        let md2 = try String(contentsOfFile: dir.path + "/r2/report.md", encoding: .utf8)
        #expect(md2.contains("line 6 is recorded at 2027-01-15T07:59:00") && md2.contains("replaying the 5 lines before it"), "\(md2)")
        // Through the snapshot at +30 s only: the second arbitrage (from +40 s) is never seen.
        #expect(md2.contains("2027-01-15T08:00:30"), "\(md2)")
        #expect(!md2.contains("2027-01-15T08:00:40"), "\(md2)")
    }
}
