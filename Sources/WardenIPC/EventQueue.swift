// A bounded single-consumer queue whose producer waits when full, so a slow reader pushes back to the socket.
import Synchronization

/// The client's events, in order. Single consumer: iterate from one task at a time.
public struct ClientEvents: AsyncSequence, Sendable {
    public typealias Element = ClientEvent
    let queue: EventQueue
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: EventQueue
        public mutating func next() async -> ClientEvent? { await queue.next() }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: queue) }
}

final class EventQueue: Sendable {
    private struct State {
        var buffer: [ClientEvent] = []
        var head = 0
        var consumer: CheckedContinuation<ClientEvent?, Never>?
        var producers: [CheckedContinuation<Void, Never>] = []
        var finished = false
        var count: Int { buffer.count - head }
    }
    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) { self.limit = max(1, limit) }

    /// Adds an event; waits while the queue is full (the caller stops reading its socket meanwhile).
    func push(_ event: ClientEvent) async {
        let handedOver: Bool = state.withLock { s in
            if s.finished { return true }
            if let c = s.consumer {
                s.consumer = nil
                c.resume(returning: event)
                return true
            }
            s.buffer.append(event)
            return s.count < limit
        }
        if handedOver { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.finished || s.count < limit || Task.isCancelled { return true }
                    s.producers.append(c)
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                defer { s.producers = [] }
                return s.producers
            }
            waiting.forEach { $0.resume() }
        }
    }

    /// Adds an event without waiting (connection state changes); never dropped.
    func pushNow(_ event: ClientEvent) {
        let c: CheckedContinuation<ClientEvent?, Never>? = state.withLock { s in
            if s.finished { return nil }
            if let c = s.consumer { s.consumer = nil; return c }
            s.buffer.append(event)
            return nil
        }
        c?.resume(returning: event)
    }

    func finish() {
        let (c, producers) = state.withLock { s -> (CheckedContinuation<ClientEvent?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.finished = true
            defer { s.consumer = nil; s.producers = [] }
            return (s.count == 0 ? s.consumer : nil, s.producers)
        }
        c?.resume(returning: nil)
        producers.forEach { $0.resume() }
    }

    func next() async -> ClientEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<ClientEvent?, Never>) in
                let (value, ready, wake): (ClientEvent?, Bool, [CheckedContinuation<Void, Never>]) = state.withLock { s in
                    if s.count > 0 {
                        let e = s.buffer[s.head]
                        s.head += 1
                        if s.head > 1024 && s.head * 2 > s.buffer.count {
                            s.buffer.removeFirst(s.head)
                            s.head = 0
                        }
                        let w = s.count < limit ? s.producers : []
                        if !w.isEmpty { s.producers = [] }
                        return (e, true, w)
                    }
                    if s.finished || Task.isCancelled { return (nil, true, []) }
                    s.consumer = c
                    return (nil, false, [])
                }
                wake.forEach { $0.resume() }
                if ready { c.resume(returning: value) }
            }
        } onCancel: {
            let c = state.withLock { s -> CheckedContinuation<ClientEvent?, Never>? in
                defer { s.consumer = nil }
                return s.consumer
            }
            c?.resume(returning: nil)
        }
    }
}
