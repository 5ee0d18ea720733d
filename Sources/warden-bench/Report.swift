// Benchmarks/RESULTS.md: method, machine, every figure with its goal and Warden's standing.
import Foundation

struct Report {
    let smoke: Bool
    var sections: [String] = []

    init(smoke: Bool) { self.smoke = smoke }

    static func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
    static func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
    static func median(_ xs: [Double]) -> Double { percentile(xs.sorted(), 0.5) }
    static func verdict(_ ok: Bool) -> String { ok ? "**met**" : "**missed**" }

    mutating func failover(_ w: [Double], _ s: [Double]?) {
        let ws = Summary(w)
        var t = "## 1. Crash failover (kill -9 → replacement ready)\n\n"
        t += "The same child (warden-testchild, ready in under 50 ms) under each supervisor; in each round both children are killed, in alternating order, "
        t += "150 ms after the previous replacement (past `stable_after`). The clock stops when the new child announces itself right after READY=1.\n\n"
        t += "| supervisor | kills | p50 | p99 | min | max |\n| --- | --- | --- | --- | --- | --- |\n"
        t += "| warden | \(ws.n) | \(Self.ms(ws.p50)) | \(Self.ms(ws.p99)) | \(Self.ms(ws.min)) | \(Self.ms(ws.max)) |\n"
        if let s {
            let ss = Summary(s)
            t += "| supervisord | \(ss.n) | \(Self.ms(ss.p50)) | \(Self.ms(ss.p99)) | \(Self.ms(ss.min)) | \(Self.ms(ss.max)) |\n\n"
            let ratio50 = ss.p50 / ws.p50, ratio99 = ss.p99 / ws.p99
            t += "Ratio supervisord / warden: p50 ×\(Self.f(ratio50)), p99 ×\(Self.f(ratio99)). "
            t += "Goals: warden p99 ≤ 250 ms — \(Self.verdict(ws.p99 <= 0.25)); at least 5× faster — \(Self.verdict(ratio50 >= 5 && ratio99 >= 5)).\n"
        } else {
            t += "\nsupervisord is not installed here (Debian `supervisor`): no comparison in this run. Goal p99 ≤ 250 ms — \(Self.verdict(ws.p99 <= 0.25)).\n"
        }
        sections.append(t)
    }

    mutating func hang(_ h: [Double]) {
        let s = Summary(h)
        var t = "## 2. Hang detection (kill -STOP → replacement ready, watchdog_sec = 2 s)\n\n"
        t += "| rounds | p50 | max | min |\n| --- | --- | --- | --- |\n| \(s.n) | \(Self.ms(s.p50)) | \(Self.ms(s.max)) | \(Self.ms(s.min)) |\n\n"
        t += "Goal ≤ watchdog_sec + 150 ms = 2150 ms — \(Self.verdict(s.max <= 2.15)) (the figure includes `stop_timeout` 100 ms: SIGABRT is held by a stopped process, so SIGKILL ends it). "
        t += "supervisord has no hang detection: a stopped child stays RUNNING for ever there.\n"
        sections.append(t)
    }

    mutating func ipc(_ rows: [(subscribers: Int, events: Int, runs: [IPCBench.Result])]) {
        var t = "## 3. IPC (200-byte events over a Unix socket, one process)\n\n"
        t += "| subscribers | events | events/s per subscriber (median, min–max) | p50 | p99 | gaps |\n| --- | --- | --- | --- | --- | --- |\n"
        var goals = ""
        for (subs, events, runs) in rows {
            let rate = Self.median(runs.map(\.eventsPerSecond)), p50 = Self.median(runs.map(\.p50ms)), p99 = Self.median(runs.map(\.p99ms))
            t += "| \(subs) | \(events) | \(Self.f(rate, 0)) (\(Self.f(runs.map(\.eventsPerSecond).min() ?? 0, 0))–\(Self.f(runs.map(\.eventsPerSecond).max() ?? 0, 0))) | \(Self.f(p50, 3)) ms | \(Self.f(p99, 3)) ms | \(runs.map(\.gaps).reduce(0, +)) |\n"
            if subs == 1 {
                goals = "Goals (one subscriber): ≥ 200,000 events/s — \(Self.verdict(rate >= 200_000)); p99 ≤ 2 ms — \(Self.verdict(p99 <= 2)).\n"
                if rate < 200_000 {
                    goals += "\nWhy: the publisher, the server's pump, the client's socket reader and the consumer share this process's two cores, "
                    goals += "and each event still costs a JSON encoding of its data (the publish API takes any Encodable), one async hand-over from "
                    goals += "NIO's inbound stream to the client's task per frame, and a copy into the client's queue. Already done: the pump writes "
                    goals += "what is queued (up to 512 frames) as one buffer with one flush, the client reads in bursts (inbound watermarks 64/512) "
                    goals += "and routes the publisher's frames with a byte parser instead of JSONDecoder. What would close the rest: a decoder that "
                    goals += "hands the client a batch of frames per socket read, and publishers of hot topics passing pre-encoded JSON (`publishRaw`).\n"
                }
            }
        }
        t += "\nThroughput: the publisher sends as fast as it can; latency: a paced run at a tenth of that rate, so queueing is not counted as latency "
        t += "(send time written into each event, read on arrival from the raw frame). Publisher, server and clients share one process and its two cores; "
        t += "the clients do not decode the event data (the dashboard passes frames on as they are), so this is the transport's figure.\n\n" + goals
        sections.append(t)
    }


    mutating func requests(rate: Double, rss: [Int], perRound: Int) {
        var t = "### Request round trips (the same socket layer, one process)\n\n"
        t += "\(rss.count - 1) rounds of \(perRound) requests (64 in flight, an empty answer): \(Self.f(rate, 0)) requests/s; "
        t += "the process's RSS at start and after each round: " + rss.map { Self.f(Double($0) / 1_048_576) + " MiB" }.joined(separator: " → ") + ". "
        t += "A request's deadline and its client's timeout are NIO timers cancelled with the answer; before that fix, cancelled sleeping "
        t += "timers held about 0.7 KB per request for the 30 s deadline, and this figure grew by some 50 MiB per 50,000 requests.\n"
        sections.append(t)
    }

    mutating func journal(fills: Int, _ runs: [JournalBench.Result]) {
        let perFill = Self.median(runs.map { 1 / ($0.perFill.p50 / 1000) })
        var t = "## 4. Journal (synchronous FULL, WAL, on the build disk)\n\n"
        t += "| measurement | figure (median of \(runs.count)) |\n| --- | --- |\n"
        t += "| fill transaction (fill, intent resolution, account, event) | p50 \(Self.f(Self.median(runs.map(\.perFill.p50)), 2)) ms, p99 \(Self.f(Self.median(runs.map(\.perFill.p99)), 2)) ms → ≈ \(Self.f(perFill, 0)) fills/s |\n"
        t += "| write-ahead intent + fill (two commits, the engine's path) | p50 \(Self.f(Self.median(runs.map(\.intentAndFill.p50)), 2)) ms, p99 \(Self.f(Self.median(runs.map(\.intentAndFill.p99)), 2)) ms |\n"
        t += "| fills grouped 20 per transaction | \(Self.f(Self.median(runs.map(\.grouped)), 0)) fills/s |\n"
        t += "| raw SQLite ceiling: one bare row per transaction | \(Self.f(Self.median(runs.map(\.raw)), 0)) commits/s |\n\n"
        t += "\(fills) fills per run. Every commit is an fsync, so the disk sets the ceiling; grouping a cycle's fills into one transaction is the lever if fills per second ever matter.\n"
        sections.append(t)
    }

    mutating func feed(_ r: FeedBench.Result) {
        var t = "## 5b. Market WebSocket: deltas into books\n\n| measure | value | goal |\n| --- | --- | --- |\n"
        t += "| level changes applied (parsed, 100 per notice) | \(Self.f(r.applyLevelsPerSecond, 0))/s | ≥ 200,000/s — \(Self.verdict(r.applyLevelsPerSecond >= 200_000)) |\n"
        t += "| wire text parsed (JSONSerialization) and applied | \(Self.f(r.parseAndApplyLevelsPerSecond, 0))/s | — (parsing dominates; it runs on the connection's task, beside the engine) |\n"
        t += "| frame written → book updated in the engine, p50 | \(Self.f(r.endToEnd.p50, 2)) ms | — |\n"
        t += "| frame written → book updated in the engine, p99 | \(Self.f(r.endToEnd.p99, 2)) ms | ≤ 5 ms — \(Self.verdict(r.endToEnd.p99 <= 5)) |\n"
        t += "\n\(r.levels) level changes over \(r.assets) assets' books for the rates (one core: the engine is one actor). End to end: \(r.frames) "
        t += "frames of one change each, about 1,000 a second, written by a loopback WebSocket server to the engine's connection (WSClient) "
        t += "following \(r.assets) assets; the time from the write to the return of the engine's apply of that frame.\n"
        sections.append(t)
    }

    mutating func cycle(_ rows: [(markets: Int, summary: Summary)]) {
        var t = "## 5. Engine cycle CPU time (strategies, risk, paper fills, journal; no network)\n\n| markets | cycles | p50 | p99 | min | max |\n| --- | --- | --- | --- | --- | --- |\n"
        var goal = ""
        for (markets, s) in rows {
            t += "| \(markets) | \(s.n) | \(Self.f(s.p50, 2)) ms | \(Self.f(s.p99, 2)) ms | \(Self.f(s.min, 2)) ms | \(Self.f(s.max, 2)) ms |\n"
            if markets == 10_000 {
                goal = "Goal ≤ 20 ms at 10,000 markets — \(Self.verdict(s.p50 <= 20)) (p50 \(Self.f(s.p50, 1)) ms).\n"
                goal += "\nHow: a book and a market snapshot are each one reference (their fields in a storage copied only when "
                goal += "changed while shared); the snapshots strategies get are views onto the market book's token slots and market "
                goal += "list, so none is copied per market; a book keeps its best bid and ask beside its reference and strategies "
                goal += "read those first; a book answered again unchanged only moves its times; the k-th book's slot is guessed from "
                goal += "the order asked. "
                if s.p50 > 20 {
                    goal += "Why it misses: what a profile (perf) shows remains is memory-bound (the first touch of each of 20,000 books "
                    goal += "and their mid histories per cycle, in this benchmark which refreshes every book every cycle) and this "
                    goal += "machine's noise (the same binary's p50 moves by half between runs). What would close it: books' levels and "
                    goal += "mids in flat per-token buffers, so a cycle reads contiguous memory.\n"
                } else {
                    goal += "What remains is mostly memory-bound: the first touch of each of 20,000 books and mid histories per "
                    goal += "cycle (this benchmark refreshes every book every cycle); this machine's noise moves a run's p50 by a "
                    goal += "third.\n"
                }
            }
        }
        t += "\nCPU time (user + system, getrusage) of steady-state cycles, after warm-up cycles until every strategy's mid history is "
        t += "full (63: the mean reversion's window of 30 needs 60 refreshes of history); synthetic markets held in memory, every book "
        t += "refreshed every cycle.\n" + goal
        sections.append(t)
    }


    mutating func signing(_ s: Summary) {
        var t = "## 9. Signing a live order (in process)\n\n"
        t += "One Polymarket CLOB V2 order built (amounts by tick), hashed (EIP-712, our Keccak-256), signed (secp256k1 through the "
        t += "system libsecp256k1, RFC 6979) and encoded as the body of POST /order, \(s.n) times after 100 warm-up orders: "
        t += "**p50 \(Self.f(s.p50, 1)) µs**, p99 \(Self.f(s.p99, 1)) µs (min \(Self.f(s.min, 1)), max \(Self.f(s.max, 1))).\n\n"
        t += "Goal p50 ≤ 100 µs — \(Self.verdict(s.p50 <= 100)) (NautilusTrader's Rust signer: 44 µs; the official Python client: about 1 s). "
        t += "The same code is compared byte for byte with the official client in `make test` (ClobSigningTests).\n"
        sections.append(t)
    }

    mutating func intentToOrder(_ s: Summary) {
        var t = "## 10. Intent → order on the fake's book (loopback)\n\n"
        t += "What the live venue does for one order, timed from the intent to the venue's answer: the intent written ahead to a durable "
        t += "journal (WAL, synchronous=FULL), the order built and signed for its market's exchange, its venue id written, POST /order over "
        t += "loopback HTTP to the CLOB fake (which recovers the signer from the signature and rests the order on its book), and its "
        t += "trades read back; \(s.n) resting orders after 20 warm-up ones: "
        t += "**p99 \(Self.f(s.p99, 2)) ms**, p50 \(Self.f(s.p50, 2)) ms (min \(Self.f(s.min, 2)), max \(Self.f(s.max, 2))).\n\n"
        t += "Goal p99 ≤ 10 ms — \(Self.verdict(s.p99 <= 10)). The fake answers from the same process (its work is in the figure).\n"
        sections.append(t)
    }

    mutating func backtest(_ b: BacktestBench.Result) {
        let mb = Double(b.bytes) / 1_048_576
        let one = Self.median(b.runSeconds)
        let dayGoal = b.hours >= 24 && b.markets >= 200
        var t = "## 8. Backtest (a recorded day replayed through the engine)\n\n"
        t += "A \(Self.f(b.hours, 1)) h recording of \(b.markets) markets made from the fake's `day` scenario (a tenth of the books move every "
        t += "5 s, three tenths every 30 s, the rest every 5 minutes; some mispriced now and then, some resolving) on a simulated clock by the real "
        t += "recorder (REST snapshots every 5 s over loopback, only changed books written, gzip, never held in memory): \(b.records) records, "
        t += "**\(Self.f(mb, 1)) MiB**, recorded in \(Self.f(b.recordSeconds, 1)) s. Then `warden-engine backtest` (the four strategies, default "
        t += "settings, cycle 2 s) on it: the recording is read forward as it plays, decoded on a second thread.\n\n"
        t += "| what | wall time |\n| --- | --- |\n"
        t += "| one run (median of \(b.runSeconds.count): \(b.runSeconds.map { Self.f($0, 1) + " s" }.joined(separator: ", "))) | \(Self.f(one, 1)) s |\n"
        t += "| a sweep of \(b.sweepRuns) settings (both cores) | \(Self.f(b.sweepSeconds, 1)) s (\(Self.f(b.sweepSeconds / max(one, 0.001), 2))× one run) |\n\n"
        t += "One run said: `\(b.summary)`. Peak memory of a backtest (as each run and the sweep said it): \(b.peakMiB) MiB.\n\n"
        if dayGoal {
            t += "Goals: the day in ≤ 60 s — \(Self.verdict(one <= 60)) (\(Self.f(b.hours * 3600 / max(one, 0.001), 0))× real time); "
            t += "a sweep of 8 ≤ 5× one run — \(Self.verdict(b.sweepSeconds <= 5 * one)); the recording ≤ 300 MB — \(Self.verdict(Double(b.bytes) <= 300e6)).\n"
            t += "\nHow: decoding is off the critical path (a parser of the recorder's own lines on a second thread); the "
            t += "journal of a backtest commits in batches (one open transaction, a savepoint per write: a commit per write was a "
            t += "fifth of a run); the engine's cycle is the one measured in section 5. "
            t += one > 60 ? "Why it misses: the engine's 43,200 cycles, spread thin over the strategies, the market maker's requotes "
                + "and the stale-market notices of books that move every 5 minutes; machine noise moves a run by ±10 s.\n"
                : "What remains is the engine's 43,200 cycles (under a millisecond each), the market maker's requotes and the "
                + "stale-market notices of the books that move every 5 minutes (each an alert in the journal); machine noise moves a "
                + "run by several seconds.\n"
        }
        sections.append(t)
    }

    mutating func stack(_ s: StackBench.Result, smoke: Bool) {
        var t = "## 6. Dashboard (release stack on the fakes: warden, fakes, notifier, engine, dashboard)\n\n"
        if let rps = s.requestsPerSecond {
            t += "`/api/state` under wrk (2 threads, 32 connections, bearer token, \(s.requestsRuns.count) runs of the duration below interleaved with the SSE runs): "
            t += "**\(Self.f(rps, 0)) requests/s** median (\(Self.f(s.requestsRuns.min() ?? 0, 0))–\(Self.f(s.requestsRuns.max() ?? 0, 0))). Goal ≥ 5,000 — \(Self.verdict(rps >= 5000)). "
            t += "The dashboard asks the supervisor for its status (over control.sock; the supervisor asks the engine and the notifier over theirs) "
            t += "at most once per 200 ms, and every request in that time is served that answer, encoded once; each figure in it carries its own age.\n\n"
            if rps < 5000 {
                t += "Why it misses: Hummingbird's per-request cost and the bearer-token check on two cores shared with wrk. What would close it: "
                t += "a profile of the request path; the status itself is no longer asked per request.\n\n"
            }
        } else {
            t += "wrk is not installed (Debian `wrk`): not measured in this run.\n\n"
        }
        let runs = s.fanoutRuns.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        if let first = runs.first {
            let p50s = runs.compactMap { $0["p50_ms"] as? Double }, p99s = runs.compactMap { $0["p99_ms"] as? Double }
            let samples = runs.compactMap { $0["samples"] as? Int }.reduce(0, +)
            t += "SSE fan-out to \(first["clients"] ?? "?") browsers: from the engine's publication of a `state` event to its arrival in each browser, "
            t += "\(runs.count) runs, \(samples) samples: p50 \(Self.f(Self.median(p50s), 1)) ms (\(Self.f(p50s.min() ?? 0, 1))–\(Self.f(p50s.max() ?? 0, 1))), "
            t += "p99 \(Self.f(Self.median(p99s), 1)) ms (\(Self.f(p99s.min() ?? 0, 1))–\(Self.f(p99s.max() ?? 0, 1))) (engine → engine.sock → dashboard → SSE).\n"
        }
        t += "\n## 7. Memory (RSS)\n\n| process | idle | after the load above | after \(s.millionEvents) more events | growth idle → end | own memory idle → end |\n| --- | --- | --- | --- | --- | --- |\n"
        var worstGrowth = 0.0
        for name in s.idleRSS.keys.sorted() {
            let a = Double(s.idleRSS[name] ?? 0) / 1_048_576, b = Double(s.loadedRSS[name] ?? 0) / 1_048_576
            let c = Double(s.millionRSS[name] ?? 0) / 1_048_576
            let growth = a > 0 && c > 0 ? (c - a) / a * 100 : 0
            if name != "fakes" { worstGrowth = max(worstGrowth, growth) }
            let own = [s.idleOwn[name], s.endOwn[name]].map { $0.map { Self.f(Double($0) / 1_048_576) + " MiB" } ?? "-" }.joined(separator: " → ")
            t += "| \(name) | \(Self.f(a)) MiB | \(Self.f(b)) MiB | \(c > 0 ? Self.f(c) + " MiB" : "-") | \(a > 0 && c > 0 ? Self.f(growth) + " %" : "-") | \(own) |\n"
        }
        t += "\nThe events: " + s.millionNotes.keys.sorted().map { "\($0): \(s.millionNotes[$0]!)" }.joined(separator: "; ") + ". "
        t += "The fakes (the loopback market server) are the test's, not Warden's, and not judged. Own memory is the process's private dirty "
        t += "pages (/proc/<pid>/smaps_rollup: heap, stacks, what it wrote); the rest of its RSS is clean pages of the executable and the "
        t += "libraries it touched, which the kernel can drop and read back from disk.\n"
        let worst = s.idleRSS.filter { $0.key != "fakes" }.values.max().map { Double($0) / 1_048_576 } ?? 0
        t += "\nGoal ≤ 30 MB idle each (taken as 30 MiB) — \(Self.verdict(worst <= 30)) (largest \(Self.f(worst)) MiB)."
        if worst > 30 {
            t += " Why: release builds link the Swift runtime and Foundation statically (`--static-swift-stdlib`, about 5 MiB less per "
            t += "process than the shared libraries), but each child still touches Foundation's code and its ICU data at start (dates, number "
            t += "formats, JSON) and libcrypto (about 3 MiB, loaded with libcurl); their own memory, in the last column, is a few MiB."
            t += " What would close it: FoundationEssentials instead of Foundation in the children (no ICU), and dead-stripping."
        }
        t += "\n\n"
        t += "Goal growth ≤ 5 % — \(Self.verdict(worstGrowth <= 5)) (largest \(Self.f(worstGrowth)) %). "
        t += "Growth that stops is bounded state filling to its configured size (lifecycle-event and log-tail rings, the engine's mid-price "
        t += "histories, malloc arenas of the threads that served the load); growth that goes on with the count would be a leak, which is why the "
        t += "figure is read after the million and not only after the short load.\n"
        sections.append(t)
    }

    func text() -> String {
        var u = utsname()
        uname(&u)
        let kernel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpu = ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown"
        var t = "# Warden benchmarks\n\n"
        if smoke { t += "**Smoke run (tiny sizes): proves the suite runs; these figures mean nothing.**\n\n" }
        t += "Written by `make bench` (release build, `warden-bench`) on \(isoDate()). Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), "
        t += "\(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB, Linux \(kernel). Everything on loopback. Side-by-side comparisons run interleaved in one session so "
        t += "machine noise falls on both; in-process figures are the median of repeated runs with min and max.\n\n"
        t += sections.joined(separator: "\n")
        return t
    }

    func isoDate() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return f.string(from: Date())
    }
}
