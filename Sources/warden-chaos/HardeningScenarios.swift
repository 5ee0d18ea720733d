// F58–F61: hostile input at every parser, floods and unread answers, commands out of order, reload of a changed
// section — injected into the running stack.
import Foundation
import WardenFakes
import WardenIPC

extension Catalogue {
    static let hardening: [Scenario] = [f58, f59, f60, f61]

    static let f58 = Scenario(id: "F58", title: "hostile bytes at any parser",
                              scenario: "the fake serves a price with a combining mark, a size of 1e400, a 2 MB question, a 1 MB endDate and a 5,000-character id; frames with deadline_ms 1e13 on the three sockets; quoted and malformed form bodies to the dashboard's /login; a 100 kB pause reason (argv allows no more)") { run in
        guard let before = await run.stack.status() else { run.expect(false, "no status"); return }
        let rejected0 = before.engine?.data?.rejected_items_total ?? 0
        let t0 = ContinuousClock.now, mark = run.mark
        run.stack.market.setFaults({ var f = PolymarketFakeFaults(); f.hostile = true; return f }())
        let hello = frame(#"{"v":1,"id":null,"kind":"event","type":"hello","body":{"protocol":1,"role":"chaos","pid":1,"version":"t","boot_id":"c"}}"#)
        let absurd = frame(#"{"v":1,"id":9,"kind":"request","type":"status","deadline_ms":10000000000000,"body":{}}"#)
        for sock in ["control.sock", "engine.sock", "notifier.sock"] { RawPeer.send(path: run.stack.runtimeDir + "/" + sock, hello + absurd) }
        for body in [#"x"=1"#, "a=%zz", "token=%", "a=%ff%fe"] {
            let code = HTTPPeer.post(port: run.stack.dashPort, path: "/login", body: body)
            run.expect(code == 400 || code == 401, "POST /login \(body): answered \(code.map(String.init) ?? "nothing")")
        }
        let pause = try await run.stack.ctl(["pause", "--reason", String(repeating: "r", count: 100_000)])
        run.expect(pause.code == 1 && (pause.out + pause.err).contains("at most"), "a 100 kB pause reason is refused: exit \(pause.code) \(pause.err.prefix(200))")
        await run.see(Sight(status: { ($0.engine?.data?.rejected_items_total ?? 0) > rejected0 && $0.engine?.reachable == true },
                            metrics: { ($0.value("warden_market_items_rejected_total") ?? 0) > Double(rejected0) },
                            channel: { any($0, "market data malformed") },
                            channelExempt: "rejected items are alerted at most every 10 minutes (the F18 alert may already have gone out); counted on the other surfaces"),
                      from: t0, mark: mark, detectBound: 5)
        let after = await run.unrestarted(since: before, holding: .seconds(run.settings.quick ? 6 : 15))
        run.expect(after?.engine?.trading_state != "PAUSED" || after?.engine?.reasons?.contains { $0.code == "operator_pause" } != true,
                   "the refused pause changed nothing")
        run.note("items rejected: \(rejected0) → \(after?.engine?.data?.rejected_items_total ?? 0); every program kept its pid")
        run.stack.market.setFaults(.init())
        try await run.stack.waitTrading()
    }

    static let f59 = Scenario(id: "F59", title: "floods and unread answers",
                              scenario: "1,200 half-open HTTP connections to the dashboard (half with an unfinished header), 300 connections to control.sock that never say hello, and one control.sock client that sends 3,000 requests and never reads") { run in
        raiseOwnFileLimit()
        guard let before = await run.stack.status() else { run.expect(false, "no status"); return }
        let c0 = before.supervisor.control_socket
        let t0 = ContinuousClock.now, mark = run.mark
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        var httpHeld = 0, httpFailed = 0
        for i in 0..<1200 {
            guard let fd = HTTPPeer.open(port: run.stack.dashPort) else {
                httpFailed += 1
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            if i % 2 == 1 { HTTPPeer.write(fd, Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8)) }
            held.append(fd)
            httpHeld += 1
            if i % 100 == 99 { try await Task.sleep(for: .milliseconds(10)) }
        }
        run.note("HTTP: \(httpHeld) half-open connections held, \(httpFailed) connects not taken at once")
        if let reader = UnixPeer.open(run.stack.controlSocket) {
            held.append(reader)
            var bytes = frame(#"{"v":1,"id":null,"kind":"event","type":"hello","body":{"protocol":1,"role":"flood","pid":1,"version":"t","boot_id":"f"}}"#)
            for i in 0..<3000 { bytes += frame(#"{"v":1,"id":\#(i + 1),"kind":"request","type":"status","body":{}}"#) }
            var offset = 0, stalls = 0
            while offset < bytes.count && stalls < 100 {
                let n = bytes[offset...].withUnsafeBytes { send(reader, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 { offset += n; stalls = 0 } else { stalls += 1; try await Task.sleep(for: .milliseconds(20)) }
            }
            run.note("the unread client got \(offset) of \(bytes.count) request bytes in before the server stopped reading it")
        }
        for _ in 0..<300 { if let fd = UnixPeer.open(run.stack.controlSocket) { held.append(fd) } }
        let operatorStatus = try await run.stack.ctl(["status"])
        run.expect(operatorStatus.code == 0, "the operator's wardenctl still gets through the flood: exit \(operatorStatus.code) \(operatorStatus.err)")
        run.note("held \(held.count) connections")
        await run.see(Sight(status: { s in
                                guard let c = s.supervisor.control_socket else { return false }
                                return c.connections_refused_total > (c0?.connections_refused_total ?? 0) && c.backpressure_pauses_total > (c0?.backpressure_pauses_total ?? 0)
                            },
                            metrics: { ($0.value("warden_ipc_connections_refused_total") ?? 0) > 0 && ($0.value("warden_ipc_backpressure_pauses_total") ?? 0) > 0 },
                            channel: { _ in false }, channelExempt: "a local flood is counted and shown (status, /metrics), not alerted"),
                      from: t0, mark: mark, detectBound: 5)
        let during = await run.unrestarted(since: before, holding: .seconds(run.settings.quick ? 8 : 20))
        let rss0 = run.stack.program(before, "dashboard")?.rss_bytes ?? 0, rss1 = run.stack.program(during, "dashboard")?.rss_bytes ?? 0
        let w0 = before.supervisor.pid
        run.expect(during?.supervisor.pid == w0, "warden kept running")
        run.expect(rss1 < rss0 + 200 << 20, "dashboard memory bounded: \(rss0 >> 20) → \(rss1 >> 20) MiB")
        run.note("dashboard RSS \(rss0 >> 20) → \(rss1 >> 20) MiB; control.sock refused \(during?.supervisor.control_socket?.connections_refused_total ?? 0), reads paused \(during?.supervisor.control_socket?.backpressure_pauses_total ?? 0)")
        for fd in held { close(fd) }
        held = []
        try await run.stack.waitTrading()
    }

    static let f60 = Scenario(id: "F60", title: "commands out of order",
                              scenario: "30 times: engine.pause then engine.resume pipelined in one write on one control.sock connection; the engine must end ACTIVE every time") { run in
        var wrong = 0
        let trials = 30
        for i in 0..<trials {
            guard let fd = UnixPeer.open(run.stack.controlSocket) else { run.expect(false, "control.sock connect"); return }
            var bytes = frame(#"{"v":1,"id":null,"kind":"event","type":"hello","body":{"protocol":1,"role":"chaos","pid":1,"version":"t","boot_id":"c"}}"#)
            bytes += frame(#"{"v":1,"id":1,"kind":"request","type":"engine.pause","body":{"reason":"chaos F60 trial \#(i)","author":"chaos"}}"#)
            bytes += frame(#"{"v":1,"id":2,"kind":"request","type":"engine.resume","body":{"author":"chaos"}}"#)
            UnixPeer.write(fd, bytes)
            let answers = await UnixPeer.readFrames(fd, count: 3, within: .seconds(15))  // hello + two answers
            close(fd)
            run.expect(answers >= 3, "trial \(i): both commands answered (\(answers - 1) of 2)")
            if await run.engine()?.trading_state != "ACTIVE" { wrong += 1; try await run.operate("resume") }
        }
        run.expect(wrong == 0, "pause then resume ended paused in \(wrong) of \(trials) trials")
        run.note("ended ACTIVE in \(trials - wrong) of \(trials) trials")
        try await run.stack.waitTrading()
    }

    static let f61 = Scenario(id: "F61", title: "reload of a changed section",
                              scenario: "the engine's daily loss limit lowered in the file and `wardenctl reload`: the engine restarted to apply it and said so; then a stop_timeout of 99999999999s: refused with the key path, nothing restarted") { run in
        guard let before = await run.program("engine") else { run.expect(false, "no engine"); return }
        let t0 = ContinuousClock.now, mark = run.mark
        try run.stack.update { $0.dailyLoss = "50000" }
        let r = try await run.stack.ctl(["reload"])
        run.expect(r.code == 0 && r.out.contains("section engine: changed; `engine` restarted to apply it"), "reload says what it applied: \(r.out)\(r.err)")
        await run.see(Sight(status: { s in s.programs.contains { $0.name == "engine" && $0.pid != before.pid && $0.state == "RUNNING" } },
                            metrics: { ($0.value("warden_uptime_seconds", ["program": "engine"]) ?? .infinity) < seconds(since: t0) },
                            channel: { any($0, "the engine section changed") }),
                      from: t0, mark: mark, detectBound: 5)
        try await run.stack.waitTrading()
        let applied = await run.program("engine")
        try run.stack.update { $0.engineProgram += "    stop_timeout: 99999999999s\n" }
        let bad = try await run.stack.ctl(["reload"])
        run.expect(bad.code == 1 && bad.err.contains("programs.engine.stop_timeout"), "refused with the key path: exit \(bad.code) \(bad.err)")
        try await Task.sleep(for: .seconds(2))
        let after = await run.program("engine")
        run.expect(after?.pid == applied?.pid, "a refused reload restarts nothing")
        try run.stack.update { $0.engineProgram = $0.engineProgram.replacingOccurrences(of: "    stop_timeout: 99999999999s\n", with: "") }
    }
}

typealias PolymarketFakeFaults = PolymarketFake.Faults

extension Run {
    /// Waits `holding`, then expects every program of `before` to have its pid and restart count still; the status.
    func unrestarted(since before: StatusResponse, holding: Duration) async -> StatusResponse? {
        try? await Task.sleep(for: holding)
        let now = await stack.status()
        for p in before.programs {
            let q = stack.program(now, p.name)
            expect(q?.pid == p.pid && q?.restarts == p.restarts, "\(p.name) kept running, no restart (pid \(p.pid ?? 0) → \(q?.pid ?? 0))")
        }
        return now
    }
}

func raiseOwnFileLimit() {
    var r = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0 else { return }
    r.rlim_cur = min(r.rlim_max, 65_536)
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r)
}

/// Raw TCP to the dashboard: short, bounded calls only (the fakes share this process's threads).
enum HTTPPeer {
    static func open(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); return nil }
        return fd
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// POSTs a form body; the status code, or nil when nothing came within a second.
    static func post(port: Int, path: String, body: String) -> Int? {
        guard let fd = open(port: port) else { return nil }
        defer { close(fd) }
        let req = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        write(fd, Array(req.utf8))
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buf, buf.count)
        guard n > 12 else { return nil }
        let head = String(decoding: buf[0..<n], as: UTF8.self)
        return head.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }
}

/// Raw Unix-socket peers for the socket floods, non-blocking.
enum UnixPeer {
    static func open(_ path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in path.utf8CString.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(raw.count - 1))) } }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard ok == 0 else { close(fd); return nil }
        return fd
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// Reads until `count` length-prefixed frames arrived or the bound passed; how many arrived.
    static func readFrames(_ fd: Int32, count: Int, within limit: Duration) async -> Int {
        var pending: [UInt8] = []
        var frames = 0
        let end = ContinuousClock.now + limit
        while frames < count && ContinuousClock.now < end {
            var buf = [UInt8](repeating: 0, count: 65_536)
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n == 0 { break }
            if n < 0 { try? await Task.sleep(for: .milliseconds(10)); continue }
            pending += buf[0..<n]
            while pending.count >= 4 {
                let len = Int(pending[0]) << 24 | Int(pending[1]) << 16 | Int(pending[2]) << 8 | Int(pending[3])
                guard pending.count >= 4 + len else { break }
                pending.removeFirst(4 + len)
                frames += 1
            }
        }
        return frames
    }
}
