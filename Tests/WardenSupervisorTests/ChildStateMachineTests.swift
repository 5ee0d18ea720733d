// The child state machine and restart policy, driven with an injected clock.
import Foundation
import Testing
import WardenKit
@testable import WardenSupervisor

private func at(_ seconds: Double) -> MonotonicInstant { MonotonicInstant(nanoseconds: UInt64(seconds * 1e9) + 1_000_000_000) }

private func spec(_ configure: (inout ProgramSpec) -> Void = { _ in }) -> ProgramSpec {
    var s = ProgramSpec(name: "engine", command: ["/bin/true"])
    s.watchdogSec = .seconds(2)
    s.stableAfter = .seconds(10)
    s.backoff.jitter = 0
    configure(&s)
    return s
}

/// Starts the machine and makes it ready at `readyAt`.
private func running(_ s: ProgramSpec, pid: Int32 = 100, readyAt: Double = 0.1) -> ChildStateMachine {
    var m = ChildStateMachine(spec: s, now: at(0))
    #expect(m.handle(.start(by: "test"), now: at(0)).contains(.spawn))
    _ = m.handle(.spawned(pid: pid), now: at(0.01))
    _ = m.handle(.ready, now: at(readyAt))
    return m
}

private func hasEmit(_ actions: [ChildAction], kind: String) -> Bool {
    actions.contains { if case .emit(let k, _, _) = $0 { return k == kind }; return false }
}

@Suite("Child state machine")
struct ChildStateMachineTests {
    @Test("a stable child that crashes is restarted at once")
    func stableCrashRestartsAtOnce() {
        var m = running(spec())
        let actions = m.handle(.exited(.killed(SIGKILL)), now: at(30))
        #expect(actions.contains(.spawn))
        #expect(m.state == .STARTING)
        #expect(m.restarts == 1)
        #expect(m.lastExit?.status.signal == SIGKILL)
    }

    @Test("a restart after a crash says 'running again'; a start after the operator stopped a failing program does not")
    func recoveredOnlyAfterAFailure() {
        var m = running(spec())
        _ = m.handle(.exited(.killed(SIGKILL)), now: at(30))
        _ = m.handle(.spawned(pid: 101), now: at(30.01))
        #expect(hasEmit(m.handle(.ready, now: at(30.1)), kind: "recovered"))
        // Crash-looping into BACKOFF, stopped by the operator, started again later: no recovery to tell.
        _ = m.handle(.exited(.exited(1)), now: at(31))
        _ = m.handle(.tick, now: at(31.2))
        _ = m.handle(.spawned(pid: 102), now: at(31.2))
        _ = m.handle(.exited(.exited(1)), now: at(31.3))
        #expect(m.state == .BACKOFF)
        _ = m.handle(.stop(by: "operator"), now: at(31.4))
        #expect(m.state == .STOPPED)
        _ = m.handle(.start(by: "operator"), now: at(100))
        _ = m.handle(.spawned(pid: 103), now: at(100.01))
        let ready = m.handle(.ready, now: at(100.1))
        #expect(hasEmit(ready, kind: "ready") && !hasEmit(ready, kind: "recovered"))
    }

    @Test("an unstable child backs off with growing delays, capped")
    func unstableCrashBacksOff() {
        var m = running(spec { $0.backoff.max = .milliseconds(500) })
        var now = 1.0
        var delays: [Double] = []
        for i in 0..<4 {
            _ = m.handle(.exited(.exited(1)), now: at(now))
            #expect(m.state == .BACKOFF, "failure \(i)")
            let delay = (m.backoffUntil! - at(now)).seconds
            delays.append(delay)
            #expect(m.handle(.tick, now: at(now + delay / 2)).isEmpty, "no restart before the backoff ends")
            now += delay
            #expect(m.handle(.tick, now: at(now)).contains(.spawn))
            _ = m.handle(.spawned(pid: Int32(200 + i)), now: at(now))
        }
        #expect(delays.map { ($0 * 1000).rounded() } == [100, 200, 400, 500])
    }

    @Test("more restarts than the intensity allows: FATAL, then a cool-down retry")
    func intensityMakesFatalThenCooldownRetry() {
        var m = running(spec { $0.intensity = IntensitySettings(); $0.intensity.maxRestarts = 2; $0.cooldown = .seconds(60) })
        var now = 1.0
        var last: [ChildAction] = []
        for _ in 0..<3 {
            last = m.handle(.exited(.exited(1)), now: at(now))
            now += 1
            _ = m.handle(.tick, now: at(now))
            _ = m.handle(.spawned(pid: 300), now: at(now))
        }
        #expect(m.state == .FATAL)
        #expect(hasEmit(last, kind: "fatal"))
        #expect(!last.contains { if case .escalate = $0 { return true }; return false })
        #expect(m.handle(.tick, now: at(now + 30)).isEmpty)
        let retry = m.handle(.tick, now: at(now + 61))
        #expect(retry.contains(.spawn))
        #expect(m.state == .STARTING)
    }

    @Test("a critical program that goes FATAL escalates")
    func criticalEscalates() {
        var m = running(spec { $0.critical = true; $0.intensity.maxRestarts = 1 })
        _ = m.handle(.exited(.exited(1)), now: at(1))
        _ = m.handle(.tick, now: at(2))
        _ = m.handle(.spawned(pid: 101), now: at(2))
        let actions = m.handle(.exited(.exited(1)), now: at(2.5))
        #expect(m.state == .FATAL)
        #expect(actions.contains { if case .escalate = $0 { return true }; return false })
    }

    @Test("a missed heartbeat aborts, then SIGKILL after the 1 s abort grace (not stop_timeout), then restarts")
    func watchdogTimeout() {
        var m = running(spec { $0.stopTimeout = .seconds(3) })
        _ = m.handle(.heartbeat, now: at(1))
        #expect(m.handle(.tick, now: at(2.9)).isEmpty)
        let fired = m.handle(.tick, now: at(3.1))
        #expect(fired.contains(.abort))
        #expect(hasEmit(fired, kind: "watchdog"))
        #expect(m.state == .STOPPING)
        #expect(!m.handle(.tick, now: at(3.9)).contains(.signal(SIGKILL)))
        let kill = m.handle(.tick, now: at(4.2))
        #expect(kill.contains(.signal(SIGKILL)))
        #expect(hasEmit(kill, kind: "kill"))
        let after = m.handle(.exited(.killed(SIGKILL)), now: at(6.3))
        #expect(m.state == .BACKOFF || after.contains(.spawn), "a watchdog kill counts as a failure and restarts")
        #expect(m.lastExit?.reason.contains("watchdog timeout") == true)
    }

    @Test("heartbeats keep a child alive")
    func heartbeatsKeepAlive() {
        var m = running(spec())
        for t in stride(from: 1.0, to: 20, by: 0.9) {
            _ = m.handle(.heartbeat, now: at(t))
            #expect(m.handle(.tick, now: at(t + 0.5)).isEmpty)
        }
        #expect(m.state == .RUNNING)
    }

    @Test("a pause of the supervisor (suspend, SIGSTOP) does not count against heartbeats")
    func pauseForgivesHeartbeats() {
        var m = running(spec())
        _ = m.handle(.heartbeat, now: at(1))
        _ = m.handle(.resumedAfterPause(.seconds(30)), now: at(31))
        #expect(m.handle(.tick, now: at(32)).isEmpty)
        #expect(m.state == .RUNNING)
    }

    @Test("no READY=1 within start_timeout: killed and counted as a failure")
    func startTimeout() {
        var m = ChildStateMachine(spec: spec { $0.startTimeout = .seconds(5) }, now: at(0))
        _ = m.handle(.start(by: "test"), now: at(0))
        _ = m.handle(.spawned(pid: 7), now: at(0))
        #expect(m.handle(.tick, now: at(4)).isEmpty)
        #expect(m.handle(.tick, now: at(5.1)).contains(.signal(SIGKILL)))
        _ = m.handle(.exited(.killed(SIGKILL)), now: at(5.2))
        #expect(m.state == .BACKOFF)
        #expect(m.lastExit?.reason.contains("start_timeout") == true)
    }

    @Test("operator stop: SIGTERM, SIGKILL after stop_timeout, then STOPPED and no restart")
    func operatorStop() {
        var m = running(spec { $0.stopTimeout = .seconds(2) })
        #expect(m.handle(.stop(by: "op"), now: at(1)).contains(.signal(SIGTERM)))
        #expect(m.handle(.tick, now: at(3.1)).contains(.signal(SIGKILL)))
        _ = m.handle(.exited(.killed(SIGKILL)), now: at(3.2))
        #expect(m.state == .STOPPED)
        #expect(m.handle(.tick, now: at(100)).isEmpty)
    }

    @Test("restart: stop then start again without counting a failure")
    func operatorRestart() {
        var m = running(spec())
        #expect(m.handle(.restart(by: "op"), now: at(1)).contains(.signal(SIGTERM)))
        #expect(m.handle(.exited(.killed(SIGTERM)), now: at(1.1)).contains(.spawn))
        #expect(m.restarts == 0)
    }

    @Test("restart policies never and on-failure")
    func restartPolicies() {
        var never = running(spec { $0.restart = .never })
        _ = never.handle(.exited(.exited(1)), now: at(5))
        #expect(never.state == .EXITED)
        var onFailure = running(spec { $0.restart = .onFailure })
        _ = onFailure.handle(.exited(.exited(0)), now: at(5))
        #expect(onFailure.state == .EXITED)
        var onFailure2 = running(spec { $0.restart = .onFailure })
        _ = onFailure2.handle(.exited(.exited(2)), now: at(5))
        #expect(onFailure2.state == .BACKOFF)
    }

    @Test("a clean exit (exit_ok, or any exit after STOPPING=1) is an 'exit', not a 'crash'; restarted by the same rules")
    func cleanExit() {
        func kinds(_ a: [ChildAction]) -> [String] { a.compactMap { if case .emit(let k, _, _) = $0 { return k }; return nil } }
        var m = running(spec())
        let zero = m.handle(.exited(.exited(0)), now: at(5))
        #expect(kinds(zero) == ["exit"] && m.state == .BACKOFF)
        var n = running(spec { $0.exitOK = [0, 75] })
        #expect(kinds(n.handle(.exited(.exited(75)), now: at(5))) == ["exit"])
        var o = running(spec())
        _ = o.handle(.stopping, now: at(4))
        #expect(kinds(o.handle(.exited(.exited(1)), now: at(5))) == ["exit"], "announced with STOPPING=1")
        var p = running(spec())
        #expect(kinds(p.handle(.exited(.exited(1)), now: at(5))) == ["crash"])
        var q = running(spec { $0.restart = .onFailure; $0.exitOK = [0, 3] })
        _ = q.handle(.exited(.exited(3)), now: at(5))
        #expect(q.state == .EXITED, "on-failure: a declared-clean code is not a failure")
    }

    @Test("WATCHDOG_USEC= at run time replaces watchdog_sec (0 turns it off); MAINPID= moves the main pid; EXTEND_TIMEOUT_USEC= moves the start bound")
    func notifyExtras() {
        var m = running(spec())  // watchdog_sec 2 s
        _ = m.handle(.watchdogInterval(.seconds(5)), now: at(1))
        #expect(m.watchdog == .seconds(5))
        #expect(m.handle(.tick, now: at(4)).isEmpty, "no watchdog at 3 s of silence under a 5 s interval")
        #expect(m.handle(.tick, now: at(6.5)).contains(.abort))
        var off = running(spec())
        _ = off.handle(.watchdogInterval(.zero), now: at(1))
        #expect(off.watchdog == nil && off.handle(.tick, now: at(60)).isEmpty)
        var moved = running(spec())
        _ = moved.handle(.mainPID(222), now: at(1))
        #expect(moved.pid == 222)
        var slow = ChildStateMachine(spec: spec { $0.startTimeout = .seconds(1) }, now: at(0))
        _ = slow.handle(.start(by: "test"), now: at(0))
        _ = slow.handle(.spawned(pid: 7), now: at(0.01))
        _ = slow.handle(.extendTimeout(.seconds(3)), now: at(0.5))
        #expect(slow.handle(.tick, now: at(2)).isEmpty, "extended to 3.5 s")
        #expect(!slow.handle(.tick, now: at(4)).isEmpty, "past the extension: start timeout")
    }

    @Test("a reload: the signal to the main process only, READY=1 ends it; unconfirmed past reload_timeout it is said as failed, not a crash")
    func reloadTracking() {
        func kinds(_ a: [ChildAction]) -> [String] { a.compactMap { if case .emit(let k, _, _) = $0 { return k }; return nil } }
        var m = running(spec { $0.reloadSignal = SIGHUP; $0.reloadTimeout = .seconds(3); $0.watchdogSec = nil })
        let sent = m.handle(.reload(by: "test"), now: at(1))
        #expect(sent.contains(.signalMain(SIGHUP)))
        _ = m.handle(.reloading, now: at(1.1))
        #expect(kinds(m.handle(.ready, now: at(1.5))) == ["reloaded"])
        _ = m.handle(.reload(by: "test"), now: at(2))
        #expect(kinds(m.handle(.tick, now: at(6))) == ["reload-failed"])
        #expect(m.state == .RUNNING && m.restarts == 0)
        var none = running(spec())
        #expect(none.handle(.reload(by: "test"), now: at(1)).isEmpty, "no reload_signal: nothing sent")
    }

    @Test("a failed spawn (or pre_start) counts as a failed start")
    func spawnFailure() {
        var m = ChildStateMachine(spec: spec(), now: at(0))
        _ = m.handle(.start(by: "test"), now: at(0))
        _ = m.handle(.spawnFailed(reason: "pre_start failed (exit code 1): disk full"), now: at(0.1))
        #expect(m.state == .BACKOFF)
        #expect(m.lastExit?.reason.contains("disk full") == true)
    }

    @Test("backoff resets after stable_after of ready running")
    func backoffResetsWhenStable() {
        var m = running(spec())
        _ = m.handle(.exited(.exited(1)), now: at(1))
        _ = m.handle(.tick, now: at(1.2))
        _ = m.handle(.spawned(pid: 5), now: at(1.2))
        _ = m.handle(.ready, now: at(1.3))
        #expect(m.consecutiveFailures == 1)
        _ = m.handle(.heartbeat, now: at(11.5))
        _ = m.handle(.tick, now: at(11.6))
        #expect(m.consecutiveFailures == 0)
    }
}

@Suite("Restart policy")
struct RestartPolicyTests {
    @Test("jitter stays within the configured fraction")
    func jitterBounds() {
        var b = BackoffSettings()
        b.jitter = 0.2
        #expect(RestartPolicy.nextDelay(after: 1, b, jitterUnit: -1) == .milliseconds(80))
        #expect(RestartPolicy.nextDelay(after: 1, b, jitterUnit: 1) == .milliseconds(120))
        #expect(RestartPolicy.nextDelay(after: 40, b, jitterUnit: 0) == .seconds(30))
    }

    @Test("intensity counts only restarts inside the window")
    func intensityWindow() {
        var i = IntensitySettings()
        i.maxRestarts = 2
        i.window = .seconds(10)
        #expect(!RestartPolicy.exceedsIntensity([at(0), at(1), at(20)], now: at(20), i))
        #expect(RestartPolicy.exceedsIntensity([at(15), at(16), at(20)], now: at(20), i))
    }
}
