// The supervisor's loop sleeps until the machines' next deadline instead of polling: the decisions must be
// the same as a loop that polls every 10 ms. And the sd_notify interpreter, message by message.
import Foundation
import Testing
import WardenKit
@testable import WardenSupervisor

private func t(_ seconds: Double) -> MonotonicInstant { MonotonicInstant(nanoseconds: UInt64(seconds * 1e9) + 1_000_000_000) }
private func seconds(_ m: MonotonicInstant) -> Double { Double(m.nanoseconds - 1_000_000_000) / 1e9 }

/// A scripted program answering the machine's actions: spawned 10 ms after a spawn, exited 200 ms after a
/// signal; ready at 100 ms and heartbeating every 500 ms until `hangAt` (then silent); the first `neverReady`
/// starts never say READY=1. Returns the emitted event kinds with their times.
private func drive(polling: Bool, until end: Double = 120) -> [(kind: String, at: Double)] {
    var s = ProgramSpec(name: "p", command: ["/bin/true"])
    s.watchdogSec = .seconds(2); s.startTimeout = .seconds(3); s.stableAfter = .seconds(10)
    s.backoff.jitter = 0; s.backoff.initial = .milliseconds(700); s.stopTimeout = .seconds(4)
    s.intensity.maxRestarts = 3; s.intensity.window = .seconds(30); s.cooldown = .seconds(20)
    var m = ChildStateMachine(spec: s, now: t(0))
    var pending: [(at: Double, event: ChildEvent)] = []
    var emitted: [(String, Double)] = []
    var starts = 0, hangAt = 6.0
    func apply(_ actions: [ChildAction], at now: Double) {
        for a in actions {
            switch a {
            case .spawn:
                starts += 1
                pending.append((now + 0.01, .spawned(pid: Int32(100 + starts))))
                if starts > 2 {  // from the third start on: ready, heartbeats until it hangs 6 s later
                    pending.append((now + 0.1, .ready))
                    hangAt = now + 6
                    var hb = now + 0.5
                    while hb < hangAt { pending.append((hb, .heartbeat)); hb += 0.5 }
                }
            case .signal(let sig):
                // The first start ignores TERM-like signals (SIGKILL at stop_timeout); later ones exit.
                if sig == SIGKILL || starts > 1 { pending.append((now + 0.2, .exited(.killed(sig)))) }
            case .abort: if starts % 2 == 1 { pending.append((now + 0.2, .exited(.killed(SIGABRT)))) }  // even starts hang on: SIGKILL
            case .emit(let kind, _, _): emitted.append((kind, now))
            case .signalMain, .escalate: break
            }
        }
    }
    apply(m.handle(.start(by: "test"), now: t(0), jitterUnit: 0), at: 0)
    var now = 0.0
    while now < end {
        let nextEvent = pending.map(\.at).min() ?? .infinity
        if polling {
            now = min(now + 0.01, nextEvent)
        } else {
            now = min(nextEvent, m.nextDeadline().map(seconds) ?? .infinity, end)
        }
        pending.sort { $0.at < $1.at }
        while let first = pending.first, first.at <= now {
            pending.removeFirst()
            apply(m.handle(first.event, now: t(first.at), jitterUnit: 0), at: first.at)
        }
        apply(m.handle(.tick, now: t(now), jitterUnit: 0), at: now)
    }
    return emitted.map { (kind: $0.0, at: $0.1) }
}

@Suite("The supervisor's loop sleeps until the next deadline")
struct LoopDeadlineTests {
    @Test("ticking only at nextDeadline() takes the same decisions, within a poll period, as ticking every 10 ms (start timeout, SIGKILL, backoff, watchdog, stable reset, FATAL, cool-down)")
    func sameDecisions() {
        let polled = drive(polling: true), slept = drive(polling: false)
        #expect(polled.map(\.kind) == slept.map(\.kind), "\(polled.map(\.kind)) vs \(slept.map(\.kind))")
        // Polling acts up to a period late at each deadline, and later steps follow from it: the deadline-driven
        // run is never later, and ahead by at most a period per decision so far.
        for (i, (a, b)) in zip(polled, slept).enumerated() {
            #expect(b.at <= a.at + 1e-6 && a.at - b.at <= 0.0101 * Double(i + 1), "\(a.kind): polled at \(a.at), slept at \(b.at)")
        }
        for kind in ["start-timeout", "kill", "watchdog", "ready", "fatal", "cooldown-retry"] {
            #expect(polled.contains { $0.kind == kind }, "the scenario exercises \(kind): \(polled.map(\.kind))")
        }
    }

    @Test("nothing timed, no deadline: a stopped program never wakes the loop")
    func idle() {
        let m = ChildStateMachine(spec: ProgramSpec(name: "p", command: ["/bin/true"]), now: t(0))
        #expect(m.nextDeadline() == nil)
    }
}

@Suite("sd_notify messages")
struct NotifyProtocolUnitTests {
    @Test("timers apply before the rest; STATUS kept to 16 KiB; ERRNO read; WATCHDOG=trigger is a limit")
    func meaning() {
        let m = NotifyProtocol.read(["READY": "1", "WATCHDOG_USEC": "5000000", "EXTEND_TIMEOUT_USEC": "99999999999999",
                                     "STATUS": String(repeating: "x", count: 20_000), "ERRNO": "28", "WATCHDOG": "trigger"])
        #expect(m.timers == [.extendTimeout(.seconds(86_400)), .watchdogInterval(.seconds(5))])
        #expect(m.events == [.ready, .limitExceeded(reason: "the program triggered its own watchdog")])
        #expect(m.status?.count == 16 * 1024)
        #expect(m.errno == 28)
    }

    @Test("STOPPING=1 wins over READY=1 and heartbeats in the same message")
    func stoppingWins() {
        #expect(NotifyProtocol.read(["STOPPING": "1", "READY": "1", "WATCHDOG": "1"]).events == [.stopping])
        #expect(NotifyProtocol.read(["RELOADING": "1", "MONOTONIC_USEC": "1"]).events == [.reloading])
        #expect(NotifyProtocol.read(["WATCHDOG_USEC": "abc", "READY": "0"]) == NotifyMeaning())
    }
}
