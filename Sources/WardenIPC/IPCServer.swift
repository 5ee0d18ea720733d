// A Unix stream socket server: hello handshake, peer uid check, requests with deadlines, subscriptions.
import CWardenOS
import Foundation
public import Logging
import NIOCore
import NIOExtras
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// Who is on the other end of a connection (from SO_PEERCRED).
public struct PeerInfo: Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    public var hello: Hello?
}

/// Answers requests on one socket. Return the response body; throw `IPCError` to answer with an error frame.
public protocol IPCRequestHandler: Sendable {
    func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable
    /// How a request type is scheduled on its connection (default: `.ordered`).
    func ordering(of type: String) -> RequestOrdering
}

/// Commands of one connection are handled in the order they were sent: an `.ordered` request starts once the
/// connection's previous ordered request has finished. A `.concurrent` one (a read: status, logs) starts at once
/// and runs beside everything else, so a command waiting on a hung program never holds up a status read.
public enum RequestOrdering: Sendable { case ordered, concurrent }

extension IPCRequestHandler {
    public func ordering(of type: String) -> RequestOrdering { .ordered }
}

/// Counters of one server, for status and metrics.
public struct IPCServerStats: Sendable, Codable {
    public var connections_total: UInt64 = 0
    public var connections_open: Int = 0
    public var rejected_frames_total: UInt64 = 0
    public var refused_peers_total: UInt64 = 0
    public var requests_total: UInt64 = 0
    /// Connections refused because `maxConnections` were open.
    public var connections_refused_total: UInt64 = 0
    /// Connections closed because no hello came within the bound.
    public var hello_timeouts_total: UInt64 = 0
    /// Times a connection's reading paused because it had `maxInFlightPerConnection` answers outstanding.
    public var backpressure_pauses_total: UInt64 = 0
    /// Answers that could not be sent because they exceeded the frame limit (an error frame went instead).
    public var oversize_answers_total: UInt64 = 0
}

/// Shared, thread-safe counters of one server (the status handler reads the same instance).
public final class IPCStatsCounter: Sendable {
    let box = Mutex(IPCServerStats())
    public init() {}
    public var snapshot: IPCServerStats { box.withLock { $0 } }
}

/// Serves one Unix socket. Each connection runs in its own child task; a bad peer only loses its own connection.
public final class IPCServer: Sendable {
    public let path: String
    public let role: String
    public let publisher: EventPublisher
    private let handler: any IPCRequestHandler
    private let allowedUIDs: Set<UInt32>
    private let logger: Logger
    private let queueLimit: Int
    private let counter: IPCStatsCounter
    private let limits: IPCServerLimits
    private let listening = ListeningGate()
    /// Connections that have not said hello yet, oldest first.
    private let ungreeted = UngreetedConnections()

    /// - Parameters:
    ///   - allowedUIDs: peers allowed besides our own uid and root.
    ///   - queueLimit: per-subscriber queue bound; past it the subscriber gets a gap.
    public init(path: String, role: String, handler: any IPCRequestHandler, publisher: EventPublisher,
                allowedUIDs: [UInt32] = [], queueLimit: Int = 4096, stats: IPCStatsCounter = IPCStatsCounter(),
                limits: IPCServerLimits = IPCServerLimits(), logger: Logger) {
        self.counter = stats
        self.limits = limits
        self.path = path
        self.role = role
        self.handler = handler
        self.publisher = publisher
        self.allowedUIDs = Set(allowedUIDs + [getuid(), 0])
        self.queueLimit = queueLimit
        self.logger = logger
    }

    public var stats: IPCServerStats { counter.snapshot }

    /// Returns once the socket is bound and accepting (so READY=1 can mean "serving"); throws if binding failed.
    public func waitUntilListening() async throws { try await listening.wait() }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Binds (replacing a stale socket file), then serves until the task is cancelled.
    public func run() async throws {
        do {
            try await serve()
        } catch {
            listening.fail(error)
            throw error
        }
    }

    private func serve() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 128)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { child in
                child.eventLoop.makeCompletedFuture {
                    // Outbound frames carry their length prefix from `framed` (so a batch is one buffer, one write).
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(BoundedFrameDecoder()))
                    return try Connection(wrappingChannelSynchronously: child)
                }
            }
        guard chmod(path, 0o600) == 0 else {
            try? await server.channel.close()
            throw IPCError(.failed, "chmod 0600 \(path): \(String(cString: strerror(errno)))")
        }
        logger.info("listening", metadata: ["socket": "\(path)"])
        listening.open()
        try await withTaskCancellationHandler {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onCancel: {
            server.channel.close(promise: nil)
        }
    }

    private func peer(of channel: any Channel) async -> PeerInfo? {
        guard let provider = channel as? (any SocketOptionProvider) else { return nil }
        let future: EventLoopFuture<warden_cred> = provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
        // Awaited, not `wait()`ed: a blocking wait would hold one of the few threads of Swift's executor.
        guard let cred = try? await future.get() else { return nil }
        return PeerInfo(pid: cred.pid, uid: cred.uid, gid: cred.gid)
    }

    private func send(_ channel: any Channel, _ data: Data) async throws {
        try await sendBatch(channel, [data])
    }

    /// Frames with their 4-byte big-endian length prefixes, in one buffer.
    static func framed(_ frames: [Data], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: frames.reduce(0) { $0 + 4 + $1.count })
        for d in frames {
            buffer.writeInteger(UInt32(d.count), endianness: .big)
            buffer.writeBytes(d)
        }
        return buffer
    }

    private func sendError(_ channel: any Channel, id: Int?, _ error: IPCError) async {
        if let data = try? Frame.encode(kind: .error, type: "error", id: id, body: error) {
            try? await send(channel, data)
        }
    }

    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        // At the cap, a new connection takes the place of the oldest one that has not said hello yet (a flood of
        // silent connections cannot lock the operator out); only when every open one has said hello is it refused.
        let ticket = ungreeted.add(channel)
        defer { ungreeted.remove(ticket) }
        let admitted = counter.box.withLock { c -> Bool in
            c.connections_total += 1
            if c.connections_open < limits.maxConnections { c.connections_open += 1; return true }
            return false
        }
        var evicted: (any Channel)?
        if !admitted { evicted = ungreeted.oldest(other: ticket) }
        if let evicted {
            counter.box.withLock { $0.connections_refused_total += 1; $0.connections_open += 1 }
            logger.warning("connection cap reached: closing the oldest connection that never said hello", metadata: ["socket": "\(path)"])
            evicted.close(promise: nil)
        } else if !admitted {
            counter.box.withLock { $0.connections_refused_total += 1 }
            logger.warning("connection refused: too many open", metadata: ["socket": "\(path)", "limit": "\(limits.maxConnections)"])
            await sendError(channel, id: nil, IPCError(.failed, "too many connections on \(role).sock (limit \(limits.maxConnections))"))
            try? await channel.close()
            return
        }
        defer { counter.box.withLock { $0.connections_open -= 1 } }
        // A peer that connects and never says hello is closed after the bound (it holds an fd and a task).
        let helloTimer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(limits.helloTimeout.clampedMilliseconds(limit: 3_600_000)))) {
            [counter, logger, path, ungreeted] in
            guard ungreeted.contains(ticket) else { return }  // greeted meanwhile (the cancel can race the timer)
            counter.box.withLock { $0.hello_timeouts_total += 1 }
            logger.warning("no hello within the bound; connection closed", metadata: ["socket": "\(path)"])
            channel.close(promise: nil)
        }
        defer { helloTimer.cancel() }
        // SO_PEERCRED is read on the channel's event loop.
        guard var peer = await peer(of: channel) else {
            counter.box.withLock { $0.refused_peers_total += 1 }
            logger.warning("could not read the peer's credentials (SO_PEERCRED); connection refused", metadata: ["socket": "\(path)"])
            try? await channel.close()
            return
        }
        guard allowedUIDs.contains(peer.uid) else {
            counter.box.withLock { $0.refused_peers_total += 1 }
            logger.warning("refused peer", metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)", "socket": "\(path)"])
            await sendError(channel, id: nil, IPCError(.forbidden, "uid \(peer.uid) is not allowed on \(role).sock"))
            try? await channel.close()
            return
        }
        do {
            try await connection.executeThenClose { inbound, _ in
                let hello = Hello(role: role, pid: getpid(), version: wardenVersion, bootID: processBootID)
                try await send(channel, Frame.encode(kind: .event, type: "hello", id: nil, body: hello))
                try await withThrowingDiscardingTaskGroup { group in
                    var iterator = inbound.makeAsyncIterator()
                    // Bounded answers outstanding, and the order of commands (see `RequestOrdering`).
                    let slots = AsyncSlots(limits.maxInFlightPerConnection)
                    var lastCommand: Completion?
                    // One subscription per connection: a new subscribe replaces the last one.
                    var subscription: (queue: SubscriberQueue, delivered: DeliveredSeqs)?
                    defer { subscription?.queue.close() }
                    while true {
                        let buffer: ByteBuffer?
                        do {
                            buffer = try await iterator.next()
                        } catch is CancellationError {
                            break  // the server is shutting down: not the peer's fault, nothing to count
                        } catch let e as IOError {
                            // The peer went away (reset, broken pipe): the connection ends; it sent no bad frame.
                            logger.debug("connection ended by the peer", metadata: ["error": "\(e)"])
                            break
                        } catch {
                            let e = (error as? IPCError) ?? IPCError(.badFrame, "\(error)")
                            await reject(channel, e)
                            break
                        }
                        guard let buffer else { break }
                        let frame: Frame
                        do {
                            frame = try Frame(payload: Data(buffer.readableBytesView))
                        } catch {
                            await reject(channel, (error as? IPCError) ?? IPCError(.badFrame, "\(error)"))
                            break
                        }
                        if peer.hello == nil {
                            guard frame.head.type == "hello", let h = try? frame.body(as: Hello.self) else {
                                await reject(channel, IPCError(.notHello, "the first frame must be hello, got \(frame.head.type)"))
                                break
                            }
                            peer.hello = h
                            ungreeted.remove(ticket)
                            helloTimer.cancel()
                            continue
                        }
                        guard frame.head.kind == .request else {
                            await reject(channel, IPCError(.badFrame, "expected a request, got \(frame.head.kind.rawValue)"))
                            break
                        }
                        counter.box.withLock { $0.requests_total += 1 }
                        if frame.head.type == "subscribe" {
                            let req: SubscribeRequest
                            do { req = try frame.body(as: SubscribeRequest.self) } catch {
                                await sendError(channel, id: frame.head.id, (error as? IPCError) ?? IPCError(.badFrame, "\(error)"))
                                continue
                            }
                            var pinned = req.from_seq ?? [:]
                            if let old = subscription {
                                // The replaced subscription stops; what it had not yet sent is replayed from the ring
                                // (a topic the request does not pin continues after the last seq sent to this peer).
                                old.queue.close()
                                for (t, seq) in old.delivered.snapshot where req.topics.contains(t) && pinned[t] == nil { pinned[t] = seq + 1 }
                            }
                            let from = pinned.isEmpty ? nil : pinned
                            let (queue, next) = publisher.subscribe(topics: req.topics, fromSeq: from, queueLimit: queueLimit)
                            try await send(channel, Frame.encode(kind: .response, type: "subscribe", id: frame.head.id,
                                                                 body: SubscribeResponse(next_seq: next)))
                            var last: [String: UInt64] = [:]
                            for t in req.topics {
                                // A from_seq beyond what this publisher has issued means it restarted its numbering.
                                let live = next[t]! - 1
                                last[t] = (from?[t]).map { min(max($0, 1) - 1, live) } ?? live
                            }
                            let delivered = DeliveredSeqs(last)
                            subscription = (queue, delivered)
                            group.addTask {
                                defer { queue.close() }
                                try await self.pump(queue, to: channel, delivered: delivered)
                            }
                            continue
                        }
                        // Wait for a free slot before reading on: a peer that never reads its answers stops here.
                        if !slots.tryAcquire() {
                            counter.box.withLock { $0.backpressure_pauses_total += 1 }
                            guard await slots.acquire() else { break }
                        }
                        let p = peer
                        let ordered = handler.ordering(of: frame.head.type) == .ordered
                        let after = ordered ? lastCommand : nil
                        let done = Completion()
                        if ordered { lastCommand = done }
                        group.addTask {
                            await after?.wait()
                            await self.answer(frame, peer: p, channel: channel)
                            done.signal()
                            slots.release()
                        }
                    }
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func reject(_ channel: any Channel, _ error: IPCError) async {
        counter.box.withLock { $0.rejected_frames_total += 1 }
        logger.warning("rejected frame; closing connection", metadata: ["socket": "\(path)", "reason": "\(error)"])
        await sendError(channel, id: nil, error)
        try? await channel.close()
    }

    private func answer(_ frame: Frame, peer: PeerInfo, channel: any Channel) async {
        let id = frame.head.id
        let deadline = frame.head.deadline(defaultMS: 30_000)
        do {
            let type = frame.head.type
            let encoded = try await withDeadline(deadline, on: channel.eventLoop,
                                                 onExpiry: { IPCError(.deadline, "\(type) did not finish within \(deadline)") }) {
                // Encoded inside: the handler's answer need not be Sendable across the hand-over.
                try Frame.encode(kind: .response, type: type, id: id, body: AnyEncodable(try await self.handler.handle(frame, peer: peer)))
            }
            try await send(channel, encoded)
        } catch let e as IPCError {
            if e.code == .oversize {
                // The answer could not be framed (Frame.encode refuses it): the peer is told, and it is counted.
                counter.box.withLock { $0.oversize_answers_total += 1 }
                logger.error("answer too large to send", metadata: ["socket": "\(path)", "type": "\(frame.head.type)", "error": "\(e.message)"])
            }
            await sendError(channel, id: id, e)
        } catch {
            await sendError(channel, id: id, IPCError(.failed, "\(error)"))
        }
    }

    /// Sends a subscriber's queue in order, announcing every hole in the seq as a gap. What is queued is
    /// written in batches with one flush each, so a busy topic costs a syscall per batch, not per event.
    private func pump(_ queue: SubscriberQueue, to channel: any Channel, delivered: DeliveredSeqs) async throws {
        var last = delivered.snapshot
        while true {
            let items = await queue.nextBatch(max: 512)
            if items.isEmpty { return }
            var out: [Data] = []
            out.reserveCapacity(items.count)
            for item in items {
                switch item {
                case .gap(let gap):
                    out.append(try Frame.encode(kind: .event, type: "gap", id: nil, body: gap))
                    last[gap.topic] = gap.to_seq
                case .event(let topic, let seq, let payload):
                    let prev = last[topic] ?? (seq - 1)
                    if seq <= prev { continue }  // already covered by replay
                    if seq > prev + 1 {
                        let gap = GapBody(topic: topic, from_seq: prev + 1, to_seq: seq - 1,
                                          reason: "subscriber queue overflowed (slow reader)")
                        out.append(try Frame.encode(kind: .event, type: "gap", id: nil, body: gap))
                    }
                    out.append(payload)
                    last[topic] = seq
                }
            }
            try await sendBatch(channel, out)
            delivered.set(last)
        }
    }

    /// Writes frames in order with one write and one flush; returns when they are handed to the kernel.
    private func sendBatch(_ channel: any Channel, _ frames: [Data]) async throws {
        guard !frames.isEmpty else { return }
        try await channel.writeAndFlush(Self.framed(frames, allocator: channel.allocator))
    }
}

/// The last seq a subscription sent per topic (read when the peer subscribes again on the same connection).
final class DeliveredSeqs: Sendable {
    private let box: Mutex<[String: UInt64]>
    init(_ initial: [String: UInt64]) { box = Mutex(initial) }
    var snapshot: [String: UInt64] { box.withLock { $0 } }
    func set(_ seqs: [String: UInt64]) { box.withLock { $0 = seqs } }
}

/// Type-erased Encodable for handler results.
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// Runs an `IPCServer` as a Service until graceful shutdown; closing the listener then is not a failure.
public struct IPCServerService: Service {
    let server: IPCServer
    public init(server: IPCServer) { self.server = server }
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await server.run() }
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            throw error
        }
    }
}

/// A one-shot gate: waiters resume when it opens, or throw when it fails.
final class ListeningGate: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Void, any Error>])
        case open
        case failed(any Error)
    }
    private let state = Mutex(State.waiting([]))

    func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error>? = state.withLock { s in
                switch s {
                case .waiting(var list):
                    list.append(c)
                    s = .waiting(list)
                    return nil
                case .open: return .success(())
                case .failed(let e): return .failure(e)
                }
            }
            if let outcome { c.resume(with: outcome) }
        }
    }

    func open() { settle(.success(())) }
    func fail(_ error: any Error) { settle(.failure(error)) }

    private func settle(_ outcome: Result<Void, any Error>) {
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { s in
            guard case .waiting(let list) = s else { return [] }
            switch outcome {
            case .success: s = .open
            case .failure(let e): s = .failed(e)
            }
            return list
        }
        for w in waiters { w.resume(with: outcome) }
    }
}

/// Open connections that have not said hello yet, in the order they came.
final class UngreetedConnections: Sendable {
    private let state = Mutex((next: 0, list: [(id: Int, channel: any Channel)]()))

    func add(_ channel: any Channel) -> Int {
        state.withLock { s in
            defer { s.next += 1 }
            s.list.append((s.next, channel))
            return s.next
        }
    }

    func remove(_ id: Int) { state.withLock { $0.list.removeAll { $0.id == id } } }

    func contains(_ id: Int) -> Bool { state.withLock { $0.list.contains { $0.id == id } } }

    /// Takes the oldest one other than `id` off the list.
    func oldest(other id: Int) -> (any Channel)? {
        state.withLock { s in
            guard let i = s.list.firstIndex(where: { $0.id != id }) else { return nil }
            return s.list.remove(at: i).channel
        }
    }
}
