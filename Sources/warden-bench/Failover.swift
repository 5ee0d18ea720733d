// Crash failover and hang detection: warden against supervisord supervising the same child, interleaved.
import Foundation
import WardenKit

/// A datagram socket the test child announces itself on (its pid, once it is ready).
final class AnnounceSocket {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b } }
        let ok = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard fd >= 0, ok else { throw BenchError("cannot bind \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd); unlink(path) }

    /// The next announced pid and when it arrived, or nil after `timeout`.
    func receive(timeout: Double) -> (pid: Int32, at: ContinuousClock.Instant)? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return nil }
        let at = ContinuousClock.now
        var buf = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buf, buf.count, 0)
        guard n > 0, let pid = Int32(String(decoding: buf[0..<n], as: UTF8.self)) else { return nil }
        return (pid, at)
    }

    func drain() { while receive(timeout: 0) != nil {} }
}

/// SIGTERM, a bounded wait, then SIGKILL; never an unbounded waitUntilExit.
func stopProcess(_ p: Process) {
    let pid = p.processIdentifier
    guard pid > 0 else { return }
    kill(pid, SIGTERM)
    for _ in 0..<200 {
        if !p.isRunning || kill(pid, 0) != 0 { return }
        usleep(50_000)
    }
    kill(pid, SIGKILL)
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A supervisor under test: warden or supervisord, with one child announcing on its own socket.
final class Supervised {
    let name: String
    let process = Process()
    let announce: AnnounceSocket
    var childPID: Int32 = 0

    init(name: String, executable: String, arguments: [String], announce: AnnounceSocket, log: String) throws {
        self.name = name
        self.announce = announce
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { env[k] = nil }
        process.environment = env
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let h = FileHandle(forWritingAtPath: log)
        process.standardOutput = h
        process.standardError = h
        try process.run()
        try h?.close()
        guard let first = announce.receive(timeout: 30) else { throw BenchError("\(name): the child never announced itself (see \(log))") }
        childPID = first.pid
    }

    /// Sends `signal` to the child and times until a different child announces itself.
    func replace(with sig: Int32, timeout: Double) throws -> Double {
        announce.drain()
        let old = childPID
        let t0 = ContinuousClock.now
        kill(old, sig)
        while let got = announce.receive(timeout: timeout) {
            if got.pid != old {
                childPID = got.pid
                return (got.at - t0).seconds
            }
        }
        throw BenchError("\(name): no replacement of pid \(old) within \(timeout) s")
    }

    func stop() { stopProcess(process) }
}

enum FailoverBench {
    /// Writes a warden tree whose `child` restarts at once after a crash (stable after 100 ms).
    static func wardenTree(_ dir: String, child: String, announce: String, watchdog: Bool) throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        let yaml = """
        supervisor:
          journald: off
        programs:
          child:
            command: ["\(child)", "--announce", "\(announce)"]
            stable_after: 100ms
            intensity: {max_restarts: 1000, window: 10s}
            watchdog_sec: \(watchdog ? "2s" : "0")
            stop_timeout: 100ms
        """
        try yaml.write(toFile: dir + "/etc/warden.yaml", atomically: true, encoding: .utf8)
        return dir + "/etc/warden.yaml"
    }

    static func supervisordConf(_ dir: String, child: String, announce: String) throws -> String {
        let conf = """
        [supervisord]
        nodaemon=true
        logfile=\(dir)/supervisord.log
        pidfile=\(dir)/supervisord.pid
        childlogdir=\(dir)
        [unix_http_server]
        file=\(dir)/supervisor.sock
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        [program:child]
        command=\(child) --announce \(announce)
        autorestart=true
        startsecs=0
        startretries=100000
        stopwaitsecs=1
        """
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try conf.write(toFile: dir + "/supervisord.conf", atomically: true, encoding: .utf8)
        return dir + "/supervisord.conf"
    }

    /// `kills` rounds; in each, warden's and supervisord's children are killed in alternating order.
    static func crash(kills: Int, bin: String, work: String) throws -> (warden: [Double], supervisord: [Double]?) {
        let child = bin + "/warden-testchild"
        let wa = try AnnounceSocket(path: work + "/w.sock")
        let warden = try Supervised(name: "warden", executable: bin + "/warden",
                                    arguments: ["--config", try wardenTree(work + "/warden", child: child, announce: wa.path, watchdog: false)],
                                    announce: wa, log: work + "/warden.log")
        defer { warden.stop() }
        var sup: Supervised?
        if let supervisord = which("supervisord") {
            let sa = try AnnounceSocket(path: work + "/s.sock")
            sup = try Supervised(name: "supervisord", executable: supervisord,
                                 arguments: ["-n", "-c", try supervisordConf(work + "/supervisord", child: child, announce: sa.path)],
                                 announce: sa, log: work + "/supervisord.out")
        }
        defer { sup?.stop() }
        var w: [Double] = [], s: [Double] = []
        for round in 0..<kills {
            let order: [Supervised] = round % 2 == 0 ? [warden] + (sup.map { [$0] } ?? []) : (sup.map { [$0] } ?? []) + [warden]
            for x in order {
                usleep(150_000)  // past stable_after: a crash of a stable child
                let t = try x.replace(with: SIGKILL, timeout: 10)
                if x === warden { w.append(t) } else { s.append(t) }
            }
        }
        return (w, sup == nil ? nil : s)
    }

    /// kill -STOP of a child with watchdog_sec = 2: time until the replacement is ready.
    static func hang(rounds: Int, bin: String, work: String) throws -> [Double] {
        let wa = try AnnounceSocket(path: work + "/h.sock")
        let warden = try Supervised(name: "warden", executable: bin + "/warden",
                                    arguments: ["--config", try wardenTree(work + "/hang", child: bin + "/warden-testchild", announce: wa.path, watchdog: true)],
                                    announce: wa, log: work + "/hang.log")
        defer { warden.stop() }
        var out: [Double] = []
        for _ in 0..<rounds {
            usleep(300_000)
            out.append(try warden.replace(with: SIGSTOP, timeout: 15))
        }
        return out
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
