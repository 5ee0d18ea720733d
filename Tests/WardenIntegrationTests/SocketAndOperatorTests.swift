// F23, F25, F28, F29, F31–F33 and the operator's reload, pre_start and logs, against the real processes.
import CWardenOS
import Foundation
import Logging
import Testing
import WardenIPC
import WardenTestKit


@Suite("Sockets, operators and configuration", .serialized)
struct SocketAndOperatorTests {
    @Test("F31: garbage, oversize, wrong-version and fuzzed frames on control.sock get an error frame; the server goes on")
    func f31ControlSocketGarbage() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "a")

        let cases: [(String, (RawSocket) -> Void, String)] = [
            ("oversize", { $0.send([0xff, 0xff, 0xff, 0xff, 1, 2, 3]) }, "oversize"),
            ("not JSON", { $0.sendFrame("this is not json") }, "bad_frame"),
            ("wrong version", { $0.sendFrame(#"{"v":2,"id":null,"kind":"event","type":"hello","body":{}}"#) }, "bad_version"),
            ("no hello", { $0.sendFrame(#"{"v":1,"id":1,"kind":"request","type":"status","body":{}}"#) }, "hello_required"),
        ]
        for (name, inject, code) in cases {
            let s = try RawSocket(path: tree.controlSocket)
            #expect(s.readFrame()?.contains("\"hello\"") == true, "server says hello first (\(name))")
            inject(s)
            let answer = s.readFrame()
            #expect(answer?.contains("\"kind\":\"error\"") == true && answer?.contains(code) == true, "\(name): \(answer ?? "nothing")")
            #expect(s.closedByPeer(), "\(name): connection closed")
        }
        // Seeded fuzz: random bytes, random lengths; none may take the server down.
        var seed: UInt64 = 0x5eed
        for _ in 0..<40 {
            let s = try RawSocket(path: tree.controlSocket)
            _ = s.readFrame()
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let count = Int(seed >> 56) + 1
            var bytes = [UInt8]()
            for _ in 0..<count {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                bytes.append(UInt8(truncatingIfNeeded: seed >> 33))
            }
            s.send(bytes)
        }
        let s = try #require(try await status(tree))
        #expect(program(s, "a")?.state == "RUNNING")
        #expect((s.supervisor.control_socket?.rejected_frames_total ?? 0) >= 4)
        await w.stop()
    }

    @Test("F31: forged, oversize and NUL datagrams on notify.sock are dropped and counted")
    func f31NotifySocketGarbage() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n    watchdog_sec: 2s\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let a = try await waitRunning(tree, "a")
        func sendDatagram(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { warden_dgram_send(tree.notifySocket, $0.baseAddress, $0.count) }
            }
        }
        sendDatagram(Array("READY=1\nSTATUS=forged by a stranger".utf8))  // not a child's main pid
        sendDatagram(Array("WATCHDOG=1\0STATUS=x".utf8))
        sendDatagram([UInt8](repeating: 65, count: 40_000))
        let s = try await eventually("three datagrams counted") {
            let s = try await status(tree)
            return (s?.supervisor.notify_rejected_total ?? 0) >= 3 ? s : nil
        }
        let p = try #require(program(s, "a"))
        #expect(p.pid == a.pid && p.state == "RUNNING")
        #expect(p.status_text != "forged by a stranger")
        await w.stop()
    }

    @Test("F32: a peer that stops answering times the request out; a restarted peer is reconnected to and noticed")
    func f32PeerVanishes() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n")
        let w = try WardenProcess(tree)
        try await waitRunning(tree, "a")
        let client = IPCClient(path: tree.controlSocket, role: "test", logger: Logger(label: "test"),
                               backoffInitial: .milliseconds(50), backoffMax: .milliseconds(400))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        let first = try await client.waitConnected(timeout: .seconds(10))
        _ = try await client.call("status", Empty(), as: StatusResponse.self)
        w.signal(SIGSTOP)
        // kill(2) returns before every thread has stopped; a request sent at once could still be answered.
        try await eventually("every thread of warden stopped", within: .seconds(5)) { allThreadsStopped(w.pid) ? true : nil }
        let start = ContinuousClock.now
        await #expect(throws: IPCError.self) {
            _ = try await client.call("status", Empty(), as: StatusResponse.self, timeout: .milliseconds(500))
        }
        #expect(ContinuousClock.now - start < .seconds(5), "the request ended at its deadline, no hang")
        w.signal(SIGKILL)
        _ = await w.waitExit(within: .seconds(5))
        let w2 = try WardenProcess(tree)
        defer { Task { await w2.stop() } }
        var restartedSeen = false
        for await event in client.events {
            if case .connected(let hello, let restarted) = event, hello.boot_id != first.boot_id {
                restartedSeen = restarted
                break
            }
        }
        #expect(restartedSeen, "the new supervisor was noticed by its boot id")
        let s = try await client.call("status", Empty(), as: StatusResponse.self)
        #expect(s.supervisor.pid == w2.pid)
        runner.cancel()
        await w2.stop()
    }

    @Test("F33: another local user is refused, by permissions and by peer credentials")
    func f33OtherUser() async throws {
        try #require(getuid() == 0, "needs root to act as user nobody")
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "a")
        let script = """
        import os, socket, sys
        os.setgid(65534); os.setuid(65534)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sys.argv[1])
        except PermissionError:
            print("permission-denied"); sys.exit(0)
        data = b""
        s.settimeout(5)
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        print("closed:" + data[4:].decode(errors="replace"))
        """
        let scriptPath = tree.root + "/as-nobody.py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        func runAsNobody() async throws -> String {
            try await BoundedRun.run("/usr/bin/env", ["python3", scriptPath, tree.controlSocket]).out
        }
        chmod(tree.root, 0o755)
        chmod(tree.root + "/var", 0o755)
        #expect(try await runAsNobody().contains("permission-denied"), "runtime directory is 0700")
        // Even with the directory opened up by mistake, SO_PEERCRED refuses the stranger.
        chmod(tree.runtimeDir, 0o755)
        chmod(tree.controlSocket, 0o666)
        let out = try await runAsNobody()
        #expect(out.contains("closed:") && out.contains("forbidden") && out.contains("uid 65534"), "\(out)")
        let s = try await status(tree)
        #expect((s?.supervisor.control_socket?.refused_peers_total ?? 0) >= 1)
        await w.stop()
    }

    @Test("F23: stopping and continuing the whole group causes no restart storm")
    func f23GroupStopContinue() async throws {
        let tree = try TestTree(programs: """
          a:
            command: \(testChild())
            watchdog_sec: 1s
          b:
            command: \(testChild())
            watchdog_sec: 1s
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let a = try await waitRunning(tree, "a")
        let b = try await waitRunning(tree, "b")
        let all = [w.pid, a.pid!, b.pid!]
        for pid in all { kill(pid, SIGSTOP) }
        try await Task.sleep(for: .seconds(3))  // the injected fault: three watchdog intervals frozen
        for pid in all.reversed() { kill(pid, SIGCONT) }
        try await eventually("the stall is reported") {
            try await events(tree).contains { $0.kind == "stall" || $0.kind == "suspend" } ? true : nil
        }
        // Over the next two watchdog intervals nothing may be restarted.
        let watchEnd = ContinuousClock.now + .seconds(2.5)
        while ContinuousClock.now < watchEnd {
            let s = try await status(tree)
            #expect(program(s, "a")?.pid == a.pid && program(s, "b")?.pid == b.pid)
            try await Task.sleep(for: .milliseconds(250))
        }
        let s = try await status(tree)
        #expect(program(s, "a")?.restarts == 0 && program(s, "b")?.restarts == 0)
        await w.stop()
    }

    @Test("F25: started from / and under systemd's directory variables, paths never depend on the cwd")
    func f25PathsIndependentOfCwd() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild("--print-every", "100"))\n")
        let w = try WardenProcess(tree, cwd: "/")
        try await waitRunning(tree, "a")
        #expect(FileManager.default.fileExists(atPath: tree.root + "/var/run/control.sock"))
        try await eventually("log file under the tree's var/log") {
            FileManager.default.fileExists(atPath: tree.root + "/var/log/a.log") ? true : nil
        }
        await w.stop()

        let sd = tree.root + "/sd"
        let env = ["STATE_DIRECTORY": sd + "/state", "RUNTIME_DIRECTORY": sd + "/run", "LOGS_DIRECTORY": sd + "/logs"]
        let w2 = try WardenProcess(tree, env: env, cwd: "/")
        defer { Task { await w2.stop() } }
        let r = try await eventually("control.sock in RUNTIME_DIRECTORY answers") {
            let r = try await runTool("wardenctl", ["status", "--json", "--socket", sd + "/run/control.sock"])
            return r.code == 0 ? r : nil
        }
        #expect(r.out.contains("\"name\" : \"a\""))
        try await eventually("log file in LOGS_DIRECTORY") {
            FileManager.default.fileExists(atPath: sd + "/logs/a.log") ? true : nil
        }
        await w2.stop()
    }

    @Test("F28: bad operator input gets a clear message and exit code 2; nothing changes")
    func f28BadInput() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let a = try await waitRunning(tree, "a")
        for args in [["frobnicate"], ["logs"], ["logs", "a", "-n", "-5"], ["status", "--bogus"], ["restart"]] {
            let r = try await runTool("wardenctl", ["--config", tree.configPath] + args)
            #expect(r.code == 2, "\(args): exit \(r.code)")
            #expect(!r.err.isEmpty, "\(args) says what is wrong")
        }
        let unknown = try await wardenctl(tree, "restart", "ghost")
        #expect(unknown.code == 1 && unknown.err.contains("no program named `ghost`"))
        let unreachable = try await runTool("wardenctl", ["status", "--socket", tree.root + "/nowhere.sock"])
        #expect(unreachable.code == 3 && unreachable.err.contains("unreachable"))
        let after = program(try await status(tree), "a")
        #expect(after?.pid == a.pid && after?.restarts == 0)
        await w.stop()
    }

    @Test("F29: an invalid configuration stops the start and names the key path and the reason")
    func f29InvalidConfiguration() async throws {
        let bad: [(String, String)] = [
            ("  a:\n    command: \(testChild())\n    watchdog_sec: [1, 2]\n", "programs.a.watchdog_sec"),
            ("  a:\n    command: \(testChild())\n    restrat: always\n", "programs.a.restrat: unknown key (did you mean `restart`?)"),
            ("  a:\n    command: \(testChild())\n    intensity: {max_restarts: 0}\n", "programs.a.intensity.max_restarts: 0 is out of range"),
            ("  a:\n    command: \(testChild())\n    critical: \"yes please\"\n", "programs.a.critical: expected true or false"),
        ]
        for (yaml, expected) in bad {
            let tree = try TestTree(programs: yaml)
            let w = try WardenProcess(tree)
            let code = await w.waitExit(within: .seconds(10))
            #expect(code == 78, "exit code for \(expected)")
            #expect(w.output.contains(expected), "names \(expected): \(w.output)")
            #expect(!FileManager.default.fileExists(atPath: tree.controlSocket))
        }
    }

    @Test("SIGHUP reloads: only the program whose definition changed is restarted")
    func reloadRestartsOnlyChanged() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n  b:\n    command: \(testChild())\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let a = try await waitRunning(tree, "a")
        let b = try await waitRunning(tree, "b")
        try tree.write(programs: "  a:\n    command: \(testChild())\n  b:\n    command: \(testChild())\n    env: {MODE: changed}\n  c:\n    command: \(testChild())\n")
        w.signal(SIGHUP)
        try await waitRunning(tree, "b", otherThanPID: b.pid)
        try await waitRunning(tree, "c")
        #expect(program(try await status(tree), "a")?.pid == a.pid)
        await w.stop()
    }

    @Test("a failing pre_start counts as a failed start and its output is in the event")
    func preStartFailure() async throws {
        let tree = try TestTree(programs: """
          a:
            command: \(testChild())
            pre_start: ["/bin/sh", "-c", "echo preflight: free space below 5 percent; exit 3"]
            backoff: {initial: 1s, max: 5s}
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let p = try await eventually("a in BACKOFF after pre_start failure") {
            let p = program(try await status(tree), "a")
            return p?.state == "BACKOFF" ? p : nil
        }
        #expect(p.last_exit?.reason.contains("pre_start failed (exit code 3): preflight: free space below 5 percent") == true)
        #expect(try await events(tree).contains { $0.kind == "pre-start" && $0.message.contains("free space below 5 percent") })
        await w.stop()
    }

    @Test("child output is captured: wardenctl logs shows the last lines and the file rotates by size")
    func logsCaptured() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild("--print-every", "5"))\n",
                                supervisor: "  log_max_bytes: 4096\n  log_keep_files: 2\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "a")
        let r = try await eventually("log lines held") {
            let r = try await wardenctl(tree, "logs", "a", "-n", "3")
            return r.out.contains("stdout line") && r.out.contains("stderr line") ? r : nil
        }
        #expect(r.code == 0)
        try await eventually("rotated files, bounded count", within: .seconds(30)) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: tree.root + "/var/log")) ?? []
            return files.contains("a.log.2") ? files : nil
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: tree.root + "/var/log")
        #expect(!files.contains("a.log.3"), "only log_keep_files rotated files are kept: \(files)")
        await w.stop()
    }

    @Test("wardenctl events --follow and logs --follow print what happens as it happens")
    func follow() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild("--print-every", "50"))\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let a = try await waitRunning(tree, "a")
        func followProcess(_ args: [String]) async throws -> (Process, String) {
            let out = tree.root + "/follow-\(UUID().uuidString.prefix(6)).out"
            let err = out + ".err"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            _ = FileManager.default.createFile(atPath: err, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Bin.path("wardenctl"))
            p.arguments = ["--socket", tree.controlSocket] + args
            p.standardOutput = FileHandle(forWritingAtPath: out)
            p.standardError = FileHandle(forWritingAtPath: err)
            try p.run()
            try await eventually("\(args[0]) --follow subscribed") {
                ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("-- following") ? true : nil
            }
            return (p, out)
        }
        let (events, eventsOut) = try await followProcess(["events", "-n", "0", "--follow"])
        let (logs, logsOut) = try await followProcess(["logs", "a", "-n", "0", "--follow"])
        defer { events.terminate(); logs.terminate() }
        kill(a.pid!, SIGKILL)
        try await eventually("the crash printed by events --follow") {
            let text = (try? String(contentsOfFile: eventsOut, encoding: .utf8)) ?? ""
            return text.contains("crash:") && text.contains("SIGKILL") ? true : nil
        }
        try await eventually("new output printed by logs --follow") {
            let text = (try? String(contentsOfFile: logsOut, encoding: .utf8)) ?? ""
            return text.contains("stdout line") ? true : nil
        }
        events.terminate()
        logs.terminate()
        await w.stop()
    }
}

/// True when every thread of `pid` is in the stopped state (T) after a SIGSTOP.
private func allThreadsStopped(_ pid: Int32) -> Bool {
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"), !tids.isEmpty else { return false }
    return tids.allSatisfy { tid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex else { return false }
        return stat[stat.index(close, offsetBy: 2)] == "T"
    }
}
