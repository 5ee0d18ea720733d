// What the dashboard knows and how it knows it: links to control.sock, engine.sock and notifier.sock (it owns no
// data), when each last answered, and the live fan-out of their streams to browsers (SSE), which never waits
// for a slow browser.
public import Foundation
public import Logging
import Synchronization
public import WardenIPC
import WardenKit

public final class Hub: Sendable {
    public let control: IPCClient
    public let engine: IPCClient
    public let notifier: IPCClient
    let logger: Logger

    /// Per link: since when it has not answered (nil while it answers).
    private let downSince = Mutex<[String: Date]>([:])
    private let clients = Mutex<[UUID: SSEClient]>([:])
    public static let perClientBuffer = 512

    public init(runtimeDir: String, logger: Logger) {
        control = IPCClient(path: runtimeDir + "/control.sock", role: "dashboard", logger: logger, backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        engine = IPCClient(path: runtimeDir + "/engine.sock", role: "dashboard", logger: logger, backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        notifier = IPCClient(path: runtimeDir + "/notifier.sock", role: "dashboard", logger: logger, backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        self.logger = logger
    }

    /// Records whether a link answered; returns since when it has been down (nil when up).
    @discardableResult
    public func mark(_ link: String, up: Bool, now: Date = Date()) -> Date? {
        downSince.withLock { d in
            if up { d[link] = nil; return nil }
            if d[link] == nil { d[link] = now }
            return d[link]
        }
    }

    public func since(_ link: String) -> Date? { downSince.withLock { $0[link] } }

    /// A status answer with its JSON, and when it was asked for.
    public struct StatusAnswer: Sendable {
        public let value: StatusResponse?
        public let json: String?
        let at: ContinuousClock.Instant
    }
    /// How long one status answer serves every request that comes (each figure inside carries its own age).
    public static let statusMaxAge: Duration = .milliseconds(200)
    private let statusCache = Mutex<StatusAnswer?>(nil)
    private let statusInFlight = Mutex<Task<StatusAnswer, Never>?>(nil)
    /// Bumped by `invalidateStatus`: an answer asked for before it is neither cached nor shared after it.
    private let statusGeneration = Mutex(0)

    /// `status` from the supervisor (with the engine and notifier inside), or nil with the link marked down.
    public func status() async -> StatusResponse? { await statusAnswer().value }

    /// The status, asked of the supervisor at most once per `statusMaxAge` however many pages, API calls and
    /// scrapes want it: concurrent requests share one round trip through the three sockets.
    public func statusAnswer() async -> StatusAnswer {
        if let c = statusCache.withLock({ $0 }), ContinuousClock.now - c.at < Self.statusMaxAge { return c }
        let task = statusInFlight.withLock { t -> Task<StatusAnswer, Never> in
            if let t { return t }
            let fresh = Task { await self.fetchStatus() }
            t = fresh
            return fresh
        }
        let answer = await task.value
        statusInFlight.withLock { if $0 == task { $0 = nil } }
        return answer
    }

    /// Forgets the cached status (after an operator action, whose effect the next page must show).
    public func invalidateStatus() {
        statusGeneration.withLock { $0 += 1 }
        statusCache.withLock { $0 = nil }
        statusInFlight.withLock { $0 = nil }
    }

    private func fetchStatus() async -> StatusAnswer {
        let at = ContinuousClock.now
        let generation = statusGeneration.withLock { $0 }
        let answer: StatusAnswer
        do {
            let s = try await control.call("status", Empty(), as: StatusResponse.self, timeout: .seconds(3))
            mark("supervisor", up: true)
            // A program that is not configured is neither up nor down: no banner for it.
            if let e = s.engine { mark("engine", up: e.reachable) }
            if let n = s.notifier { mark("notifier", up: n.reachable && n.error == nil) }
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            let json: String
            do {
                json = String(decoding: try e.encode(s), as: UTF8.self)
            } catch {
                logger.error("status could not be encoded as JSON: \(error)")
                json = #"{"error":"status could not be encoded as JSON (see the dashboard's log)"}"#
            }
            answer = StatusAnswer(value: s, json: json, at: at)
        } catch {
            mark("supervisor", up: false)
            answer = StatusAnswer(value: nil, json: nil, at: at)
        }
        if statusGeneration.withLock({ $0 }) == generation { statusCache.withLock { $0 = answer } }
        return answer
    }

    // MARK: - Live streams

    final class SSEClient: Sendable {
        let continuation: AsyncStream<String>.Continuation
        let session: String
        /// Set when the buffer overflowed; the next message this client gets is a gap notice.
        let lost = Mutex(0)
        init(_ c: AsyncStream<String>.Continuation, session: String) { continuation = c; self.session = session }
    }

    /// A new browser stream of `session`: bounded; when it falls behind it loses the oldest and is told so.
    public func subscribe(session: String = "") -> (UUID, AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.perClientBuffer))
        let client = SSEClient(continuation, session: session)
        clients.withLock { $0[id] = client }
        continuation.onTermination = { [weak self] _ in self?.clients.withLock { _ = $0.removeValue(forKey: id) } }
        return (id, stream)
    }

    public var clientCount: Int { clients.withLock { $0.count } }

    public func streamCount(session: String) -> Int { clients.withLock { $0.values.filter { $0.session == session }.count } }

    /// Ends the live streams of a session (at logout: a stream must not outlive its login).
    public func closeStreams(session: String) {
        let list = clients.withLock { $0.values.filter { $0.session == session } }
        for c in list { c.continuation.finish() }
    }

    /// Ends every live stream (at shutdown, so an open tab does not hold the server until SIGKILL).
    public func closeAllStreams() {
        let list = clients.withLock { Array($0.values) }
        for c in list { c.continuation.finish() }
    }

    /// Sends one SSE message to every browser; never waits.
    public func broadcast(event: String, data: String) {
        let list = clients.withLock { Array($0.values) }
        for c in list {
            let missed = c.lost.withLock { n -> Int in defer { n = 0 }; return n }
            if missed > 0 {
                _ = c.continuation.yield(Self.frame("gap", #"{"reason":"this page fell behind","lost":\#(missed)}"#))
            }
            if case .dropped = c.continuation.yield(Self.frame(event, data)) { c.lost.withLock { $0 += 1 } }
        }
    }

    static func frame(_ event: String, _ data: String) -> String {
        "event: \(event)\ndata: \(data.replacingOccurrences(of: "\n", with: " "))\n\n"
    }

    /// Feeds engine activity, trades and state, and the supervisor's lifecycle events, to the browsers.
    /// With no topics it only follows the link's state (its events must be read, or the link stops reading).
    public func pump(_ link: IPCClient, name: String, topics: [String]) async {
        if !topics.isEmpty { link.subscribe(SubscribeRequest(topics: topics)) }
        for await item in link.events {
            switch item {
            case .connected: mark(name, up: true); broadcast(event: "link", data: #"{"link":"\#(name)","up":true}"#)
            case .disconnected(let why):
                let since = mark(name, up: false) ?? Date()
                broadcast(event: "link", data: #"{"link":"\#(name)","up":false,"since":"\#(isoString(since))","why":\#(Self.json(why))}"#)
            case .gap(let g):
                broadcast(event: "gap", data: #"{"topic":"\#(g.topic)","from":\#(g.from_seq),"to":\#(g.to_seq),"reason":\#(Self.json(g.reason))}"#)
            case .event(let frame):
                guard let body = try? JSONSerialization.jsonObject(with: frame.raw) as? [String: Any],
                      let inner = body["body"] as? [String: Any], let topic = inner["topic"] as? String,
                      let data = try? JSONSerialization.data(withJSONObject: inner, options: [.sortedKeys]) else {
                    logger.warning("unreadable event from \(name) skipped")
                    continue
                }
                broadcast(event: name == "supervisor" ? "lifecycle" : topic, data: String(decoding: data, as: UTF8.self))
            }
        }
    }

    static func json(_ s: String) -> String {
        (try? String(decoding: JSONSerialization.data(withJSONObject: [s], options: []), as: UTF8.self).dropFirst().dropLast()).map(String.init) ?? "\"\""
    }
}
