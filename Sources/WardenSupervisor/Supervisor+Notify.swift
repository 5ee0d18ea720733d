// The sd_notify protocol (sd_notify(3)): what a message means (`NotifyProtocol`, pure), and whose it is and what
// it does (the supervisor's side: ownership by main pid, MAINPID= hand-over, notify_access, the fd store).
import CWardenOS
import Foundation
import WardenKit
import Logging

/// What one message's fields mean for its program's state machine, in the order they apply.
public struct NotifyMeaning: Sendable, Equatable {
    /// EXTEND_TIMEOUT_USEC= and WATCHDOG_USEC=: applied before the rest, so a READY=1 in the same message
    /// already runs under the new watchdog interval.
    public var timers: [ChildEvent] = []
    /// STOPPING=1 (which wins over everything after it), RELOADING=1, READY=1, WATCHDOG=1 / trigger.
    public var events: [ChildEvent] = []
    /// STATUS= (kept to 16 KiB) and ERRNO=.
    public var status: String?
    public var errno: Int32?
}

public enum NotifyProtocol {
    /// Longest interval a message may set (a day): larger values are taken as a day, not overflowed.
    static let maxMicroseconds: UInt64 = 86_400_000_000

    public static func read(_ f: [String: String]) -> NotifyMeaning {
        var m = NotifyMeaning()
        if let us = f["EXTEND_TIMEOUT_USEC"].flatMap({ UInt64($0) }) { m.timers.append(.extendTimeout(.microseconds(Int64(min(us, maxMicroseconds))))) }
        if let us = f["WATCHDOG_USEC"].flatMap({ UInt64($0) }) { m.timers.append(.watchdogInterval(.microseconds(Int64(min(us, maxMicroseconds))))) }
        m.status = f["STATUS"].map { String($0.prefix(16 * 1024)) }
        m.errno = f["ERRNO"].flatMap { Int32($0) }
        if f["STOPPING"] == "1" { m.events = [.stopping]; return m }
        if f["RELOADING"] == "1" { m.events.append(.reloading) }
        if f["READY"] == "1" { m.events.append(.ready) }
        if f["WATCHDOG"] == "1" { m.events.append(.heartbeat) }
        if f["WATCHDOG"] == "trigger" { m.events.append(.limitExceeded(reason: "the program triggered its own watchdog")) }
        return m
    }
}

extension Supervisor {
    /// A datagram arrived on notify.sock. Only a program's main pid is listened to.
    public func notified(_ message: NotifyMessage) {
        progress.enter("notify from \(message.pid)")
        defer { progress.leave() }
        if let name = preStartPIDs[message.pid], let rt = programs[name], rt.machine.spec.notifyAccess != .main {
            // notify_access: exec — a pre_start may say what it is doing (STATUS=, shown while it runs); the rest
            // of its message has no process to act on yet.
            message.closeFDs()
            if let text = message.fields["STATUS"] { programs[name]?.statusText = String(text.prefix(16 * 1024)) }
            return
        }
        var owner = pidToProgram[message.pid]
        // Whose process sent it, read now (a short-lived sender may be gone when the message is judged).
        let sender = owner == nil ? containment.program(of: message.pid) : owner
        if owner == nil, let name = sender, let rt = programs[name], rt.machine.spec.notifyAccess == .all, rt.machine.pid != nil {
            owner = name  // notify_access: all — any process of the program speaks for it
        }
        guard let name = owner, var rt = programs[name] else {
            if pendingNotify.count >= 256 { let e = pendingNotify.removeFirst(); expireNotify(e.message, program: e.program) }
            pendingNotify.append((message, MonotonicInstant.now(), sender))
            return
        }
        let f = message.fields
        takeStoredFDs(message, program: name)
        if let text = f["MAINPID"], let new = Int32(text), new > 0, new != rt.machine.pid {
            // Only a process of this program may become its main process (systemd requires it in the unit too).
            if containment.program(of: new) == name, let old = rt.machine.pid {
                pidToProgram[old] = nil
                pidToProgram[new] = name
                feed(name, .mainPID(new))
                rt = programs[name] ?? rt
                settlePendingNotify(registered: new)  // what the new main said before this message arrived
            } else {
                record(kind: "notify-rejected", severity: .warning, program: name,
                       message: "MAINPID=\(new) refused: that process is not one of \(name)'s")
            }
        }
        let meaning = NotifyProtocol.read(f)
        for event in meaning.timers { feed(name, event) }
        rt = programs[name] ?? rt
        if let status = meaning.status { rt.statusText = status }
        if let e = meaning.errno { rt.lastErrno = e }
        programs[name] = rt
        for event in meaning.events { feed(name, event) }
    }

    func expireNotify(_ message: NotifyMessage, program: String?) {
        message.closeFDs()
        notifyRejected += 1
        logger.warning("notify message from a pid that is no program's main pid; ignored",
                       metadata: ["pid": "\(message.pid)", "keys": "\(message.fields.keys.sorted().joined(separator: ","))"])
        noteRejectedNotify("from pid \(message.pid)\(program.map { " (a process of \($0); notify_access: all would accept it)" } ?? "") with \(message.fields.keys.sorted().joined(separator: ", ")): not a program's main process", program: program)
    }

    /// FDSTORE=1 keeps the passed fds (up to `fd_store_max`), FDSTOREREMOVE=1 drops those named FDNAME=; fds
    /// passed otherwise, or past the room, are closed and said.
    func takeStoredFDs(_ message: NotifyMessage, program name: String) {
        let f = message.fields
        let fdName = f["FDNAME"] ?? "stored"
        if f["FDSTOREREMOVE"] == "1" {
            message.closeFDs()
            guard let n = held[name]?.remove(name: fdName), n > 0 else { return }
            record(kind: "fd-store", severity: .info, program: name, message: "removed \(n) stored fd\(n == 1 ? "" : "s") named \(fdName)")
            return
        }
        guard !message.fds.isEmpty else { return }
        guard f["FDSTORE"] == "1", HeldDescriptors.validName(fdName), let spec = programs[name]?.machine.spec else {
            message.closeFDs()
            noteRejectedNotify("from \(name): \(message.fds.count) fd\(message.fds.count == 1 ? "" : "s") "
                + (f["FDSTORE"] != "1" ? "passed without FDSTORE=1" : "with an invalid FDNAME (1…255 printable characters, no colon)")
                + "; closed", program: name)
            return
        }
        let refused = held[name, default: HeldDescriptors()].store(message.fds, name: fdName, max: spec.fdStoreMax)
        let kept = held[name]?.stored.count ?? 0
        if refused > 0 {
            record(kind: "notify-rejected", severity: .warning, program: name,
                   message: "FDSTORE=1: \(refused) fd\(refused == 1 ? "" : "s") named \(fdName) closed: the store is full (fd_store_max: \(spec.fdStoreMax)\(spec.fdStoreMax == 0 ? ", the default: set it to let \(name) store fds" : ""))")
        }
        if message.fds.count > refused {
            record(kind: "fd-store", severity: .info, program: name,
                   message: "stored fds named \(fdName); \(kept) held, passed back at its next start")
        }
    }

    /// Rejected notify messages as an event, at most one a minute with the count since the last.
    func noteRejectedNotify(_ what: String, program: String?) {
        rejectedSinceEvent += 1
        let now = MonotonicInstant.now()
        if let last = lastRejectedEvent, now - last < .seconds(60) { return }
        lastRejectedEvent = now
        record(kind: "notify-rejected", severity: .warning, program: program,
               message: "\(rejectedSinceEvent) notify message\(rejectedSinceEvent == 1 ? "" : "s") rejected; the last \(what)")
        rejectedSinceEvent = 0
    }

    /// Replays held messages of a pid that just became a program's main pid; expires old ones.
    func settlePendingNotify(registered pid: Int32? = nil, now: MonotonicInstant = .now()) {
        guard !pendingNotify.isEmpty else { return }
        var keep: [(message: NotifyMessage, at: MonotonicInstant, program: String?)] = []
        var replay: [NotifyMessage] = []
        for entry in pendingNotify {
            if entry.message.pid == pid { replay.append(entry.message) }
            else if now - entry.at > .seconds(2) { expireNotify(entry.message, program: entry.program) }
            else { keep.append(entry) }
        }
        pendingNotify = keep
        for m in replay { notified(m) }
    }

    public func notifyRejected(_ why: NotifyRejection, pid: Int32?) {
        notifyRejected += 1
        logger.warning("dropped notify datagram", metadata: ["reason": "\(why.rawValue)", "pid": "\(pid.map(String.init) ?? "?")"])
        noteRejectedNotify("from pid \(pid.map(String.init) ?? "?"): \(why.rawValue)", program: pid.flatMap { containment.program(of: $0) })
    }

}
