// The running stack (warden, fakes, notifier, engine, dashboard; release binaries): RSS of each process idle
// and after load, /api/state under wrk, and SSE fan-out latency to 50 browsers.
import Foundation

enum StackBench {
    struct Result {
        var idleRSS: [String: Int] = [:]
        var loadedRSS: [String: Int] = [:]
        var wrk: String?
        var requestsPerSecond: Double?
        var fanout: String?
        var eventsPublished: Int = 0
    }

    static func run(bin: String, work: String, seconds: Int, sseClients: Int, fanoutScript: String) throws -> Result {
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
          notifier:
            command: ["\(bin)/warden-notifier"]
          engine:
            command: ["\(bin)/warden-engine"]
            after: [fakes]
          dashboard:
            command: ["\(bin)/warden-dashboard"]
            after: [engine]
        """
        try yaml.write(toFile: dir + "/etc/warden.yaml", atomically: true, encoding: .utf8)
        let warden = Process()
        warden.executableURL = URL(fileURLWithPath: bin + "/warden")
        warden.arguments = ["--config", dir + "/etc/warden.yaml"]
        FileManager.default.createFile(atPath: dir + "/warden.out", contents: nil)
        let h = FileHandle(forWritingAtPath: dir + "/warden.out")
        warden.standardOutput = h
        warden.standardError = h
        try warden.run()
        try h?.close()
        defer { stopProcess(warden) }
        func status() -> [String: Any]? {
            guard let out = try? capture(bin + "/wardenctl", ["--config", dir + "/etc/warden.yaml", "status", "--json"]),
                  let obj = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else { return nil }
            return obj
        }
        func rss() -> [String: Int] {
            var out: [String: Int] = [:]
            for p in (status()?["programs"] as? [[String: Any]]) ?? [] { if let n = p["name"] as? String, let r = p["rss_bytes"] as? Int { out[n] = r } }
            if let r = try? String(contentsOfFile: "/proc/\(warden.processIdentifier)/status", encoding: .utf8)
                .split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
                out["warden"] = r * 1024
            }
            return out
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let progs = (status()?["programs"] as? [[String: Any]]) ?? []
            if progs.count == 4, progs.allSatisfy({ ($0["state"] as? String) == "RUNNING" && ($0["ready"] as? Bool) == true }) { break }
            usleep(200_000)
        }
        sleep(10)
        var r = Result()
        r.idleRSS = rss()
        let cycles0 = ((status()?["engine"] as? [String: Any])?["fills_total"] as? Int) ?? 0
        _ = cycles0
        guard let token = try? String(contentsOfFile: dir + "/var/lib/dashboard.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw BenchError("no dashboard token in \(dir)/var/lib (see \(dir)/warden.out)")
        }
        if let wrk = FailoverBench.which("wrk") {
            let out = try capture(wrk, ["-t2", "-c32", "-d\(seconds)s", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(dash)/api/state"])
            r.wrk = out
            r.requestsPerSecond = out.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
                .flatMap { Double($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
        }
        r.fanout = try capture("/usr/bin/python3", [fanoutScript, "127.0.0.1", String(dash), token, String(sseClients), String(seconds)])
        r.loadedRSS = rss()
        return r
    }

    static func capture(_ exe: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        try pipe.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        try pipe.fileHandleForReading.close()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
