// What one socket server will take from its peers: connections, requests in flight, deadlines, time to say hello.
import Synchronization

/// The bounds of one `IPCServer`. A peer past them is told why (an error frame) and counted; the server and its
/// other peers are unaffected.
public struct IPCServerLimits: Sendable {
    /// Connections open at once; one more is answered "too many connections" and closed.
    public var maxConnections: Int = 256
    /// Requests of one connection being handled or waiting to be written back. Past it the server stops reading
    /// that connection until an answer has gone out, so a peer that sends and never reads holds at most this
    /// many answers in memory (and then only fills its own socket buffer).
    public var maxInFlightPerConnection: Int = 32
    /// Time a new connection has to send its hello frame.
    public var helloTimeout: Duration = .seconds(10)

    public init() {}

    /// The longest deadline a request may ask for (10 minutes); a larger or absurd `deadline_ms` is clamped.
    public static let maxDeadlineMS = 600_000
}

extension EnvelopeHead {
    /// The request's deadline: `deadline_ms` (or `defaultMS`) clamped to 1 ms … `IPCServerLimits.maxDeadlineMS`.
    public func deadline(defaultMS: Int) -> Duration {
        .milliseconds(Self.clampDeadline(deadline_ms ?? defaultMS))
    }

    static func clampDeadline(_ ms: Int) -> Int { min(max(ms, 1), IPCServerLimits.maxDeadlineMS) }
}

extension Duration {
    /// Whole milliseconds, saturated to 0 … `limit` (never traps, whatever the duration).
    public func clampedMilliseconds(limit: Int = IPCServerLimits.maxDeadlineMS) -> Int {
        let (s, atto) = components
        if s < 0 { return 0 }
        if s >= Int64(limit / 1000) + 1 { return limit }
        return min(limit, Int(s) * 1000 + Int(atto / 1_000_000_000_000_000))
    }
}

/// A counting gate with waiters resumed in order; a waiting task that is cancelled stops waiting at once.
final class AsyncSlots: Sendable {
    private struct State {
        var free: Int
        var waiters: [(id: Int, c: CheckedContinuation<Bool, Never>)] = []
        var nextID = 0
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: max(1, count))) }

    /// Takes a slot if one is free now.
    func tryAcquire() -> Bool {
        state.withLock { s in
            guard s.free > 0, s.waiters.isEmpty else { return false }
            s.free -= 1
            return true
        }
    }

    /// Takes a slot; false when the task was cancelled while waiting (no slot taken).
    func acquire() async -> Bool {
        let id = state.withLock { s -> Int in defer { s.nextID += 1 }; return s.nextID }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { s in
                    if Task.isCancelled { return false }
                    if s.free > 0 && s.waiters.isEmpty { s.free -= 1; return true }
                    s.waiters.append((id, c))
                    return nil
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i).c
            }
            c?.resume(returning: false)
        }
    }

    func release() {
        let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if s.waiters.isEmpty { s.free += 1; return nil }
            return s.waiters.removeFirst().c
        }
        c?.resume(returning: true)
    }
}

/// Signalled once when a request has finished; the next ordered request of its connection waits for it.
final class Completion: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init() {}

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func signal() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.done else { return [] }
            s.done = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

/// Bounds on operator text where it enters (a request body): everything stored or published from it stays
/// far below the frame limit.
public enum InputLimits {
    public static let reason = 500
    public static let author = 200
    public static let message = 4000
    /// The longest pause expiry accepted (30 days).
    public static let maxPauseSeconds: Double = 30 * 86_400

    /// Throws `.invalid` naming the field when `text` is longer than `limit` characters.
    public static func check(text: String, named field: String, limit: Int) throws {
        let n = text.count
        guard n <= limit else { throw IPCError(.invalid, "\(field) is \(n) characters long; at most \(limit) are accepted") }
    }

    public static func check(reason: String? = nil, author: String, expiresInSeconds: Double? = nil) throws {
        if let reason { try check(text: reason, named: "the reason", limit: Self.reason) }
        try check(text: author, named: "the author", limit: Self.author)
        if let e = expiresInSeconds {
            guard e.isFinite, e > 0, e <= maxPauseSeconds else {
                throw IPCError(.invalid, "expires_in_s \(e) is outside 0 … \(Int(maxPauseSeconds)) seconds")
            }
        }
    }
}
