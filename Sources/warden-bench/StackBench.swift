// The running stack (warden, fakes, notifier, engine, dashboard; release binaries): RSS of each process idle
// and after load, /api/state under wrk, and SSE fan-out latency to 50 browsers.
import Foundation
import Logging
import Synchronization
import WardenIPC
import WardenTestKit

enum StackBench {
    struct Result {
        var idleRSS: [String: Int] = [:]
        /// Each process's own memory (private dirty pages: heap, stacks, written data) idle and at the end; the rest of
        /// RSS is clean pages of executables and libraries, shared and readable back from disk.
        var idleOwn: [String: Int] = [:]
        var endOwn: [String: Int] = [:]
        var loadedRSS: [String: Int] = [:]
        var wrk: String?
        var requestsPerSecond: Double?
        /// Every repeat's figure (the report gives the median, min and max).
        var requestsRuns: [Double] = []
        var fanout: String?
        var fanoutRuns: [String] = []
        var eventsPublished: Int = 0
        /// RSS after `millionEvents` more events through each process, and what each process's events were.
        var millionRSS: [String: Int] = [:]
        var millionEvents = 0
        var millionNotes: [String: String] = [:]
    }

    static func run(bin: String, work: String, seconds: Int, sseClients: Int, fanoutScript: String, events: Int, repeats: Int) async throws -> Result {
        let dir = work + "/stack"
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        let market = 18_500 + Int(getpid() % 400), dash = market + 1
        let yaml = """
        supervisor:
          journald: off
        engine:
          gamma_url: http://127.0.0.1:\(market)
          clob_url: http://127.0.0.1:\(market)
          cycle: 1s
          book_refresh: 2s
        dashboard:
          port: \(dash)
        programs:
          fakes:
            command: ["\(bin)/warden-fakes", "--polymarket-port", "\(market)"]
        \(StackYAML.entry(.notifier, bin + "/warden-notifier"))
        \(StackYAML.entry(.engine, bin + "/warden-engine"))
            after: [fakes]
        \(StackYAML.entry(.dashboard, bin + "/warden-dashboard"))
            after: [engine]
        """
        try yaml.write(toFile: dir + "/etc/warden.yaml", atomically: true, encoding: .utf8)
        let warden = Process()
        warden.executableURL = URL(fileURLWithPath: bin + "/warden")
        warden.arguments = ["--config", dir + "/etc/warden.yaml"]
        _ = FileManager.default.createFile(atPath: dir + "/warden.out", contents: nil)
        let h = FileHandle(forWritingAtPath: dir + "/warden.out")
        warden.standardOutput = h
        warden.standardError = h
        try warden.run()
        try h?.close()
        defer { stopProcess(warden) }
        func status() async -> [String: Any]? {
            guard let out = try? await capture(bin + "/wardenctl", ["--config", dir + "/etc/warden.yaml", "status", "--json"]),
                  let obj = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else { return nil }
            return obj
        }
        func rss() async -> [String: Int] {
            var out: [String: Int] = [:]
            for p in (await status()?["programs"] as? [[String: Any]]) ?? [] { if let n = p["name"] as? String, let r = p["rss_bytes"] as? Int { out[n] = r } }
            if let r = procKB(warden.processIdentifier, "status", "VmRSS:") { out["warden"] = r * 1024 }
            return out
        }
        func own() async -> [String: Int] {
            var out: [String: Int] = [:]
            for p in (await status()?["programs"] as? [[String: Any]]) ?? [] {
                if let n = p["name"] as? String, let pid = p["pid"] as? Int, let kb = procKB(Int32(pid), "smaps_rollup", "Private_Dirty:") { out[n] = kb * 1024 }
            }
            if let kb = procKB(warden.processIdentifier, "smaps_rollup", "Private_Dirty:") { out["warden"] = kb * 1024 }
            return out
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let progs = (await status()?["programs"] as? [[String: Any]]) ?? []
            if progs.count == 4, progs.allSatisfy({ ($0["state"] as? String) == "RUNNING" && ($0["ready"] as? Bool) == true }) { break }
            usleep(200_000)
        }
        sleep(10)
        var r = Result()
        r.idleRSS = await rss()
        r.idleOwn = await own()
        guard let token = try? String(contentsOfFile: dir + "/var/lib/dashboard.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw BenchError("no dashboard token in \(dir)/var/lib (see \(dir)/warden.out)")
        }
        // Interleaved repeats of the two loads; the report gives the median of each.
        for _ in 0..<max(1, repeats) {
            if let wrk = FailoverBench.which("wrk") {
                let out = try await capture(wrk, ["-t2", "-c32", "-d\(seconds)s", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(dash)/api/state"])
                r.wrk = out
                if let rps = requestsPerSecond(out) { r.requestsRuns.append(rps) }
            }
            r.fanoutRuns.append(try await capture("/usr/bin/python3", [fanoutScript, "127.0.0.1", String(dash), token, String(sseClients), String(seconds)]))
        }
        r.requestsPerSecond = r.requestsRuns.isEmpty ? nil : percentile(r.requestsRuns.sorted(), 0.5)
        r.fanout = r.fanoutRuns.last
        r.loadedRSS = await rss()
        // A million events through each process: requests on its own socket (the supervisor's, the engine's and the
        // notifier's) and HTTP requests to the dashboard, then RSS again.
        r.millionEvents = events
        let run = dir + "/var/run"
        for (name, socket, type) in [("warden", "control", "version"), ("engine", "engine", "positions"), ("notifier", "notifier", "status")] {
            let t0 = Date()
            let done = try await requests(socket: run + "/\(socket).sock", type: type, count: events)
            r.millionNotes[name] = String(format: "%d `%@` requests on %@.sock (%.0f/s)", done, type, socket, Double(done) / Date().timeIntervalSince(t0))
        }
        if let wrk = FailoverBench.which("wrk") {
            // wrk runs for a time, not a count: long enough for the count at the rate of a short first run.
            let probe = try await capture(wrk, ["-t2", "-c32", "-d2s", "http://127.0.0.1:\(dash)/healthz"])
            let rate = requestsPerSecond(probe) ?? 1000
            let secs = max(1, Int((Double(events) / max(rate, 1)).rounded(.up)) + 1)
            let out = try await capture(wrk, ["-t2", "-c32", "-d\(secs)s", "http://127.0.0.1:\(dash)/healthz"])
            let total = out.split(separator: "\n").first { $0.contains("requests in") }.flatMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) } ?? 0
            r.millionNotes["dashboard"] = "\(total) HTTP requests to /healthz (wrk, \(secs) s)"
        }
        r.millionRSS = await rss()
        r.endOwn = await own()
        return r
    }

    /// One "Name:   N kB" figure of /proc/<pid>/<file>.
    static func procKB(_ pid: Int32, _ file: String, _ key: String) -> Int? {
        (try? String(contentsOfFile: "/proc/\(pid)/\(file)", encoding: .utf8))?
            .split(separator: "\n").first(where: { $0.hasPrefix(key) })?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    static func requestsPerSecond(_ wrkOutput: String) -> Double? {
        wrkOutput.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
    }

    /// `count` requests of `type` over one connection, 64 in flight; returns how many were answered.
    static func requests(socket: String, type: String, count: Int) async throws -> Int {
        let client = IPCClient(path: socket, role: "bench", logger: Logger(label: "bench"))
        let task = Task { await client.run() }
        defer { task.cancel() }
        _ = try await client.waitConnected(timeout: .seconds(10))
        let counts = RequestCounts()
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<64 {
                g.addTask {
                    while counts.claim(below: count) {
                        _ = try await client.request(type, Empty(), timeout: .seconds(30))
                        counts.answered()
                    }
                }
            }
            try await g.waitForAll()
        }
        return counts.done
    }

    /// Standard output of a helper (wrk, python3, wardenctl), bounded at ten minutes.
    static func capture(_ exe: String, _ args: [String]) async throws -> String {
        try await BoundedRun.run(exe, args, limit: .seconds(600)).out
    }
}

/// Requests handed out and answered, shared by the sending tasks.
final class RequestCounts: Sendable {
    private let m = Mutex((issued: 0, answered: 0))
    func claim(below limit: Int) -> Bool { m.withLock { if $0.issued >= limit { return false }; $0.issued += 1; return true } }
    func answered() { m.withLock { $0.answered += 1 } }
    var done: Int { m.withLock { $0.answered } }
}
