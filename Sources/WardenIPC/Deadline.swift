// A deadline on an async operation, kept with a NIO timer that is cancelled with the answer.
import NIOCore
import Synchronization

/// Runs `operation`; if it has not finished after `deadline`, it is cancelled and `onExpiry()` is thrown at once
/// (whether or not the operation heeds the cancellation). The timer is a NIO scheduled task, cancelled as soon as
/// the operation ends: a cancelled `Task.sleep` racing in a task group keeps its timer until the full deadline,
/// which under steady traffic held memory in proportion to the request rate × deadline.
func withDeadline<T: Sendable>(_ deadline: Duration, on eventLoop: any EventLoop, onExpiry: @escaping @Sendable () -> any Error,
                               _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = OneShot<T>()
    let work = Task {
        do { outcome.settleNow(.success(try await operation())) } catch { outcome.settleNow(.failure(error)) }
    }
    // Saturated: a deadline of years must not overflow (callers clamp it far lower anyway).
    let ns = Int64(deadline.clampedMilliseconds(limit: 86_400_000)) * 1_000_000
    let timer = eventLoop.scheduleTask(in: .nanoseconds(ns)) {
        outcome.settleNow(.failure(onExpiry()))
        work.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await outcome.value()
    } onCancel: {
        work.cancel()
    }
}

/// The first of several results wins; the waiter gets it.
final class OneShot<T: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<T, any Error>)
        case done(Result<T, any Error>)
        case delivered
    }
    private let state = Mutex(State.empty)

    func settleNow(_ r: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { s in
            switch s {
            case .empty: s = .done(r); return nil
            case .waiting(let c): s = .delivered; return c
            case .done, .delivered: return nil
            }
        }
        waiter?.resume(with: r)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let ready: Result<T, any Error>? = state.withLock { s in
                switch s {
                case .empty: s = .waiting(c); return nil
                case .done(let r): s = .delivered; return r
                case .waiting, .delivered: return .failure(IPCError(.failed, "deadline result awaited twice"))
                }
            }
            if let ready { c.resume(with: ready) }
        }
    }
}
