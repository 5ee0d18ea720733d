// The engine process's services: the cycle loop (which alone heartbeats) and engine.sock.
import Foundation
import WardenPolymarket
public import Logging
public import ServiceLifecycle
public import WardenIPC
import WardenKit

/// Runs a cycle every `cycle`; WATCHDOG=1 and STATUS= follow each completed cycle, so a stuck cycle stops them.
public struct EngineLoopService: Service {
    let engine: TradingEngine
    let interval: Duration
    let server: IPCServer
    let logger: Logger

    /// READY=1 waits for `server` to listen, so "running" means engine.sock answers.
    public init(engine: TradingEngine, interval: Duration, server: IPCServer, logger: Logger) {
        self.engine = engine
        self.interval = interval
        self.server = server
        self.logger = logger
    }

    public func run() async throws {
        try await server.waitUntilListening()
        let bound = await engine.stallBound
        await withTaskGroup(of: Void.self) { group in
            // Beside the cycle: a stop that lands inside a cycle leaves no gap between cycles to notice.
            group.addTask { await SuspensionWatch.run(bound: bound) { gap in await engine.noticeSuspension(gap) } }
            await HeartbeatLoop.run(every: interval, logger: logger) {
                await engine.cycle()
                return await engine.statusLine()
            }
            group.cancelAll()
        }
    }
}

/// Routes engine.sock requests.
public struct EngineHandler: IPCRequestHandler {
    let engine: TradingEngine
    public init(engine: TradingEngine) { self.engine = engine }

    /// Reads run beside each other; commands in the order sent (pause then resume ends resumed, every time).
    public func ordering(of type: String) -> RequestOrdering {
        ["snapshot", "positions", "equity", "trades", "markets", "orders"].contains(type) ? .concurrent : .ordered
    }

    public func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable {
        switch frame.head.type {
        case "snapshot": return await engine.snapshot()
        case "positions": return await engine.positions()
        case "markets": return await engine.marketRows(limit: try frame.body(as: EquityRequest.self).limit)
        case "orders": return await engine.orders()
        case "equity": return try await engine.equity(limit: try frame.body(as: EquityRequest.self).limit)
        case "trades":
            let r = try frame.body(as: TradesRequest.self)
            return try await engine.trades(limit: r.limit, beforeID: r.before_id)
        case "pause":
            let r = try frame.body(as: PauseRequest.self)
            guard !r.reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw IPCError(.invalid, "a pause needs a reason") }
            try InputLimits.check(reason: r.reason, author: r.author, expiresInSeconds: r.expires_in_s)
            return await engine.pause(reason: r.reason, author: r.author, expiresIn: r.expires_in_s)
        case "resume":
            let r = try frame.body(as: AuthorRequest.self)
            try InputLimits.check(author: r.author)
            return await engine.resume(author: r.author)
        case "kill_switch":
            let r = try frame.body(as: SwitchRequest.self)
            try InputLimits.check(author: r.author)
            return await engine.killSwitch(on: r.on, author: r.author)
        case "reduce_only":
            let r = try frame.body(as: SwitchRequest.self)
            try InputLimits.check(author: r.author)
            return await engine.reduceOnly(on: r.on, author: r.author)
        case "halt_reset":
            let r = try frame.body(as: AuthorRequest.self)
            try InputLimits.check(author: r.author)
            return await engine.haltReset(author: r.author)
        case "flatten":
            let r = try frame.body(as: FlattenRequest.self)
            try InputLimits.check(author: r.author)
            if let m = r.market_id { try InputLimits.check(text: m, named: "market_id", limit: 200) }
            return await engine.flatten(marketID: r.market_id, author: r.author)
        default:
            throw IPCError(.unknownType, "unknown request `\(frame.head.type)` on engine.sock")
        }
    }
}

extension TradingEngine {
    /// Puts the newest persisted alerts back on the stream so a subscriber can resume from its stored seq.
    public func replayPersistedAlerts(retain: Int) throws {
        guard let journal else { return }
        let last = try journal.lastEventSeq(topic: EngineTopic.alerts)
        let rows = try journal.events(topic: EngineTopic.alerts, after: max(0, last - Int64(retain)), limit: retain)
        if let first = rows.first { publisher.setNextSeq(EngineTopic.alerts, UInt64(first.seq)) }
        for r in rows { publisher.publishRaw(EngineTopic.alerts, json: Data(r.payload.utf8), seq: UInt64(r.seq)) }
        if rows.isEmpty { publisher.setNextSeq(EngineTopic.alerts, UInt64(last) + 1) }
    }
}

/// Hands every notice of the market WebSocket to the engine as it arrives; stops the connections at shutdown.
public struct MarketFeedService: Service {
    let stream: MarketStream
    let engine: TradingEngine

    public init(stream: MarketStream, engine: TradingEngine) {
        self.stream = stream
        self.engine = engine
    }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await notice in stream.notices { await engine.apply(notice) }
            } onGracefulShutdown: {
                stream.stop()
            }
        } onCancel: {
            stream.stop()
        }
    }
}
