// A client of one Warden socket: reconnects with jittered backoff, notices a restarted peer by boot id.
import Foundation
public import Logging
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// What a client tells its user about its connection and subscriptions.
public enum ClientEvent: Sendable {
    /// Connected; `restarted` is true when the peer's boot id differs from the previous connection's.
    case connected(Hello, restarted: Bool)
    case disconnected(reason: String)
    case event(Frame)
    case gap(GapBody)
}

/// A client that keeps one connection to a socket alive while `run()` runs.
public final class IPCClient: Sendable {
    public let path: String
    public let role: String
    private let logger: Logger
    private let backoffInitial: Duration
    private let backoffMax: Duration
    /// Connection changes, events and gaps, in order. When the consumer falls behind by `eventBuffer`
    /// items the client stops reading its socket, so the server's bounded queue overflows into an
    /// announced gap instead of anything being dropped here.
    public let events: ClientEvents
    private let queue: EventQueue

    private struct State {
        var channel: (any Channel)?
        var hello: Hello?
        var previousBootID: String?
        var nextID = 1
        var pending: [Int: CheckedContinuation<Frame, any Error>] = [:]
        var subscription: SubscribeRequest?
        var lastSeq: [String: UInt64] = [:]
        var lastError: String?
        var attempts = 0
    }
    private let state = Mutex(State())

    public init(path: String, role: String, logger: Logger,
                backoffInitial: Duration = .milliseconds(100), backoffMax: Duration = .seconds(5),
                eventBuffer: Int = 10_000) {
        self.path = path
        self.role = role
        self.logger = logger
        self.backoffInitial = backoffInitial
        self.backoffMax = backoffMax
        queue = EventQueue(limit: eventBuffer)
        events = ClientEvents(queue: queue)
    }

    public var isConnected: Bool { state.withLock { $0.hello != nil } }
    public var peerHello: Hello? { state.withLock { $0.hello } }
    public var lastError: String? { state.withLock { $0.lastError } }

    /// Subscribes now (when connected) and again after every reconnect, from the last seq seen.
    public func subscribe(_ request: SubscribeRequest) {
        let channel = state.withLock { s -> (any Channel)? in
            s.subscription = request
            for (t, seq) in request.from_seq ?? [:] { s.lastSeq[t] = seq &- 1 }
            return s.hello != nil ? s.channel : nil
        }
        if let channel { sendSubscribe(on: channel) }
    }

    /// Subscribes and waits for the server to confirm; later reconnects resubscribe by themselves.
    @discardableResult
    public func subscribeConfirmed(_ request: SubscribeRequest, timeout: Duration = .seconds(10)) async throws -> SubscribeResponse {
        state.withLock { s in
            s.subscription = request
            for (t, seq) in request.from_seq ?? [:] { s.lastSeq[t] = seq &- 1 }
        }
        return try await call("subscribe", request, as: SubscribeResponse.self, timeout: timeout)
    }

    /// Keeps the connection up until cancelled, with exponential backoff and ±20 % jitter between attempts.
    public func run() async {
        var delay = backoffInitial
        while !Task.isCancelled {
            do {
                let connected = try await connectAndServe()
                if connected { delay = backoffInitial }
            } catch {
                state.withLock { $0.lastError = "\(error)" }
            }
            let (pending, reason) = state.withLock { s -> ([CheckedContinuation<Frame, any Error>], String) in
                let p = Array(s.pending.values)
                s.pending = [:]
                if s.hello != nil { s.previousBootID = s.hello?.boot_id }
                let wasConnected = s.hello != nil
                s.hello = nil
                s.channel = nil
                s.attempts += 1
                return (p, wasConnected ? (s.lastError ?? "connection closed") : "")
            }
            for c in pending { c.resume(throwing: IPCError(.disconnected, "connection to \(path) lost")) }
            if !reason.isEmpty { queue.pushNow(.disconnected(reason: reason)) }
            if Task.isCancelled { break }
            let jitter = Double.random(in: 0.8...1.2)
            try? await Task.sleep(for: delay * jitter)
            delay = min(delay * 2, backoffMax)
        }
        queue.finish()
    }

    /// One connection's life. Returns true when the handshake completed.
    private func connectAndServe() async throws -> Bool {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .connect(unixDomainSocketPath: path) { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(BoundedFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(LengthFieldPrepender(lengthFieldBitLength: .fourBytes))
                    // Frames are read in bursts: a deep inbound buffer keeps the socket read loop from stopping every
                    // ten frames (the default), while the bounded event queue still pushes back on a slow consumer.
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: ch,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 64, highWatermark: 512)))
                }
            }
        let channel = connection.channel
        state.withLock { $0.channel = channel }
        var handshook = false
        try await withTaskCancellationHandler {
            try await connection.executeThenClose { inbound, _ in
                let hello = Hello(role: role, pid: getpid(), version: wardenVersion, bootID: processBootID)
                try await channel.writeAndFlush(ByteBuffer(bytes: Frame.encode(kind: .event, type: "hello", id: nil, body: hello)))
                for try await buffer in inbound {
                    let frame = try Frame(payload: Data(buffer.readableBytesView))
                    if !handshook {
                        if frame.head.kind == .error {
                            let e = (try? frame.body(as: IPCError.self)) ?? IPCError(.failed, "refused")
                            state.withLock { $0.lastError = "\(e)" }
                            throw e
                        }
                        let peer = try frame.body(as: Hello.self)
                        handshook = true
                        let restarted = state.withLock { s -> Bool in
                            s.hello = peer
                            s.attempts = 0
                            s.lastError = nil
                            let r = s.previousBootID != nil && s.previousBootID != peer.boot_id
                            if r { for k in s.lastSeq.keys { s.lastSeq[k] = 0 } }  // new numbering: replay all it holds
                            return r
                        }
                        queue.pushNow(.connected(peer, restarted: restarted))
                        sendSubscribe(on: channel)
                        continue
                    }
                    await route(frame)
                }
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        return handshook
    }

    private func route(_ frame: Frame) async {
        switch frame.head.kind {
        case .response, .error:
            guard let id = frame.head.id else {
                if frame.head.kind == .error {
                    let e = (try? frame.body(as: IPCError.self)) ?? IPCError(.failed, "server error")
                    state.withLock { $0.lastError = "\(e)" }
                    logger.warning("server error", metadata: ["socket": "\(path)", "error": "\(e)"])
                }
                return
            }
            let c = state.withLock { $0.pending.removeValue(forKey: id) }
            c?.resume(returning: frame)
        case .event:
            if frame.head.type == "gap", let gap = try? frame.body(as: GapBody.self) {
                state.withLock { $0.lastSeq[gap.topic] = gap.to_seq }
                await queue.push(.gap(gap))
                return
            }
            if let (topic, seq) = frame.eventTopicSeq ?? (try? frame.body(as: EventSeqOnly.self)).map({ ($0.topic, $0.seq) }) {
                // An event already passed on (a replay overlapping a replaced subscription) is not passed on twice.
                let fresh = state.withLock { s -> Bool in
                    if let last = s.lastSeq[topic], seq <= last { return false }
                    s.lastSeq[topic] = seq
                    return true
                }
                if !fresh { return }
            }
            await queue.push(.event(frame))
        case .request:
            logger.warning("unexpected request from server", metadata: ["type": "\(frame.head.type)"])
        }
    }

    private struct EventSeqOnly: Decodable { var topic: String; var seq: UInt64 }

    private func sendSubscribe(on channel: any Channel) {
        let request: SubscribeRequest? = state.withLock { s in
            guard var sub = s.subscription else { return nil }
            var from: [String: UInt64] = [:]
            for t in sub.topics { if let last = s.lastSeq[t] { from[t] = last + 1 } }
            sub.from_seq = from.isEmpty ? nil : from
            return sub
        }
        guard let request else { return }
        Task {
            do {
                _ = try await self.request("subscribe", request, timeout: .seconds(5))
            } catch {
                self.logger.warning("subscribe failed", metadata: ["socket": "\(self.path)", "error": "\(error)"])
            }
        }
    }

    /// Waits until connected. With `failFast`, the first failed attempt ends the wait with its error.
    public func waitConnected(timeout: Duration, failFast: Bool = false) async throws -> Hello {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (hello, attempts, err) = state.withLock { ($0.hello, $0.attempts, $0.lastError) }
            if let hello { return hello }
            if failFast, attempts > 0 || err != nil, let err { throw IPCError(.unreachable, "\(path): \(err)") }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw IPCError(.unreachable, "\(path): not connected within \(timeout)\(lastError.map { " (\($0))" } ?? "")")
    }

    /// Sends a request and waits for its response, at most `timeout` (also sent as the server-side deadline).
    public func request<B: Encodable & Sendable>(_ type: String, _ body: B, timeout: Duration = .seconds(10)) async throws -> Frame {
        let start = ContinuousClock.now
        _ = try await waitConnected(timeout: timeout)
        guard let channel = state.withLock({ $0.channel }) else { throw IPCError(.disconnected, "\(path): not connected") }
        let remaining = timeout - (ContinuousClock.now - start)
        let id = state.withLock { s -> Int in defer { s.nextID += 1 }; return s.nextID }
        let ms = max(1, remaining.clampedMilliseconds())
        let data = try Frame.encode(kind: .request, type: type, id: id, deadlineMS: ms, body: body)
        // The timeout is cancelled with the answer: a timer left to run out would hold its closure (and the
        // request's state) for the whole timeout, which under steady traffic is memory growing with the rate.
        let timer = TimerBox()
        defer { timer.cancel() }
        let frame: Frame = try await withCheckedThrowingContinuation { c in
            state.withLock { $0.pending[id] = c }
            timer.set(channel.eventLoop.scheduleTask(in: .milliseconds(Int64(ms))) {
                let late = self.state.withLock { $0.pending.removeValue(forKey: id) }
                late?.resume(throwing: IPCError(.timeout, "\(type) on \(self.path): no answer within \(ms) ms"))
            })
            channel.writeAndFlush(ByteBuffer(bytes: data)).whenFailure { error in
                let c = self.state.withLock { $0.pending.removeValue(forKey: id) }
                c?.resume(throwing: IPCError(.disconnected, "\(type) on \(self.path): \(error)"))
            }
        }
        if frame.head.kind == .error {
            throw (try? frame.body(as: IPCError.self)) ?? IPCError(.failed, "\(type) failed")
        }
        return frame
    }

    /// Sends a request and decodes its response body as `R`.
    public func call<B: Encodable & Sendable, R: Decodable>(_ type: String, _ body: B, as: R.Type,
                                                           timeout: Duration = .seconds(10)) async throws -> R {
        try await request(type, body, timeout: timeout).body(as: R.self)
    }
}

/// A request's timeout timer, cancelled once the request ends either way.
final class TimerBox: Sendable {
    private let box = Mutex<Scheduled<Void>?>(nil)
    func set(_ s: Scheduled<Void>) { box.withLock { $0 = s } }
    func cancel() { box.withLock { $0?.cancel(); $0 = nil } }
}
