// Issue 15's rows on the running stack: a program's escaped grandchild (F56) and a daemon's own protocol (F57).
import Foundation
import WardenIPC
import WardenTestKit

extension Catalogue {
    static let supervision: [Scenario] = [f56, f57]

    static func pids(_ file: String) -> [Int32] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    static let f56 = Scenario(id: "F56", title: "grandchild escapes",
                              scenario: "a program (added by reload) leaves a setsid + double-forked worker; its main killed with -9, then warden killed with -9 and started again: the worker never outlives its program") { run in
        let file = run.stack.root + "/workers.txt"
        let mark = run.mark
        try run.stack.addProgram("""
          daemon:
            command: ["\(run.settings.bin)/warden-testchild", "--orphan", "\(file)"]
        """)
        let r = try await run.stack.ctl(["reload"])
        run.expect(r.code == 0, "reload: \(r.out)\(r.err)")
        guard let main = await run.eventually("the daemon running", within: .seconds(20), { await run.program("daemon").flatMap { $0.state == "RUNNING" ? $0.pid : nil } }),
              let w1 = await run.eventually("its worker", within: .seconds(10), { pids(file).first }) else { return }
        try await Task.sleep(for: .seconds(1))  // subreaper mode notes descendants at each resource check
        let s = await run.stack.status()
        run.note("containment: \(s?.supervisor.containment ?? "?")")
        let t0 = ContinuousClock.now
        kill(main, SIGKILL)
        if await run.eventually("the worker gone with its killed main", within: .seconds(10), { isAlive(w1) ? nil : true }) != nil {
            run.note(String(format: "worker %d killed %.2f s after its main", w1, seconds(since: t0)))
        }
        await run.eventually("the channel hears of the leftover", within: .seconds(20)) {
            run.stack.channelTexts.dropFirst(mark).contains { $0.contains("left by the exited main process") } ? true : nil
        }
        guard let w2 = await run.eventually("the new main's worker", within: .seconds(20), { pids(file).count >= 2 ? pids(file)[1] : nil }) else { return }
        try await Task.sleep(for: .seconds(1))
        await run.stack.killWarden()
        run.expect(isAlive(w2), "a worker outlives a warden killed with -9 until the next one starts (as the README says)")
        try run.stack.startWarden()
        try await run.stack.waitReady()
        if await run.eventually("the new warden cleared the worker", within: .seconds(10), { isAlive(w2) ? nil : true }) != nil {
            run.note("worker \(w2) left by the killed warden cleared by its successor")
        }
        let ev = (try? await run.stack.ctl(["events", "--json", "-n", "500"]))?.out ?? ""
        run.expect(ev.contains("left by a previous warden"), "the new warden said what it cleared")
        try await run.stack.waitTrading()
    }

    static let f57 = Scenario(id: "F57", title: "real daemon's own protocol",
                              scenario: "a program that stops on INT (ignoring TERM) and reloads on HUP with RELOADING=1 … READY=1: reload tracked without a restart, stop clean without SIGKILL; a socket-activated program killed with -9: a connection made while it restarts is served by the next process") { run in
        let mark = run.mark
        let got = run.stack.root + "/signal.txt"
        let port = try freePort()
        try run.stack.addProgram("""
          pgish:
            command: ["\(run.settings.bin)/warden-testchild", "--exit-on", "INT", "--signal-file", "\(got)", "--reload-on-hup"]
            stop_signal: INT
            reload_signal: HUP
            stop_timeout: 20s
          webish:
            command: ["\(run.settings.bin)/warden-testchild", "--serve-listen"]
            listen: ["127.0.0.1:\(port)"]
            backoff: {initial: 1s, max: 1s}
            stable_after: 100s
        """)
        let r = try await run.stack.ctl(["reload"])
        run.expect(r.code == 0, "reload: \(r.out)\(r.err)")
        guard let before = await run.eventually("running", within: .seconds(20), { await run.program("pgish").flatMap { $0.state == "RUNNING" ? $0 : nil } }) else { return }
        let t0 = ContinuousClock.now
        let rl = try await run.stack.ctl(["reload", "pgish"])
        run.expect(rl.code == 0, "wardenctl reload pgish: \(rl.err)")
        if let p = await run.eventually("reloaded (STATUS=reloaded 1)", within: .seconds(10), { await run.program("pgish").flatMap { $0.status_text == "reloaded 1" ? $0 : nil } }) {
            run.expect(p.pid == before.pid && p.restarts == before.restarts, "a reload is not a restart")
            run.note(String(format: "reload confirmed %.2f s after the request", seconds(since: t0)))
        }
        let t1 = ContinuousClock.now
        _ = try await run.stack.ctl(["stop", "pgish"])
        if let p = await run.eventually("stopped", within: .seconds(15), { await run.program("pgish").flatMap { $0.state == "STOPPED" ? $0 : nil } }) {
            run.expect(p.last_exit?.code == 0, "a clean exit on its own stop signal: \(String(describing: p.last_exit))")
            run.note(String(format: "stopped by SIGINT in %.2f s (stop_timeout 20 s)", seconds(since: t1)))
        }
        run.expect((try? String(contentsOfFile: got, encoding: .utf8)) == "INT", "the program got SIGINT")
        let ev = (try? await run.stack.ctl(["events", "--json", "-n", "500"]))?.out ?? ""
        run.expect(ev.contains("reloaded in"), "'reloaded' said")
        // Socket activation: warden holds the listening socket through a kill -9 and the 1 s backoff.
        guard let web = await run.eventually("webish running", within: .seconds(20), { await run.program("webish").flatMap { $0.state == "RUNNING" ? $0 : nil } }),
              let old = web.pid else { return }
        kill(old, SIGKILL)
        _ = await run.eventually("webish restarting", within: .seconds(10), { await run.program("webish")?.pid != old ? true : nil })
        let t2 = ContinuousClock.now
        let answer = await readLine(port: port, timeout: 30)
        if let next = await run.eventually("webish running again", within: .seconds(20), { await run.program("webish").flatMap { $0.state == "RUNNING" && $0.pid != old ? $0 : nil } }) {
            run.expect((try? answer.get()) == "\(next.pid ?? -1) webish", "the connection made during the restart served by the new process: \(answer)")
            run.note(String(format: "a connection made during the restart answered by the next process after %.2f s, none refused", seconds(since: t2)))
        }
        _ = mark
    }
}
