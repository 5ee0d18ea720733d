// F56 (issue 15, containment part): what a program leaves behind dies with it. The test child leaves a
// grandchild in its own session (setsid + double fork), as daemons' workers are; it must be gone after the main
// process is killed (before the restart), after a stop, and after kill -9 of warden once a new warden starts.
// Both modes: a cgroup per program (root here, with a writable cgroup2 mount) and subreaper tracking.
import Foundation
import Testing
import WardenIPC
import WardenTestKit

@Suite("Containment of every descendant", .serialized)
struct ContainmentTests {
    static func pids(_ file: String) -> [Int32] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// Waits until warden holds `pid`: in its program's cgroup at once; in subreaper mode once a resource check
    /// has recorded it in var/run/descendants.json.
    static func held(_ pid: Int32, tree: TestTree, mode: String) async throws {
        guard mode == "subreaper" else { return }
        try await eventually("worker \(pid) recorded", within: .seconds(20)) { () -> Bool? in
            let text = (try? String(contentsOfFile: tree.runtimeDir + "/descendants.json", encoding: .utf8)) ?? ""
            return text.contains("\"pid\":\(pid)") ? true : nil
        }
    }

    func run(mode: String) async throws {
        let tree = try TestTree(programs: "")
        let orphans = tree.root + "/orphans.txt"
        try tree.write(programs: """
          daemon:
            command: \(testChild("--orphan", orphans))
            stop_timeout: 2s
        """, supervisor: "  containment: \(mode)\n")
        var w = try WardenProcess(tree)
        defer { Task { [w] in await w.stop() } }
        let first = try await waitRunning(tree, "daemon")
        let s = try await status(tree)
        #expect(s?.supervisor.containment?.hasPrefix(mode) == true, "status names the containment: \(s?.supervisor.containment ?? "none")")
        let o1 = try await eventually("the first worker", within: .seconds(10)) { Self.pids(orphans).first }
        #expect(isAlive(o1))
        try await Self.held(o1, tree: tree, mode: mode)

        // 1. The main process killed: the worker dies before the restart, and the event names it.
        kill(first.pid!, SIGKILL)
        _ = try await waitRunning(tree, "daemon", otherThanPID: first.pid)
        try await eventually("the first worker gone", within: .seconds(10)) { isAlive(o1) ? nil : true }
        let evs = try await events(tree)
        #expect(evs.contains { $0.kind == "leftovers" && $0.program == "daemon" && $0.message.contains("\(o1)") }, "\(evs.map(\.message))")

        // 2. Stopped by the operator: its worker goes with it.
        let o2 = try await eventually("the second worker", within: .seconds(10)) { Self.pids(orphans).count >= 2 ? Self.pids(orphans)[1] : nil }
        try await Self.held(o2, tree: tree, mode: mode)
        let stop = try await wardenctl(tree, "stop", "daemon")
        #expect(stop.code == 0, "\(stop.out)")
        try await eventually("the second worker gone after stop", within: .seconds(10)) { isAlive(o2) ? nil : true }

        // 3. warden killed with -9: the main dies by its death signal; the worker is cleared by the next warden.
        _ = try await wardenctl(tree, "start", "daemon")
        let o3 = try await eventually("the third worker", within: .seconds(10)) { Self.pids(orphans).count >= 3 ? Self.pids(orphans)[2] : nil }
        try await Self.held(o3, tree: tree, mode: mode)
        w.signal(SIGKILL)
        _ = await w.waitExit(within: .seconds(10))
        #expect(isAlive(o3), "a worker outlives a warden killed with -9 until the next one starts (the README says so)")
        w = try WardenProcess(tree)
        _ = try await waitRunning(tree, "daemon")
        try await eventually("the third worker cleared by the new warden", within: .seconds(10)) { isAlive(o3) ? nil : true }
        let evs2 = try await events(tree)
        #expect(evs2.contains { $0.kind == "leftovers" && $0.message.contains("left by a previous warden") && $0.message.contains("\(o3)") }, "\(evs2.map(\.message))")
        await w.stop()
        for p in Self.pids(orphans) where isAlive(p) { kill(p, SIGKILL) }
    }

    @Test("F56 with a cgroup per program: a setsid + double-forked worker dies with its main process, its stop, and a killed warden's successor",
          .enabled(if: geteuid() == 0, "cgroups need root here (or systemd's Delegate=yes)"))
    func cgroup() async throws { try await run(mode: "cgroup") }

    @Test("F56 without cgroups (subreaper tracking): the same worker dies in the same three cases")
    func subreaper() async throws { try await run(mode: "subreaper") }
}

@Suite("Stop signals and kill modes")
struct StopSignalTests {
    @Test("F57 (part): a program's own stop signal stops it cleanly (stop_signal: INT on a child that ignores TERM), well inside stop_timeout")
    func stopSignal() async throws {
        let tree = try TestTree(programs: "")
        let got = tree.root + "/signal.txt"
        try tree.write(programs: """
          pg:
            command: \(testChild("--exit-on", "INT", "--signal-file", got))
            stop_signal: SIGINT
            stop_timeout: 20s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        _ = try await waitRunning(tree, "pg")
        let t0 = ContinuousClock.now
        let r = try await wardenctl(tree, "stop", "pg")
        #expect(r.code == 0, "\(r.out)")
        let stopped = try await eventually("stopped", within: .seconds(15)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "pg")
            return p?.state == "STOPPED" ? p : nil
        }
        #expect(ContinuousClock.now - t0 < .seconds(10), "stopped by its own signal, not by SIGKILL after stop_timeout")
        #expect((try? String(contentsOfFile: got, encoding: .utf8)) == "INT")
        #expect(stopped.last_exit?.signal == nil && stopped.last_exit?.code == 0, "a clean exit: \(String(describing: stopped.last_exit))")
        await w.stop()
    }

    @Test("kill_mode: group signals the whole process group; mixed and process signal the main process only, and what is left is killed once it exits")
    func killModes() async throws {
        let tree = try TestTree(programs: "")
        func entry(_ mode: String) -> String {
            """
              \(mode):
                command: \(testChild("--exit-on", "TERM", "--signal-file", tree.root + "/\(mode).main", "--worker", tree.root + "/\(mode).worker"))
                kill_mode: \(mode)
                stop_timeout: 20s
            """
        }
        try tree.write(programs: ["group", "mixed", "process"].map(entry).joined(separator: "\n"))
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        var workers: [String: Int32] = [:]
        for mode in ["group", "mixed", "process"] {
            _ = try await waitRunning(tree, mode, within: .seconds(30))
            workers[mode] = try await eventually("\(mode)'s worker started", within: .seconds(10)) { () -> Int32? in
                let text = (try? String(contentsOfFile: tree.root + "/\(mode).worker", encoding: .utf8)) ?? ""
                return text.split(separator: "\n").first.flatMap { $0.hasPrefix("worker ") ? Int32($0.dropFirst(7)) : nil }
            }
        }
        for mode in ["group", "mixed", "process"] {
            _ = try await wardenctl(tree, "stop", mode)
            let stopped = try await eventually("\(mode) stopped", within: .seconds(15)) { () async throws -> ProgramStatus? in
                let p = program(try await status(tree), mode)
                return p?.state == "STOPPED" ? p : nil
            }
            #expect(stopped.last_exit?.code == 0, "\(mode): the main exited on its stop signal")
            #expect((try? String(contentsOfFile: tree.root + "/\(mode).main", encoding: .utf8)) == "TERM")
            let worker = try #require(workers[mode])
            try await eventually("\(mode)'s worker gone", within: .seconds(10)) { isAlive(worker) ? nil : true }
            let report = (try? String(contentsOfFile: tree.root + "/\(mode).worker", encoding: .utf8)) ?? ""
            if mode == "group" {
                #expect(report.contains("signal 15"), "group: the worker got SIGTERM too: \(report)")
            } else {
                #expect(!report.contains("signal"), "\(mode): the worker got no stop signal, it was killed as what was left: \(report)")
            }
        }
        await w.stop()
    }

    @Test("a bad stop_signal or kill_mode is named with its key path (exit 78)")
    func killModeAndConfig() async throws {
        let tree = try TestTree(programs: """
          a:
            command: [/bin/true]
            stop_signal: SIGFOO
            kill_mode: everything
        """)
        let r = try await runTool("warden", ["--check-config", "--config", tree.configPath])
        #expect(r.code == 78)
        #expect(r.err.contains("programs.a.stop_signal: `SIGFOO` is not one of"), "\(r.err)")
        #expect(r.err.contains("programs.a.kill_mode"), "\(r.err)")
    }
}

@Suite("Clean exits and what a process last said")
struct CleanExitTests {
    @Test("F57 (part): an exit 0 is an 'exit' event, not a 'crash'; the last STATUS= stays on status and in the event")
    func cleanExit() async throws {
        let tree = try TestTree(programs: """
          job:
            command: \(testChild("--exit-after", "400", "--status", "served 3 requests"))
            backoff: {initial: 120s, max: 120s}
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await eventually("the first exit on status", within: .seconds(15)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "job")
            return p?.last_exit != nil ? p : nil
        }
        #expect(p.last_exit?.code == 0 && p.last_exit?.status_text == "served 3 requests", "\(String(describing: p.last_exit))")
        let evs = try await events(tree).filter { $0.program == "job" }
        #expect(evs.contains { $0.kind == "exit" && $0.message.contains("exited cleanly") && $0.message.contains("last STATUS: served 3 requests") },
                "\(evs.map { "\($0.kind): \($0.message)" })")
        #expect(!evs.contains { $0.kind == "crash" })
        let human = try await wardenctl(tree, "status")
        #expect(human.out.contains("last STATUS: served 3 requests"), "\(human.out)")
        await w.stop()
    }
}

@Suite("The rest of sd_notify")
struct NotifyProtocolTests {
    @Test("F57 (part): MAINPID= hands the program over to another of its processes: tracked, no crash, stop reaches the new main")
    func mainPID() async throws {
        let tree = try TestTree(programs: """
          daemon:
            command: \(testChild("--handover"))
            stop_timeout: 3s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await eventually("running under the new main", within: .seconds(20)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "daemon")
            return p?.state == "RUNNING" && p?.status_text == "the new main" ? p : nil
        }
        let newMain = try #require(p.pid)
        try await Task.sleep(for: .milliseconds(800))  // the old main has exited by now
        let again = program(try await status(tree), "daemon")
        #expect(again?.pid == newMain && again?.state == "RUNNING" && again?.restarts == 0, "\(String(describing: again))")
        let evs = try await events(tree).filter { $0.program == "daemon" }
        #expect(evs.contains { $0.kind == "mainpid" && $0.message.contains("\(newMain)") })
        #expect(!evs.contains { $0.kind == "crash" }, "\(evs.map(\.message))")
        _ = try await wardenctl(tree, "stop", "daemon")
        try await eventually("the new main stopped", within: .seconds(10)) { isAlive(newMain) ? nil : true }
        await w.stop()
    }

    @Test("WATCHDOG_USEC= at run time replaces watchdog_sec: a program that asks for 700 ms and then stays silent is aborted for it; its ERRNO= stays on status with the exit")
    func runtimeWatchdog() async throws {
        let tree = try TestTree(programs: """
          dog:
            command: \(testChild("--notify-after-ready", "WATCHDOG_USEC=700000\\nERRNO=5\\nSTATUS=asked for 700 ms", "--stop-heartbeat-after", "0"))
            watchdog_sec: 60s
            stable_after: 1h
            backoff: {initial: 30s, max: 30s}
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        // Ready, then killed 700 ms later: waited for by its events, not by catching it RUNNING (a loaded machine
        // may not look within that window).
        let killed = try await eventually("aborted for its own 700 ms watchdog", within: .seconds(60)) { () async throws -> LifecycleEvent? in
            try await events(tree).first { $0.program == "dog" && $0.kind == "watchdog" }
        }
        #expect(killed.message.contains("watchdog_sec 700ms"), "\(killed.message)")
        #expect(try await events(tree).contains { $0.program == "dog" && $0.kind == "ready" })
        let after = try await eventually("the exit on status", within: .seconds(30)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "dog")
            return p?.last_exit != nil ? p : nil
        }
        #expect(after.last_exit?.errno == 5 && after.last_exit?.status_text == "asked for 700 ms", "\(String(describing: after.last_exit))")
        await w.stop()
    }

    @Test("EXTEND_TIMEOUT_USEC= keeps a slow start alive past start_timeout")
    func extendTimeout() async throws {
        let tree = try TestTree(programs: """
          slow:
            command: \(testChild("--ready-after", "2500", "--extend-start", "900"))
            start_timeout: 1s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await waitRunning(tree, "slow", within: .seconds(20))
        #expect(p.restarts == 0, "never killed for start_timeout")
        let evs = try await events(tree).filter { $0.program == "slow" }
        #expect(!evs.contains { $0.kind == "start-timeout" })
        await w.stop()
    }

    @Test("notify_access: all takes READY=1 from a worker; main (the default) refuses it, and the refusal is an event")
    func notifyAccess() async throws {
        let tree = try TestTree(programs: """
          all:
            command: \(testChild("--ready-from-child"))
            notify_access: all
          main:
            command: \(testChild("--ready-from-child"))
            start_timeout: 60s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await waitRunning(tree, "all", within: .seconds(20))
        #expect(p.status_text == "ready, said by a worker")
        try await eventually("the refused worker message as an event", within: .seconds(10)) { () async throws -> Bool? in
            try await events(tree).contains { $0.kind == "notify-rejected" && $0.message.contains("notify_access: all would accept it") } ? true : nil
        }
        #expect(program(try await status(tree), "main")?.state == "STARTING")
        await w.stop()
    }
}

extension NotifyProtocolTests {
    @Test("notify_access: exec — a pre_start's STATUS= is shown while it runs, before the program starts")
    func notifyAccessExec() async throws {
        let tree = try TestTree(programs: """
          migrating:
            pre_start: \(testChild("--send-notify", "STATUS=migrating the schema", "--linger-ms", "10000"))
            command: \(testChild())
            notify_access: exec
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let during = try await eventually("the pre_start's STATUS= on status", within: .seconds(20)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "migrating")
            return p?.status_text == "migrating the schema" ? p : nil
        }
        #expect(during.pid == nil, "said while pre_start ran, before the program itself")
        let p = try await waitRunning(tree, "migrating", within: .seconds(40))
        #expect(p.status_text == "testchild ok")
        #expect(!(try await events(tree)).contains { $0.kind == "notify-rejected" })
        await w.stop()
    }
}

@Suite("Programs running as another user")
struct IdentityTests {
    static func uid(of pid: Int32) -> UInt32? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Uid:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { UInt32($0) }
        }
        return nil
    }

    @Test("user: nobody — the program runs as nobody with its umask and limits, reports ready through its own notify socket, and still dies with a warden killed with -9",
          .enabled(if: geteuid() == 0, "user: needs warden to run as root"))
    func asNobody() async throws {
        let tree = try TestTree(programs: """
          worker:
            command: \(testChild())
            user: nobody
            umask: "077"
            limit_nofile: 4096
            watchdog_sec: 5s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await waitRunning(tree, "worker", within: .seconds(20))
        let pid = try #require(p.pid)
        #expect(Self.uid(of: pid) == 65534, "runs as nobody")
        let limits = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
        #expect(limits.contains { _ in true } && limits.split(separator: "\n").contains { $0.hasPrefix("Max open files") && $0.contains("4096") }, "\(limits)")
        let mask = ((try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "").split(separator: "\n").first { $0.hasPrefix("Umask:") }
        #expect(mask?.hasSuffix("0077") == true, "\(String(describing: mask))")
        // Heartbeats keep arriving through its own socket: still RUNNING past the watchdog interval.
        try await Task.sleep(for: .seconds(6))
        let later = program(try await status(tree), "worker")
        #expect(later?.pid == pid && later?.state == "RUNNING", "\(String(describing: later))")
        w.signal(SIGKILL)
        _ = await w.waitExit(within: .seconds(10))
        try await eventually("the program gone with warden (death signal set after the uid change)", within: .seconds(10)) { isAlive(pid) ? nil : true }
    }

    @Test("a program with user: added by reload gets its own notify socket and becomes ready",
          .enabled(if: geteuid() == 0, "user: needs warden to run as root"))
    func addedByReload() async throws {
        let tree = try TestTree(programs: """
          first:
            command: \(testChild())
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        _ = try await waitRunning(tree, "first")
        try tree.write(programs: """
          first:
            command: \(testChild())
          second:
            command: \(testChild())
            user: nobody
        """)
        let r = try await wardenctl(tree, "reload")
        #expect(r.code == 0, "\(r.out) \(r.err)")
        let p = try await waitRunning(tree, "second", within: .seconds(20))
        #expect(Self.uid(of: p.pid!) == 65534)
        await w.stop()
    }

    @Test("redis-server as user redis (supervised systemd): STARTING until it says READY=1 through its own socket, then RUNNING; restarted after kill -9",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/bin/redis-server"), "needs root and Debian's redis-server (make deps installs it)"))
    func redis() async throws {
        let tree = try TestTree(programs: "")
        let data = tree.root + "/redis"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        var pw = passwd(), result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        getpwnam_r("redis", &pw, &buf, buf.count, &result)
        let redisUser = try #require(result, "the redis user exists")
        chown(data, redisUser.pointee.pw_uid, redisUser.pointee.pw_gid)
        let port = 20_000 + Int(getpid() % 20_000)
        try tree.write(programs: """
          redis:
            command: [/usr/bin/redis-server, --port, "\(port)", --bind, 127.0.0.1, --supervised, systemd, --dir, "\(data)", --save, "", --appendonly, "no", --daemonize, "no"]
            user: redis
            stop_timeout: 10s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await waitRunning(tree, "redis", within: .seconds(30))
        let pid = try #require(p.pid)
        #expect(Self.uid(of: pid) == redisUser.pointee.pw_uid)
        kill(pid, SIGKILL)
        let again = try await waitRunning(tree, "redis", otherThanPID: pid, within: .seconds(30))
        #expect(again.restarts == 1)
        _ = try await wardenctl(tree, "stop", "redis")
        try await eventually("redis stopped", within: .seconds(15)) { isAlive(again.pid!) ? nil : true }
        await w.stop()
    }
}

@Suite("Reloading a program")
struct ProgramReloadTests {
    @Test("F57 (part): wardenctl reload PROGRAM sends its reload_signal and follows RELOADING=1 … READY=1: no restart, 'reloaded' said; no reload_signal is refused")
    func reload() async throws {
        let tree = try TestTree(programs: """
          web:
            command: \(testChild("--reload-on-hup"))
            reload_signal: HUP
          plain:
            command: \(testChild())
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let before = try await waitRunning(tree, "web")
        _ = try await waitRunning(tree, "plain")
        let r = try await wardenctl(tree, "reload", "web")
        #expect(r.code == 0, "\(r.out) \(r.err)")
        let p = try await eventually("reloaded", within: .seconds(10)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "web")
            return p?.status_text == "reloaded 1" ? p : nil
        }
        #expect(p.pid == before.pid && p.restarts == 0)
        let evs = try await events(tree).filter { $0.program == "web" }
        #expect(evs.contains { $0.kind == "reload" && $0.message.contains("SIGHUP") })
        #expect(evs.contains { $0.kind == "reloaded" })
        let refused = try await wardenctl(tree, "reload", "plain")
        #expect(refused.code != 0 && refused.err.contains("no reload_signal"), "\(refused.err)")
        await w.stop()
    }
}

@Suite("php-fpm under warden")
struct PHPFPMTests {
    static let binary = "/usr/sbin/php-fpm8.2"

    @Test("php-fpm (master as root, workers as www-data): kill -9 of the master recovers by itself (workers killed, port free), USR2 reload tracked, SIGQUIT stop graceful: an in-flight request completes",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/php-fpm8.2") && FileManager.default.fileExists(atPath: "/usr/bin/cgi-fcgi"),
                   "needs root, Debian's php-fpm and cgi-fcgi (make deps installs them)"))
    func fpm() async throws {
        let tree = try TestTree(programs: "")
        let port = 30_000 + Int(getpid() % 20_000)
        let conf = tree.root + "/fpm.conf"
        try """
        [global]
        pid = \(tree.root)/fpm.pid
        error_log = /proc/self/fd/2
        daemonize = no
        systemd_interval = 1
        ; a graceful stop (SIGQUIT) waits this long for requests in flight
        process_control_timeout = 10s

        [www]
        user = www-data
        group = www-data
        listen = 127.0.0.1:\(port)
        pm = static
        pm.max_children = 3
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        try tree.write(programs: """
          fpm:
            command: [\(Self.binary), --nodaemonize, --fpm-config, "\(conf)"]
            stop_signal: QUIT
            reload_signal: USR2
            stop_timeout: 15s
            restart: always
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let first = try await waitRunning(tree, "fpm", within: .seconds(30))
        let master = try #require(first.pid)
        let workers = try await eventually("three workers", within: .seconds(10)) { () -> [Int32]? in
            let c = ContainmentTests.children(of: master)
            return c.count >= 3 ? c : nil
        }
        // 1. The master killed: its workers (which hold the port) die with it, and the new master starts cleanly.
        kill(master, SIGKILL)
        let second = try await waitRunning(tree, "fpm", otherThanPID: master, within: .seconds(30))
        #expect(second.restarts == 1)
        for p in workers { #expect(!isAlive(p), "worker \(p) of the killed master is gone") }
        let evs = try await events(tree).filter { $0.program == "fpm" }
        #expect(evs.contains { $0.kind == "leftovers" && $0.message.contains("php-fpm") }, "\(evs.map(\.message))")
        #expect(!evs.contains { $0.kind == "fatal" })
        // 2. Reload with USR2: the master re-executes itself and says READY=1 again: "reloaded", same pid, no restart.
        let r = try await wardenctl(tree, "reload", "fpm")
        #expect(r.code == 0, "\(r.err)")
        try await eventually("reloaded", within: .seconds(20)) { () async throws -> Bool? in
            try await events(tree).contains { $0.program == "fpm" && $0.kind == "reloaded" } ? true : nil
        }
        let afterReload = program(try await status(tree), "fpm")
        #expect(afterReload?.pid == second.pid && afterReload?.restarts == 1)
        // 3. Stop with SIGQUIT (graceful) while a request is in flight: the request completes, a clean stop, no SIGKILL.
        let web = tree.root + "/www"
        try FileManager.default.createDirectory(atPath: web, withIntermediateDirectories: true)
        chmod(web, 0o777)
        try "<?php file_put_contents('\(web)/started', '1'); usleep(2000000); echo 'finished the slow request';"
            .write(toFile: web + "/slow.php", atomically: true, encoding: .utf8)
        let request = Task {
            try await BoundedRun.run("/usr/bin/cgi-fcgi", ["-bind", "-connect", "127.0.0.1:\(port)"],
                                     env: ["SCRIPT_FILENAME": web + "/slow.php", "REQUEST_METHOD": "GET"], limit: .seconds(60))
        }
        try await eventually("the slow request running in a worker", within: .seconds(30)) {
            FileManager.default.fileExists(atPath: web + "/started") ? true : nil
        }
        _ = try await wardenctl(tree, "stop", "fpm")
        let answer = try await request.value
        #expect(answer.out.contains("finished the slow request"), "the in-flight request completed: \(answer.out) \(answer.err)")
        let stopped = try await eventually("stopped", within: .seconds(20)) { () async throws -> ProgramStatus? in
            let p = program(try await status(tree), "fpm")
            return p?.state == "STOPPED" ? p : nil
        }
        #expect(stopped.last_exit?.signal == nil, "\(String(describing: stopped.last_exit))")
        let kills = try await events(tree).filter { $0.program == "fpm" && $0.kind == "kill" }
        #expect(kills.isEmpty, "no SIGKILL was needed: \(kills.map(\.message))")
        await w.stop()
    }
}

extension ContainmentTests {
    static func children(of pid: Int32) -> [Int32] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [] }
        return tasks.flatMap { t -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }
}
