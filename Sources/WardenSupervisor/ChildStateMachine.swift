// The life of one supervised program as a pure value type: events in, actions out (DESIGN.md §2).
public import WardenKit

/// States shown to operators (`wardenctl status`).
public enum ProgramState: String, Sendable, Codable, CaseIterable {
    case STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL
}

/// How a child process ended.
public struct ExitStatus: Sendable, Equatable {
    public var code: Int32?
    public var signal: Int32?
    public var coreDumped = false
    public static func exited(_ c: Int32) -> ExitStatus { ExitStatus(code: c, signal: nil) }
    public static func killed(_ s: Int32) -> ExitStatus { ExitStatus(code: nil, signal: s) }
    public var isSuccess: Bool { code == 0 }
    public var text: String {
        if let code { return "exit code \(code)" }
        if let signal { return "killed by \(signalName(signal))\(coreDumped ? " (core dumped)" : "")" }
        return "ended"
    }
}

/// The last exit, as shown in status.
public struct LastExit: Sendable, Equatable {
    public var status: ExitStatus
    public var at: MonotonicInstant
    public var reason: String
}

/// Severity of a lifecycle event.
public enum Severity: String, Sendable, Codable { case info, warning, critical }

/// Something the state machine wants done. The supervisor performs it and reports back.
public enum ChildAction: Sendable, Equatable {
    /// Run pre_start (if any), then spawn; report `.spawned` or `.spawnFailed`.
    case spawn
    /// Send a signal to the child's process group.
    case signal(Int32)
    /// Send a signal to the main process only (a reload).
    case signalMain(Int32)
    /// A missed heartbeat: SIGABRT to the main pid (a hung program's backtrace and core dump), but SIGKILL to
    /// the group when the program is stopped (SIGSTOP, a debugger): continued to take the SIGABRT, it would run
    /// again on stale state — send what it held, take requests — while it dies.
    case abort
    /// Publish a lifecycle event.
    case emit(kind: String, severity: Severity, message: String)
    /// A critical program became FATAL: stop everything and exit non-zero.
    case escalate(reason: String)
}

/// Inputs of the state machine.
public enum ChildEvent: Sendable, Equatable {
    case start(by: String)
    case stop(by: String)
    case restart(by: String)
    case spawned(pid: Int32)
    case spawnFailed(reason: String)
    case ready
    case heartbeat
    case exited(ExitStatus)
    case tick
    /// The supervisor was not running for a while (suspend or SIGSTOP): forgive missed heartbeats.
    case resumedAfterPause(Duration)
    /// A resource limit was hit: restart the child.
    case limitExceeded(reason: String)
    /// The program said STOPPING=1: its exit that follows is not a crash.
    case stopping
    /// MAINPID=: another process of the program is its main process from now on.
    case mainPID(Int32)
    /// EXTEND_TIMEOUT_USEC=: the start (or stop) may take this much longer from now.
    case extendTimeout(Duration)
    /// WATCHDOG_USEC= at run time: the heartbeat interval from now on (zero: no watchdog).
    case watchdogInterval(Duration)
    /// An operator asked for a reload (the reload signal is sent with it).
    case reload(by: String)
    /// RELOADING=1: the program is reloading; READY=1 ends it.
    case reloading
}

/// One program's state machine. All timing comes from the `now` passed in.
public struct ChildStateMachine: Sendable {
    public private(set) var spec: ProgramSpec
    public private(set) var state: ProgramState = .STOPPED
    public private(set) var pid: Int32?
    public private(set) var ready = false
    public private(set) var since: MonotonicInstant
    public private(set) var startedAt: MonotonicInstant?
    public private(set) var readyAt: MonotonicInstant?
    public private(set) var lastHeartbeat: MonotonicInstant?
    public private(set) var lastExit: LastExit?
    public private(set) var restarts = 0
    public private(set) var consecutiveFailures = 0
    public private(set) var backoffUntil: MonotonicInstant?
    public private(set) var fatalRetryAt: MonotonicInstant?
    /// Wanted running by configuration or operator.
    public private(set) var wanted = false
    private var restartTimes: [MonotonicInstant] = []
    private var stopDeadline: MonotonicInstant?
    private var stopGrace: Duration = .zero
    private var killed = false
    private var restartAfterStop = false
    /// STOPPING=1 received from the current process.
    private var announcedStop = false
    /// The start may run until here (EXTEND_TIMEOUT_USEC= moved it past start_timeout).
    private var startExtendedTo: MonotonicInstant?
    /// WATCHDOG_USEC= sent by the current process (nil: spec.watchdogSec; zero: off).
    public private(set) var watchdogOverride: Duration?
    /// A reload in progress: since when, and whether the program said RELOADING=1.
    public private(set) var reloadingSince: MonotonicInstant?
    private var reloadConfirmed = false
    /// The watchdog interval in force.
    public var watchdog: Duration? {
        if let o = watchdogOverride { return o == .zero ? nil : o }
        return spec.watchdogSec
    }
    /// Why the supervisor is killing it; set means the exit counts as a failure.
    private var failureReason: String?
    private var stopWhenSpawned = false
    /// Why the program last failed, until it is ready again: that readiness is then a recovery worth telling.
    private var downSince: (at: MonotonicInstant, reason: String)?

    public init(spec: ProgramSpec, now: MonotonicInstant) {
        self.spec = spec
        self.since = now
    }

    /// Replaces the spec (after a reload); the caller restarts the child if it must.
    public mutating func update(spec: ProgramSpec) { self.spec = spec }

    private mutating func enter(_ s: ProgramState, _ now: MonotonicInstant) {
        if s != state { since = now }
        state = s
    }

    public mutating func handle(_ event: ChildEvent, now: MonotonicInstant, jitterUnit: Double = 0) -> [ChildAction] {
        switch event {
        case .start(let by):
            wanted = true
            switch state {
            case .STOPPED, .EXITED, .BACKOFF, .FATAL:
                if state == .FATAL { restartTimes = []; consecutiveFailures = 0; fatalRetryAt = nil }
                backoffUntil = nil
                enter(.STARTING, now)
                startedAt = now
                return [.emit(kind: "start", severity: .info, message: "starting (\(by))"), .spawn]
            case .STOPPING:
                restartAfterStop = true
                return []
            case .STARTING, .RUNNING:
                return []
            }

        case .stop(let by):
            wanted = false
            restartAfterStop = false
            backoffUntil = nil
            fatalRetryAt = nil
            switch state {
            case .STARTING where pid == nil:
                stopWhenSpawned = true
                return []
            case .STARTING, .RUNNING:
                return beginStop(now, signal: SIGTERM, message: "stopping (\(by))")
            case .BACKOFF, .FATAL, .EXITED:
                // The operator ended the failure: a later start is a start, not a recovery from it.
                downSince = nil
                enter(.STOPPED, now)
                return [.emit(kind: "stop", severity: .info, message: "stopped (\(by))")]
            case .STOPPING, .STOPPED:
                return []
            }

        case .restart(let by):
            wanted = true
            if pid != nil, state == .STARTING || state == .RUNNING {
                restartAfterStop = true
                return beginStop(now, signal: SIGTERM, message: "restarting (\(by))")
            }
            if state == .STOPPING { restartAfterStop = true; return [] }
            return handle(.start(by: by), now: now, jitterUnit: jitterUnit)

        case .spawned(let newPID):
            pid = newPID
            startedAt = now
            ready = false
            lastHeartbeat = nil
            killed = false
            failureReason = nil
            if stopWhenSpawned {
                stopWhenSpawned = false
                return beginStop(now, signal: SIGTERM, message: "stopping (requested while starting)")
            }
            if spec.ready == .spawn {
                return markReady(now)
            }
            return []

        case .spawnFailed(let reason):
            pid = nil
            stopWhenSpawned = false
            lastExit = LastExit(status: ExitStatus(code: nil, signal: nil), at: now, reason: reason)
            guard wanted else { enter(.STOPPED, now); return [] }
            return failed(now, reason: "failed to start: \(reason)", jitterUnit: jitterUnit, wasStable: false)

        case .ready:
            if state == .RUNNING, pid != nil, let since = reloadingSince {
                reloadingSince = nil
                lastHeartbeat = now
                return [.emit(kind: "reloaded", severity: .info, message: "reloaded in \((now - since).short)")]
            }
            guard state == .STARTING, pid != nil else {
                if state == .RUNNING { lastHeartbeat = now }
                return []
            }
            return markReady(now)

        case .heartbeat:
            if pid != nil { lastHeartbeat = now }
            return []

        case .stopping:
            if pid != nil { announcedStop = true }
            return []

        case .mainPID(let new):
            guard let old = pid, new != old, new > 0 else { return [] }
            pid = new
            return [.emit(kind: "mainpid", severity: .info, message: "main process is now \(new) (was \(old), MAINPID=)")]

        case .extendTimeout(let more):
            guard pid != nil, more > .zero else { return [] }
            switch state {
            case .STARTING: startExtendedTo = max(startExtendedTo ?? now, now + more)
            case .STOPPING: if let d = stopDeadline, !killed { stopDeadline = max(d, now + more) }
            default: break
            }
            return []

        case .reload(let by):
            guard pid != nil, state == .RUNNING, let sig = spec.reloadSignal else { return [] }
            reloadingSince = now
            reloadConfirmed = false
            return [.emit(kind: "reload", severity: .info, message: "reloading (\(signalName(sig)) sent, \(by))"), .signalMain(sig)]

        case .reloading:
            guard pid != nil else { return [] }
            if reloadingSince == nil {
                reloadingSince = now
                return [.emit(kind: "reload", severity: .info, message: "reloading (RELOADING=1 from the program)")]
            }
            reloadConfirmed = true
            return []

        case .watchdogInterval(let w):
            guard pid != nil else { return [] }
            watchdogOverride = w
            if lastHeartbeat != nil { lastHeartbeat = now }  // the new interval runs from now
            return [.emit(kind: "watchdog-changed", severity: .info,
                          message: w == .zero ? "watchdog turned off by the program (WATCHDOG_USEC=0)" : "watchdog interval set to \(w.short) by the program (WATCHDOG_USEC=)")]

        case .exited(let status):
            startExtendedTo = nil
            reloadingSince = nil
            watchdogOverride = nil
            let wasStable = ready && readyAt.map { now - $0 >= spec.stableAfter } == true
            // A clean exit: a code the program declares fine (`exit_ok`, default 0), or any exit after STOPPING=1.
            let clean = announcedStop || status.code.map { spec.exitOK.contains($0) } == true
            announcedStop = false
            pid = nil
            ready = false
            stopDeadline = nil
            if state == .STOPPING && failureReason == nil {
                lastExit = LastExit(status: status, at: now, reason: "stopped")
                downSince = nil
                if restartAfterStop {
                    restartAfterStop = false
                    enter(.STARTING, now)
                    startedAt = now
                    return [.emit(kind: "exit", severity: .info, message: "stopped (\(status.text)); starting again"), .spawn]
                }
                enter(.STOPPED, now)
                return [.emit(kind: "exit", severity: .info, message: "stopped (\(status.text))")]
            }
            let reason = failureReason.map { "\($0); \(status.text)" } ?? status.text
            failureReason = nil
            lastExit = LastExit(status: status, at: now, reason: reason)
            if !wanted { enter(.STOPPED, now); return [] }
            if spec.restart == .never || (spec.restart == .onFailure && clean) {
                enter(.EXITED, now)
                return [.emit(kind: "exit", severity: clean ? .info : .warning,
                              message: "exited (\(reason)\(clean ? ", clean" : "")); restart policy \(spec.restart.rawValue): not restarted")]
            }
            return failed(now, reason: reason, jitterUnit: jitterUnit, wasStable: wasStable, clean: clean)

        case .tick:
            return tick(now, jitterUnit: jitterUnit)

        case .resumedAfterPause(let gap):
            // Nothing ran while we were paused; give every timer its full interval again.
            if lastHeartbeat != nil { lastHeartbeat = now }
            if state == .STARTING, let s = startedAt { startedAt = s + gap }
            if let d = stopDeadline { stopDeadline = d + gap }
            return []

        case .limitExceeded(let reason):
            guard pid != nil, state == .RUNNING || state == .STARTING else { return [] }
            failureReason = reason
            return beginStop(now, signal: SIGTERM, message: "restarting: \(reason)", severity: .warning, kind: "limit")
        }
    }

    private mutating func markReady(_ now: MonotonicInstant) -> [ChildAction] {
        enter(.RUNNING, now)
        ready = true
        readyAt = now
        lastHeartbeat = now
        let took = startedAt.map { (now - $0).short } ?? "?"
        var actions: [ChildAction] = [.emit(kind: "ready", severity: .info, message: "ready after \(took)")]
        if let down = downSince {
            downSince = nil
            actions.append(.emit(kind: "recovered", severity: .info, message: "running again (down \((now - down.at).short))"))
        }
        return actions
    }

    private mutating func beginStop(_ now: MonotonicInstant, signal: Int32, message: String,
                                    severity: Severity = .info, kind: String = "stop") -> [ChildAction] {
        enter(.STOPPING, now)
        killed = false
        stopGrace = spec.stopTimeout
        stopDeadline = now + spec.stopTimeout
        return [.emit(kind: kind, severity: severity, message: message), .signal(signal)]
    }

    /// An exit or failed start we did not ask for: restart now, after a backoff, or go FATAL.
    /// `clean`: an exit the program meant (said as "exit", not "crash"); restarted by the same rules.
    private mutating func failed(_ now: MonotonicInstant, reason: String, jitterUnit: Double, wasStable: Bool, clean: Bool = false) -> [ChildAction] {
        let kind = clean ? "exit" : "crash", severity: Severity = clean ? .info : .warning
        let what = clean ? "exited cleanly (\(reason))" : reason
        restartTimes.append(now)
        restartTimes.removeAll { now - $0 > spec.intensity.window }
        if downSince == nil { downSince = (now, reason) }
        if RestartPolicy.exceedsIntensity(restartTimes, now: now, spec.intensity) {
            enter(.FATAL, now)
            let summary = "\(restartTimes.count) restarts within \(spec.intensity.window.short) (limit \(spec.intensity.maxRestarts)); last: \(reason)"
            if spec.critical {
                return [.emit(kind: "fatal", severity: .critical, message: "FATAL: \(summary); critical program: escalating"),
                        .escalate(reason: "\(spec.name) is FATAL: \(summary)")]
            }
            fatalRetryAt = now + spec.cooldown
            return [.emit(kind: "fatal", severity: .critical,
                          message: "FATAL: \(summary); retrying after cool-down of \(spec.cooldown.short)")]
        }
        restarts += 1
        if wasStable {
            consecutiveFailures = 0
            enter(.STARTING, now)
            startedAt = now
            return [.emit(kind: kind, severity: severity, message: "\(what); restarting at once"), .spawn]
        }
        consecutiveFailures += 1
        let delay = RestartPolicy.nextDelay(after: consecutiveFailures, spec.backoff, jitterUnit: jitterUnit)
        backoffUntil = now + delay
        enter(.BACKOFF, now)
        return [.emit(kind: kind, severity: severity,
                      message: "\(what); restart \(consecutiveFailures) in \(delay.short) (backoff)")]
    }

    /// The earliest time a `.tick` can do something (the supervisor's loop sleeps until then); nil: nothing
    /// is timed. Mirrors `tick`: a deadline passed with no action is harmless, a missed one is not.
    public func nextDeadline() -> MonotonicInstant? {
        var due: [MonotonicInstant?] = []
        switch state {
        case .STARTING:
            if pid != nil, spec.ready == .notify, let s = startedAt {
                let limit = s + spec.startTimeout + .nanoseconds(1)
                due.append(startExtendedTo.map { Swift.max($0 + .nanoseconds(1), limit) } ?? limit)
            }
        case .RUNNING:
            if consecutiveFailures > 0, let r = readyAt { due.append(r + spec.stableAfter) }
            if let since = reloadingSince { due.append(since + spec.reloadTimeout + .nanoseconds(1)) }
            if let w = watchdog, let hb = lastHeartbeat { due.append(hb + w + .nanoseconds(1)) }
        case .STOPPING: due.append(stopDeadline)
        case .BACKOFF: due.append(backoffUntil)
        case .FATAL: due.append(fatalRetryAt)
        case .STOPPED, .EXITED: break
        }
        return due.compactMap { $0 }.min()
    }

    private mutating func tick(_ now: MonotonicInstant, jitterUnit: Double) -> [ChildAction] {
        switch state {
        case .STARTING:
            if pid != nil, spec.ready == .notify, let s = startedAt, now - s > spec.startTimeout,
               startExtendedTo.map({ now > $0 }) ?? true {
                failureReason = "not ready within start_timeout \(spec.startTimeout.short)"
                return beginStop(now, signal: SIGKILL, message: "no READY=1 within \(spec.startTimeout.short); killing",
                                 severity: .warning, kind: "start-timeout")
            }
        case .RUNNING:
            if consecutiveFailures > 0, let r = readyAt, now - r >= spec.stableAfter { consecutiveFailures = 0 }
            if let since = reloadingSince, now - since > spec.reloadTimeout {
                reloadingSince = nil
                return [.emit(kind: "reload-failed", severity: .warning,
                              message: reloadConfirmed ? "reload not finished within reload_timeout \(spec.reloadTimeout.short) (RELOADING=1 without READY=1)"
                                                       : "reload not confirmed within reload_timeout \(spec.reloadTimeout.short) (no RELOADING=1 … READY=1 from the program)")]
            }
            if let w = watchdog, let hb = lastHeartbeat, now - hb > w {
                failureReason = "watchdog timeout: no WATCHDOG=1 for \((now - hb).short) (watchdog_sec \(w.short))"
                // A hung program gets 1 s to abort (and dump core), then SIGKILL, so the replacement runs within
                // watchdog_sec + 1 s whatever stop_timeout says. (A stopped one is killed at once: see `.abort`.)
                var actions = beginStop(now, signal: SIGABRT, message: failureReason!, severity: .warning, kind: "watchdog")
                actions = actions.map { $0 == .signal(SIGABRT) ? .abort : $0 }
                stopGrace = min(spec.stopTimeout, .seconds(1))
                stopDeadline = now + stopGrace
                return actions
            }
        case .STOPPING:
            if let d = stopDeadline, now >= d {
                if !killed {
                    killed = true
                    stopDeadline = now + .seconds(5)
                    return [.emit(kind: "kill", severity: .warning, message: stopGrace == spec.stopTimeout ? "did not exit within stop_timeout \(spec.stopTimeout.short); SIGKILL"
                                                                         : "did not abort within \(stopGrace.short) of SIGABRT; SIGKILL"),
                            .signal(SIGKILL)]
                }
                stopDeadline = now + .seconds(5)
                return [.emit(kind: "kill", severity: .critical, message: "still alive after SIGKILL (uninterruptible?)"), .signal(SIGKILL)]
            }
        case .BACKOFF:
            if let b = backoffUntil, now >= b {
                backoffUntil = nil
                enter(.STARTING, now)
                startedAt = now
                return [.spawn]
            }
        case .FATAL:
            if let r = fatalRetryAt, now >= r {
                fatalRetryAt = nil
                restartTimes = []
                consecutiveFailures = 0
                enter(.STARTING, now)
                startedAt = now
                return [.emit(kind: "cooldown-retry", severity: .warning, message: "cool-down over; trying again"), .spawn]
            }
        case .STOPPED, .EXITED:
            break
        }
        return []
    }
}

/// "SIGKILL", "SIGABRT", … for a signal number.
public func signalName(_ s: Int32) -> String {
    let names: [Int32: String] = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
                                  SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL",
                                  SIGSEGV: "SIGSEGV", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
                                  SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGSTOP: "SIGSTOP", SIGCONT: "SIGCONT"]
    return names[s] ?? "signal \(s)"
}

#if canImport(Glibc)
import Glibc
#endif
