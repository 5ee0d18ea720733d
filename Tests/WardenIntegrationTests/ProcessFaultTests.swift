// F01–F09: the real supervisor with the real test child, killed, hung, crash-looped and leaking for real.
import CWardenOS
import Foundation
import Testing
import WardenTestKit
import WardenIPC

@Suite("Process faults (F01–F09)", .serialized)
struct ProcessFaultTests {
    @Test("F01: a child killed with -9 is restarted")
    func f01CrashRestarts() async throws {
        let tree = try TestTree(programs: """
          engine:
            command: \(testChild())
            watchdog_sec: 2s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let before = try await waitRunning(tree, "engine")
        kill(before.pid!, SIGKILL)
        let after = try await waitRunning(tree, "engine", otherThanPID: before.pid)
        #expect(after.restarts == 1)
        #expect(after.last_exit?.signal == "SIGKILL")
        #expect(!isAlive(before.pid!))
        let evs = try await events(tree)
        #expect(evs.contains { $0.kind == "crash" && $0.program == "engine" && $0.message.contains("SIGKILL") })
        await w.stop()
    }

    @Test("F02: a hung child (SIGSTOP) misses its heartbeat and is replaced")
    func f02HangDetected() async throws {
        let tree = try TestTree(programs: """
          engine:
            command: \(testChild())
            watchdog_sec: 1s
            stop_timeout: 500ms
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let before = try await waitRunning(tree, "engine")
        kill(before.pid!, SIGSTOP)
        // Bound: watchdog_sec + stop_timeout + backoff, generously; the benchmark measures the real figure.
        let after = try await waitRunning(tree, "engine", otherThanPID: before.pid, within: .seconds(15))
        #expect(after.last_exit?.reason.contains("watchdog timeout") == true)
        let evs = try await events(tree)
        #expect(evs.contains { $0.kind == "watchdog" && $0.program == "engine" })
        #expect(!isAlive(before.pid!))
        await w.stop()
    }

    @Test("F02: a child whose loop stops heartbeating while still running is replaced")
    func f02StuckLoop() async throws {
        let tree = try TestTree(programs: """
          engine:
            command: \(testChild("--stop-heartbeat-after", "600"))
            watchdog_sec: 1s
            stop_timeout: 500ms
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let before = try await waitRunning(tree, "engine")
        let after = try await waitRunning(tree, "engine", otherThanPID: before.pid, within: .seconds(15))
        #expect(after.restarts >= 1)
        #expect(after.last_exit?.signal == "SIGABRT" || after.last_exit?.reason.contains("watchdog") == true)
        await w.stop()
    }

    @Test("F05: a crash loop backs off with growing delays, then FATAL; non-critical retried after cool-down")
    func f05CrashLoopFatalAndCooldown() async throws {
        let tree = try TestTree(programs: """
          flaky:
            command: \(testChild("--crash-after", "0", "--exit-code", "9"))
            ready: spawn
            backoff: {initial: 100ms, max: 2s, multiplier: 2, jitter: 0.2}
            intensity: {max_restarts: 4, window: 60s}
            cooldown: 2s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let fatal = try await eventually("flaky FATAL") {
            let p = program(try await status(tree), "flaky")
            return p?.state == "FATAL" ? p : nil
        }
        #expect(fatal.last_exit?.code == 9)
        let evs = try await events(tree)
        let delays = evs.filter { $0.kind == "crash" && $0.program == "flaky" }.compactMap { e -> Double? in
            guard let r = e.message.range(of: #"in (\d+)ms"#, options: .regularExpression) else { return nil }
            return Double(e.message[r].dropFirst(3).dropLast(2))
        }
        #expect(delays.count == 4)
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 < $1 }, "backoff grows: \(delays)")
        #expect(evs.contains { $0.kind == "fatal" && $0.severity == "critical" })
        // The supervisor stays up and retries after the cool-down: never given up silently.
        try await eventually("cool-down retry event", within: .seconds(15)) {
            try await events(tree).contains { $0.kind == "cooldown-retry" && $0.program == "flaky" } ? true : nil
        }
        #expect(w.process.isRunning)
        await w.stop()
    }

    @Test("F05: a critical program going FATAL stops everything and warden exits non-zero")
    func f05CriticalEscalates() async throws {
        let tree = try TestTree(programs: """
          helper:
            command: \(testChild())
          engine:
            command: \(testChild("--crash-after", "2000"))
            critical: true
            after: [helper]
            intensity: {max_restarts: 2, window: 60s}
            backoff: {initial: 50ms, max: 200ms}
        """)
        let w = try WardenProcess(tree)
        // The engine lives 2 s per start (three starts before FATAL), so the helper is seen running before the
        // escalation stops it, however loaded the machine (at 50 ms a loaded run once saw it already stopped).
        let helper = try await waitRunning(tree, "helper")
        let code = await w.waitExit(within: .seconds(60))
        #expect(code == 70, "warden exit code \(String(describing: code))\n\(w.output)")
        #expect(w.output.contains("escalat"))
        try await eventually("helper stopped with warden") { isAlive(helper.pid!) ? nil : true }
        await w.stop()
    }

    @Test("F06: supervisor killed with -9 leaves no orphans; a new one starts cleanly on the same tree")
    func f06NoOrphans() async throws {
        let tree = try TestTree(programs: """
          a:
            command: \(testChild())
          b:
            command: \(testChild())
        """)
        let w = try WardenProcess(tree)
        let a = try await waitRunning(tree, "a")
        let b = try await waitRunning(tree, "b")
        w.signal(SIGKILL)
        _ = await w.waitExit(within: .seconds(5))
        try await eventually("children gone after the supervisor died", within: .seconds(10)) {
            (!isAlive(a.pid!) && !isAlive(b.pid!)) ? true : nil
        }
        #expect(FileManager.default.fileExists(atPath: tree.controlSocket), "the stale socket is left behind by kill -9")
        let w2 = try WardenProcess(tree)
        defer { Task { await w2.stop() } }
        let a2 = try await waitRunning(tree, "a")
        #expect(a2.pid != a.pid)
        await w2.stop()
    }

    @Test("F07: a second supervisor on the same tree refuses at once and names the first")
    func f07SecondInstance() async throws {
        let tree = try TestTree(programs: """
          a:
            command: \(testChild())
        """)
        let first = try WardenProcess(tree)
        defer { Task { await first.stop() } }
        let a = try await waitRunning(tree, "a")
        let second = try WardenProcess(tree)
        let code = await second.waitExit(within: .seconds(10))
        #expect(code == 75)
        #expect(second.output.contains("pid \(first.pid)"), "names the holder: \(second.output)")
        let still = program(try await status(tree), "a")
        #expect(still?.pid == a.pid && still?.state == "RUNNING", "the first is untouched")
        await first.stop()
    }

    @Test("F08: a hung supervisor stops sending WATCHDOG=1 to its own supervisor")
    func f08SupervisorWatchdog() async throws {
        let tree = try TestTree(programs: """
          a:
            command: \(testChild())
        """)
        let listenPath = tree.root + "/systemd-notify.sock"
        let fd = warden_dgram_bind(listenPath)
        #expect(fd >= 0)
        defer { close(fd) }
        let w = try WardenProcess(tree, env: ["NOTIFY_SOCKET": listenPath, "WATCHDOG_USEC": "1000000"])
        defer { Task { await w.stop() } }
        func receive(_ timeoutMS: Int32) -> (pid: Int32, text: String)? {
            var buf = [CChar](repeating: 0, count: 4096)
            var cred = warden_cred(), has: Int32 = 0, trunc: Int32 = 0
            let n = warden_dgram_recv(fd, &buf, buf.count, &cred, &has, &trunc, timeoutMS, nil, 0, nil)
            guard n > 0 else { return nil }
            return (cred.pid, buf.withUnsafeBufferPointer { String(decoding: UnsafeRawBufferPointer(start: $0.baseAddress, count: n), as: UTF8.self) })
        }
        var sawReady = false, sawWatchdog = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !(sawReady && sawWatchdog), ContinuousClock.now < deadline {
            guard let m = receive(500) else { continue }
            #expect(m.pid == w.pid, "sent by warden's main pid")
            if m.text.contains("READY=1") { sawReady = true }
            if m.text.contains("WATCHDOG=1") { sawWatchdog = true }
        }
        #expect(sawReady && sawWatchdog)
        w.signal(SIGSTOP)
        try await Task.sleep(for: .milliseconds(100))
        while receive(0) != nil {}  // drain what was sent before the stop
        var pingsWhileStopped = 0
        let stopEnd = ContinuousClock.now + .milliseconds(2500)
        while ContinuousClock.now < stopEnd {
            if let m = receive(100), m.text.contains("WATCHDOG=1") { pingsWhileStopped += 1 }
        }
        #expect(pingsWhileStopped == 0, "a stopped supervisor must not ping")
        w.signal(SIGCONT)
        var resumed = false
        let resumeEnd = ContinuousClock.now + .seconds(10)
        while !resumed, ContinuousClock.now < resumeEnd {
            if let m = receive(500), m.text.contains("WATCHDOG=1") { resumed = true }
        }
        #expect(resumed)
        await w.stop()
    }

    @Test("F09: a leaking child is warned about at 80 % and restarted at its memory limit")
    func f09MemoryLeak() async throws {
        let tree = try TestTree(programs: """
          leaky:
            command: \(testChild("--leak-mb-per-sec", "40"))
            limits: {rss_mb: 120}
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let first = try await waitRunning(tree, "leaky")
        let replaced = try await waitRunning(tree, "leaky", otherThanPID: first.pid, within: .seconds(30))
        #expect(replaced.last_exit?.reason.contains("limit 120 MB") == true)
        let evs = try await events(tree)
        #expect(evs.contains { $0.kind == "limit-warning" && $0.message.contains("80 %") })
        #expect(evs.contains { $0.kind == "limit" && $0.message.contains("MB reached limit 120 MB") })
        await w.stop()
    }

    @Test("F09: an fd leak is restarted at its fd limit")
    func f09FDLeak() async throws {
        let tree = try TestTree(programs: """
          leaky:
            command: \(testChild("--leak-fds-per-sec", "100"))
            limits: {fds: 64}
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let first = try await waitRunning(tree, "leaky")
        let replaced = try await waitRunning(tree, "leaky", otherThanPID: first.pid, within: .seconds(30))
        #expect(replaced.last_exit?.reason.contains("open fds reached limit 64") == true)
        await w.stop()
    }

    @Test("SIGTERM stops programs in reverse start order (waiting for `after`), then warden exits 0")
    func gracefulShutdownInReverseOrder() async throws {
        let tree = try TestTree(programs: """
          first:
            command: \(testChild())
          second:
            command: \(testChild("--ignore-sigterm"))
            after: [first]
            stop_timeout: 300ms
        """)
        let w = try WardenProcess(tree)
        let first = try await waitRunning(tree, "first")
        let second = try await waitRunning(tree, "second")
        w.signal(SIGTERM)
        let code = await w.waitExit(within: .seconds(20))
        #expect(code == 0, "exit code \(String(describing: code))")
        #expect(!isAlive(first.pid!) && !isAlive(second.pid!))
        let out = w.output
        let stopSecond = try #require(out.range(of: "stopping (shutdown)\" event=stop program=second"))
        let stopFirst = try #require(out.range(of: "stopping (shutdown)\" event=stop program=first"))
        #expect(stopSecond.lowerBound < stopFirst.lowerBound, "second (started last) is stopped first")
        #expect(out.contains("did not exit within stop_timeout 300ms; SIGKILL\" event=kill program=second"))
        #expect(!FileManager.default.fileExists(atPath: tree.controlSocket), "sockets removed on a clean exit")
    }
}
