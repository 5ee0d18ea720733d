// F57 (part): sockets warden holds for a program (`listen:`, socket activation) and the fds a program keeps in
// warden's store (FDSTORE=1), passed back at every start with LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID.
import CWardenOS
import Foundation
import Testing
import WardenIPC
import WardenTestKit

@Suite("Socket activation and the fd store")
struct SocketActivationTests {
    @Test("listen: warden binds TCP and Unix sockets for a program, passes them as LISTEN_FDS, and keeps them through a kill -9: a connection made while it restarts is served by the new process, not refused")
    func listen() async throws {
        let port = try freePort()
        let tree = try TestTree(programs: """
          web:
            command: \(testChild("--serve-listen"))
            listen: ["127.0.0.1:\(port)", "unix:var/run/web.sock"]
            backoff: {initial: 1s, max: 1s}
            stable_after: 100s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let first = try await waitRunning(tree, "web", within: .seconds(30))
        let pid = try #require(first.pid)
        #expect(first.listen == ["127.0.0.1:\(port)", "var/run/web.sock"], "\(String(describing: first.listen))")
        #expect(try await readLine(port: port).get() == "\(pid) web")
        #expect(try await readLine(unixPath: tree.runtimeDir + "/web.sock").get() == "\(pid) web")
        // Killed, and restarted after a 1 s backoff: the connection made in between waits in the backlog of the
        // socket warden holds and is answered by the next process.
        kill(pid, SIGKILL)
        try await eventually("web no longer running pid \(pid)", within: .seconds(10)) { () async throws -> Bool? in
            program(try await status(tree), "web")?.pid != pid ? true : nil
        }
        let during = try await readLine(port: port, timeout: 30).get()
        let second = try await waitRunning(tree, "web", otherThanPID: pid, within: .seconds(30))
        #expect(during == "\(second.pid ?? -1) web", "the connection made during the restart is served by the new process")
        let s = try await wardenctl(tree, "status")
        #expect(s.out.contains("listening on 127.0.0.1:\(port), var/run/web.sock"), "\(s.out)")
        await w.stop()
    }

    @Test("listen: an address already taken stops the start with the address named, not a crash loop in silence")
    func clash() async throws {
        let port = try freePort()
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var a = sockaddr_in(); a.sin_family = sa_family_t(AF_INET); a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && Glibc.listen(holder, 1) == 0)
        let tree = try TestTree(programs: """
          web:
            command: \(testChild("--serve-listen"))
            listen: ["127.0.0.1:\(port)"]
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await eventually("a spawn failure naming the address", within: .seconds(20)) { () async throws -> Bool? in
            try await events(tree).contains { $0.program == "web" && $0.message.contains("listen 127.0.0.1:\(port): Address already in use") } ? true : nil
        }
        #expect(program(try await status(tree), "web")?.pid == nil)
        await w.stop()
    }

    @Test("a listen: entry that is not an address is named with its key path (exit 78)")
    func badAddress() async throws {
        let tree = try TestTree(programs: """
          web:
            command: \(testChild())
            listen: ["localhost:80", "127.0.0.1:99999"]
        """)
        let r = try await runTool("warden", ["--check-config", "--config", tree.configPath])
        #expect(r.code == 78)
        #expect(r.err.contains("programs.web.listen[0]") && r.err.contains("not a numeric IP address"), "\(r.err)")
        #expect(r.err.contains("programs.web.listen[1]") && r.err.contains("1…65535"), "\(r.err)")
    }

    @Test("FDSTORE=1: a stored fd is passed back to the next start after a kill -9 (LISTEN_FDNAMES names it); a stop closes the store; with fd_store_max 0 the fd is refused as an event")
    func fdStore() async throws {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("fdstore-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        let tree = try TestTree(programs: """
          keeper:
            command: \(testChild("--store-fd", "state", "--fd-report", report))
            fd_store_max: 4
            backoff: {initial: 200ms, max: 200ms}
          refused:
            command: \(testChild("--store-fd", "state"))
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let first = try await waitRunning(tree, "keeper", within: .seconds(30))
        let pid = try #require(first.pid)
        let stored = try await eventually("keeper's fd in the store", within: .seconds(10)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "keeper")
            return p?.fds_stored == 1 ? p : nil
        }
        #expect(stored.pid == pid)
        #expect((try? String(contentsOfFile: report, encoding: .utf8)) == "stored state")
        kill(pid, SIGKILL)
        _ = try await waitRunning(tree, "keeper", otherThanPID: pid, within: .seconds(30))
        let text = try await eventually("the next start reports what it inherited", within: .seconds(10)) { () -> String? in
            let t = try? String(contentsOfFile: report, encoding: .utf8)
            return t?.hasPrefix("inherited") == true ? t : nil
        }
        #expect(text == "inherited state: from \(pid)")
        #expect(program(try await status(tree), "keeper")?.fds_stored == 1, "still held after being passed")
        let evs = try await events(tree)
        #expect(evs.contains { $0.program == "refused" && $0.kind == "notify-rejected" && $0.message.contains("fd_store_max: 0, the default") },
                "\(evs.filter { $0.program == "refused" }.map(\.message))")
        _ = try await wardenctl(tree, "stop", "keeper")
        try await eventually("the store closed at stop", within: .seconds(20)) { () async throws -> Bool? in
            let p = program(try await status(tree), "keeper")
            return p?.state == "STOPPED" && p?.fds_stored == nil ? true : nil
        }
        #expect(try await events(tree).contains { $0.program == "keeper" && $0.kind == "fd-store" && $0.message.contains("closed: keeper was stopped") })
        await w.stop()
    }
}

@Suite("The supervisor's loop")
struct SupervisorLoopTests {
    @Test("an idle warden sleeps until its next deadline: a few passes a second (resource checks), not one per 10 ms tick; a crash is still answered at once")
    func sleepsUntilDeadline() async throws {
        let tree = try TestTree(programs: """
          idle:
            command: \(testChild())
            stable_after: 1s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await waitRunning(tree, "idle", within: .seconds(30))
        let before = try #require(try await status(tree)?.supervisor.loop_passes)
        try await Task.sleep(for: .seconds(3))
        let after = try #require(try await status(tree)?.supervisor.loop_passes)
        // Polling every 10 ms would make ~300 passes in 3 s; resource checks every 200 ms make ~15.
        #expect(after - before < 100, "\(after - before) passes in 3 s")
        // Asleep, yet an exit wakes it: the stable program is restarted at once.
        kill(try #require(p.pid), SIGKILL)
        let again = try await waitRunning(tree, "idle", otherThanPID: p.pid, within: .seconds(20))
        #expect(again.restarts == 1)
        await w.stop()
    }
}

@Suite("The dashboard, socket-activated")
struct DashboardSocketActivationTests {
    @Test("listen: on the dashboard's program — it serves on the socket warden holds, and a request made while it restarts after kill -9 is answered by the next process, not refused")
    func dashboard() async throws {
        let port = try freePort()
        let tree = try TestTree(programs: """
        \(StackYAML.entry(.dashboard, Bin.path("warden-dashboard")))
            listen: ["127.0.0.1:\(port)"]
            watchdog_sec: 5s
            stop_timeout: 10s
            stable_after: 1h
            backoff: {initial: 1s, max: 1s, jitter: 0}
        """, supervisor: """
        dashboard:
          port: \(port)

        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let first = try await waitRunning(tree, "dashboard", within: .seconds(40))
        let pid = try #require(first.pid)
        func healthz() async throws -> String {
            try await BoundedRun.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "40",
                                                       "http://127.0.0.1:\(port)/healthz"], limit: .seconds(60)).out
        }
        #expect(try await healthz() == "200")
        kill(pid, SIGKILL)
        try await eventually("the dashboard down", within: .seconds(10)) { () async throws -> Bool? in
            program(try await status(tree), "dashboard")?.pid != pid ? true : nil
        }
        #expect(try await healthz() == "200", "answered by the next dashboard, not refused")
        let next = try await waitRunning(tree, "dashboard", otherThanPID: pid, within: .seconds(40))
        #expect(next.restarts == 1)
        let logs = try await wardenctl(tree, "logs", "dashboard", "-n", "200")
        #expect(logs.out.contains("a socket held by warden"), "\(logs.out.suffix(2000))")
        // An idle keep-alive connection does not hold a stop past stop_timeout: closed at shutdown, no SIGKILL.
        let keepAlive = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(keepAlive) }
        var a = sockaddr_in(); a.sin_family = sa_family_t(AF_INET); a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr)
        let connected = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(keepAlive, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(connected == 0)
        let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        _ = request.withCString { send(keepAlive, $0, strlen($0), 0) }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await wardenctl(tree, "stop", "dashboard")
        let stopped = try await eventually("the dashboard stopped", within: .seconds(30)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "dashboard")
            return p?.state == "STOPPED" ? p : nil
        }
        #expect(stopped.last_exit?.signal == nil, "stopped cleanly, not killed: \(String(describing: stopped.last_exit))")
        #expect(!(try await events(tree)).contains { $0.program == "dashboard" && $0.kind == "kill" })
        await w.stop()
    }
}
