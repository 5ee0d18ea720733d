// The CLOB market channel over WebSocket (hummingbird-project's WSClient; TLS through NIOSSL with certificates
// verified): shards of at most `assets_per_connection` assets, `PING` every `ping_interval`, reconnects with
// seed 004's jittered backoff. It only delivers: what the deltas mean (and whether they are trusted yet) is the
// engine's decision.
public import Foundation
public import WardenPolymarket
public import Logging
import NIOCore
import Synchronization
import WSClient
import WardenKit
import NIOWebSocket

/// Seed 004's reconnect knobs.
public struct ReconnectPolicy: Sendable, Equatable {
    public var base: Duration
    public var multiplier: Double
    public var cap: Duration
    /// ± this fraction of the delay, at random.
    public var jitter: Double
    public var maxAttempts: Int
    public var stableAfter: Duration

    public init(_ s: WebSocketSettings) {
        base = s.reconnectBase; multiplier = s.reconnectMultiplier; cap = s.reconnectCap; jitter = s.reconnectJitter
        maxAttempts = s.reconnectMaxAttempts; stableAfter = s.stableAfter
    }

    /// The wait before attempt `attempt` (1 = the first retry): base × multiplier^(attempt−1), at most the cap,
    /// then moved by up to ± jitter (`unit` is a random number in [0, 1)).
    public func delay(attempt: Int, unit: Double) -> Duration {
        let raw = base.seconds * pow(multiplier, Double(max(0, min(attempt - 1, 60))))
        let capped = min(raw, cap.seconds)
        let moved = capped * (1 + jitter * (2 * unit - 1))
        return .milliseconds(Int64(max(0, moved) * 1000))
    }
}

/// What the stream tells its consumer, in the order it happened.
public enum StreamNotice: Sendable {
    case events(shard: Int, [MarketChannelEvent], rejected: [Rejection], at: Date)
    /// Subscribed on a new connection: nothing these assets missed meanwhile is replayed.
    case connected(shard: Int, assets: [String], at: Date, recovered: Bool)
    case disconnected(shard: Int, reason: String, attempt: Int, retryIn: Duration)
    /// `max_attempts` failed in a row; attempts go on at the cap.
    case gaveUp(shard: Int, attempts: Int, reason: String)
}

/// One connection as status shows it.
public struct ShardSnapshot: Sendable, Equatable {
    public enum State: String, Sendable { case connecting, connected, waiting, stopped }
    public var id: Int
    public var assets: Int
    public var state: State
    public var connectedAt: Date?
    /// Our observation time of the last event with data, and of the last frame of any kind (PONG included).
    public var lastDataAt: Date?
    public var lastFrameAt: Date?
    public var reconnects: Int
    /// Failed attempts in a row.
    public var attempts: Int
    public var gaveUp: Bool
    public var lastError: String?
    public var tokens: [String]
}

public final class MarketStream: Sendable {
    public struct Settings: Sendable {
        public var url: String
        public var assetsPerConnection: Int
        public var pingInterval: Duration
        public var customFeatures: Bool
        public var reconnect: ReconnectPolicy
        /// Bound on the TCP connect plus the WebSocket upgrade.
        public var connectTimeout: Duration
        public init(_ e: EngineSettings) {
            url = e.wsURL; assetsPerConnection = e.ws.assetsPerConnection; pingInterval = e.ws.pingInterval
            customFeatures = e.ws.customFeatures; reconnect = ReconnectPolicy(e.ws); connectTimeout = e.connectTimeout
        }
    }

    private final class Shard: Sendable {
        let id: Int
        let state: Mutex<ShardSnapshot>
        /// Asks the live connection to close (a freeze, a shard emptied, stop).
        let closeRequests: Mutex<AsyncStream<String>.Continuation?> = Mutex(nil)
        let task: Mutex<Task<Void, Never>?> = Mutex(nil)
        init(id: Int, tokens: [String]) {
            self.id = id
            state = Mutex(ShardSnapshot(id: id, assets: tokens.count, state: .connecting, reconnects: 0, attempts: 0,
                                        gaveUp: false, tokens: tokens))
        }
    }

    private struct Registry: Sendable {
        var shards: [Int: Shard] = [:]
        var nextID = 1
        var stopped = false
    }

    public let notices: AsyncStream<StreamNotice>
    private let sink: AsyncStream<StreamNotice>.Continuation
    private let settings: Settings
    private let logger: Logger
    private let registry = Mutex(Registry())

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        // Unbounded: the consumer (the engine) applies every event; a bounded buffer would drop deltas silently.
        (notices, sink) = AsyncStream.makeStream(of: StreamNotice.self)
    }

    public var url: String { settings.url }

    /// Follows exactly `tokens`: shards whose tokens all left are closed; tokens not yet followed get new shards
    /// of at most `assets_per_connection` (there is no unsubscribe upstream: a running shard is never resized,
    /// tokens dropped from it are simply no longer asked for by the engine).
    public func follow(_ tokens: Set<String>) {
        var toStart: [Shard] = []
        var toClose: [Shard] = []
        registry.withLock { r in
            guard !r.stopped else { return }
            var followed = Set<String>()
            for (id, shard) in r.shards {
                let kept = shard.state.withLock { s -> [String] in
                    s.tokens = s.tokens.filter { tokens.contains($0) }
                    s.assets = s.tokens.count
                    return s.tokens
                }
                if kept.isEmpty {
                    toClose.append(shard)
                    r.shards[id] = nil
                } else {
                    followed.formUnion(kept)
                }
            }
            let fresh = tokens.subtracting(followed).sorted()
            var start = 0
            while start < fresh.count {
                let chunk = Array(fresh[start..<min(start + settings.assetsPerConnection, fresh.count)])
                start += chunk.count
                let shard = Shard(id: r.nextID, tokens: chunk)
                r.nextID += 1
                r.shards[shard.id] = shard
                toStart.append(shard)
            }
        }
        for s in toClose { close(s, reason: "its markets are no longer followed", stop: true) }
        for s in toStart { start(s) }
    }

    /// Closes one connection so it reconnects (a frozen feed); counted as a reconnect.
    public func recycle(shard id: Int, reason: String) {
        guard let s = registry.withLock({ $0.shards[id] }) else { return }
        close(s, reason: reason, stop: false)
    }

    public func snapshot() -> [ShardSnapshot] {
        registry.withLock { r in r.shards.values.map { $0.state.withLock { $0 } } }.sorted { $0.id < $1.id }
    }

    public func stop() {
        let all = registry.withLock { r -> [Shard] in
            r.stopped = true
            defer { r.shards = [:] }
            return Array(r.shards.values)
        }
        for s in all { close(s, reason: "engine stopping", stop: true) }
        sink.finish()
    }

    private func close(_ shard: Shard, reason: String, stop: Bool) {
        if stop {
            shard.state.withLock { $0.state = .stopped }
            shard.task.withLock { $0?.cancel() }
        }
        _ = shard.closeRequests.withLock { $0?.yield(reason) }
    }

    private func start(_ shard: Shard) {
        let task = Task { [self] in await self.run(shard) }
        shard.task.withLock { $0 = task }
    }

    // MARK: - One shard's life

    private func run(_ shard: Shard) async {
        var attempt = 0
        var gaveUp = false
        while !Task.isCancelled && shard.state.withLock({ $0.state != .stopped }) {
            let tokens = shard.state.withLock { s -> [String] in
                s.state = .connecting
                return s.tokens
            }
            guard !tokens.isEmpty else { return }
            let outcome = await connectOnce(shard, tokens: tokens, recovered: gaveUp)
            if shard.state.withLock({ $0.state == .stopped }) || Task.isCancelled { return }
            if let up = outcome.connectedFor, up >= settings.reconnect.stableAfter {
                attempt = 0
            }
            if outcome.connectedFor != nil {
                gaveUp = false
            }
            attempt += 1
            let wait = settings.reconnect.delay(attempt: attempt, unit: Double.random(in: 0..<1))
            shard.state.withLock { s in
                s.state = .waiting
                s.connectedAt = nil
                s.reconnects += 1
                s.attempts = attempt
                s.lastError = outcome.reason
                if attempt > settings.reconnect.maxAttempts { s.gaveUp = true }
            }
            sink.yield(.disconnected(shard: shard.id, reason: outcome.reason, attempt: attempt, retryIn: wait))
            if attempt > settings.reconnect.maxAttempts && !gaveUp {
                gaveUp = true
                sink.yield(.gaveUp(shard: shard.id, attempts: attempt - 1, reason: outcome.reason))
            }
            try? await Task.sleep(for: wait)
        }
    }

    /// What the tasks of one connection share.
    private final class ConnectionFlags: Sendable {
        let upAt = Mutex<ContinuousClock.Instant?>(nil)
        let closedBecause = Mutex<String?>(nil)
        let abandoned = Mutex(false)
    }

    private struct Outcome: Sendable {
        var reason: String
        /// How long the connection was up (nil: it never was).
        var connectedFor: Duration?
    }

    /// One connection, from the TCP connect to its end. The upgrade is bounded by `connectTimeout`: the client
    /// has no bound of its own there, so a server that accepts and never answers is abandoned (and closed when the
    /// late connection comes up).
    private func connectOnce(_ shard: Shard, tokens: [String], recovered: Bool) async -> Outcome {
        let (closeStream, closeCont) = AsyncStream.makeStream(of: String.self)
        shard.closeRequests.withLock { $0 = closeCont }
        defer { shard.closeRequests.withLock { $0 = nil } }
        let flags = ConnectionFlags()
        let (ended, endCont) = AsyncStream.makeStream(of: String.self)
        let subscription = MarketChannelParser.subscription(tokens, customFeatures: settings.customFeatures)
        let url = settings.url, ping = settings.pingInterval, timeout = settings.connectTimeout
        let logger = self.logger, sink = self.sink
        let connection = Task {
            let config = WebSocketClientConfiguration(maxFrameSize: 1 << 24, closeTimeout: .seconds(5))
            do {
                let frame = try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { inbound, outbound, _ in
                    if flags.abandoned.withLock({ $0 }) {
                        try await outbound.close(.goingAway, reason: "connect timed out")
                        return
                    }
                    let at = Date()
                    flags.upAt.withLock { $0 = .now }
                    shard.state.withLock { s in
                        s.state = .connected
                        s.connectedAt = at
                        s.attempts = 0
                        s.gaveUp = false
                        s.lastError = nil
                    }
                    try await outbound.writeTextMessage(subscription)
                    sink.yield(.connected(shard: shard.id, assets: tokens, at: at, recovered: recovered))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            // PING as text every interval (the server answers PONG), and closes on request.
                            try await withThrowingTaskGroup(of: Void.self) { inner in
                                inner.addTask {
                                    while !Task.isCancelled {
                                        try await Task.sleep(for: ping)
                                        try await outbound.writeTextMessage("PING")
                                    }
                                }
                                inner.addTask {
                                    for await reason in closeStream {
                                        flags.closedBecause.withLock { $0 = reason }
                                        try await outbound.close(.goingAway, reason: String(reason.prefix(100)))
                                        return
                                    }
                                }
                                try await inner.next()
                                inner.cancelAll()
                            }
                        }
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 24) {
                                guard case .text(let text) = message else { continue }
                                let now = Date()
                                let parsed = MarketChannelParser.parse(text, observedAt: now)
                                shard.state.withLock { s in
                                    s.lastFrameAt = now
                                    if !parsed.events.isEmpty { s.lastDataAt = now }
                                }
                                if !parsed.events.isEmpty || !parsed.rejected.isEmpty {
                                    sink.yield(.events(shard: shard.id, parsed.events, rejected: parsed.rejected, at: now))
                                }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                }
                let why = flags.closedBecause.withLock { $0 } ?? frame.map { "closed by the server (\($0.closeCode))\($0.reason.map { ": \($0)" } ?? "")" } ?? "closed"
                endCont.yield(why)
            } catch {
                endCont.yield(flags.closedBecause.withLock { $0 } ?? "\(error)")
            }
            endCont.finish()
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if flags.upAt.withLock({ $0 }) == nil && !Task.isCancelled {
                flags.abandoned.withLock { $0 = true }
                endCont.yield("no WebSocket connection within \(timeout)")
            }
        }
        var reason = "closed"
        for await r in ended {
            reason = r
            break
        }
        timer.cancel()
        if flags.abandoned.withLock({ $0 }) { connection.cancel() }
        let up = flags.upAt.withLock { $0 }.map { ContinuousClock.now - $0 }
        logger.warning("market WebSocket \(shard.id) (\(tokens.count) assets): \(reason)")
        return Outcome(reason: WireLimits.clip(reason, WireLimits.text), connectedFor: up)
    }
}
