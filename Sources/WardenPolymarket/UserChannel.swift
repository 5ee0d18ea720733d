// The CLOB user channel (`/ws/user`): order and trade events of our account as they happen. Nothing is replayed after
// a disconnect, so the channel is a hint, never the record: an event makes the engine reconcile at once (orders and
// trades read back over REST, booked once), and every (re)connect is followed by a reconciliation, so nothing that
// happened while it was down is missed. A connection silent past three pings (no PONG) is frozen: closed and
// reconnected with backoff.
public import Foundation
public import Logging
import NIOWebSocket
import Synchronization
import WardenKit

import WSClient

public final class UserChannel: Sendable {
    public enum Notice: Sendable {
        /// Subscribed; `reconnect` when it was up before (what happened meanwhile must be re-read).
        case connected(reconnect: Bool)
        /// An order or trade event of the account (its kind and the order id it names).
        case event(kind: String, orderID: String?)
        /// The connection ended (dropped, frozen, refused); reconnecting.
        case dropped(String)
    }

    public struct Status: Sendable {
        public var connected = false
        public var lastFrameAt: Date?
        public var connects = 0
        public var lastError: String?
    }

    let url: String
    let subscription: String
    let ping: Duration
    let logger: Logger
    public let notices: AsyncStream<Notice>
    let sink: AsyncStream<Notice>.Continuation
    let state = Mutex(Status())

    public init(url: String, credentials: ClobCredentials, ping: Duration = .seconds(10), logger: Logger) {
        self.url = url
        self.ping = ping
        self.logger = logger
        let body: [String: Any] = ["auth": ["apiKey": credentials.apiKey, "secret": credentials.secret, "passphrase": credentials.passphrase],
                                   "markets": [String](), "type": "user"]
        subscription = String(decoding: (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        (notices, sink) = AsyncStream.makeStream(of: Notice.self)
    }

    public var status: Status { state.withLock { $0 } }

    /// Connects and reconnects (1 s doubling to 30 s) until cancelled.
    public func run() async {
        var delay: Duration = .seconds(1)
        while !Task.isCancelled {
            let reason = await connectOnce()
            state.withLock { $0.connected = false; $0.lastError = reason }
            sink.yield(.dropped(reason))
            guard (try? await Task.sleep(for: delay)) != nil else { break }
            delay = min(delay * 2, .seconds(30))
            if state.withLock({ $0.lastFrameAt.map { Date().timeIntervalSince($0) < 60 } ?? false }) { delay = .seconds(1) }
        }
        sink.finish()
    }

    /// One connection: subscribe, PING every interval, read events; ends (with why) when it drops or freezes.
    func connectOnce() async -> String {
        let config = WebSocketClientConfiguration(maxFrameSize: 1 << 22, closeTimeout: .seconds(2))
        let (subscription, ping, sink) = (self.subscription, self.ping, self.sink)
        let frozen = FrozenFlag()
        do {
            _ = try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { inbound, outbound, _ in
                // Up once the venue answers something (the PONG to a first PING, or an event): a connection that is
                // accepted and then says nothing is not "connected".
                try await outbound.writeTextMessage(subscription)
                try await outbound.writeTextMessage("PING")
                let opened = Date()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: ping)
                            let last = max(opened, frozen.lastFrame.withLock { $0 } ?? opened)
                            let silent = Date().timeIntervalSince(last)
                            if silent > 3 * ping.seconds {
                                frozen.reason.withLock { $0 = String(format: "frozen: nothing (not even PONG) for %.0f s", silent) }
                                try await outbound.close(.goingAway, reason: "frozen")
                                return
                            }
                            try await outbound.writeTextMessage("PING")
                        }
                    }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 1 << 22) {
                            guard case .text(let text) = message else { continue }
                            let now = Date()
                            let first = frozen.lastFrame.withLock { f -> Bool in defer { f = now }; return f == nil }
                            let reconnect = self.state.withLock { s -> Bool in
                                s.lastFrameAt = now
                                guard first else { return false }
                                s.connects += 1
                                s.connected = true
                                s.lastError = nil
                                return s.connects > 1
                            }
                            if first { sink.yield(.connected(reconnect: reconnect)) }
                            for e in UserChannelParser.events(text) { sink.yield(.event(kind: e.kind, orderID: e.orderID)) }
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
            return frozen.reason.withLock { $0 } ?? "closed by the venue"
        } catch {
            return frozen.reason.withLock { $0 } ?? "\(error)"
        }
    }
}

/// Why a connection was closed by us (frozen), shared by its tasks.
final class FrozenFlag: Sendable {
    let reason = Mutex<String?>(nil)
    /// The last frame of this connection (nil: none yet, not confirmed up).
    let lastFrame = Mutex<Date?>(nil)
}

/// The user channel's messages: an event object or a list of them; `event_type` order or trade, the order id it names.
public enum UserChannelParser {
    public static func events(_ text: String) -> [(kind: String, orderID: String?)] {
        guard text != "PONG", let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return [] }
        let list = (json as? [[String: Any]]) ?? ((json as? [String: Any]).map { [$0] } ?? [])
        return list.compactMap { e in
            guard let kind = e["event_type"] as? String, kind == "order" || kind == "trade" else { return nil }
            return (kind, (e["taker_order_id"] as? String) ?? (e["id"] as? String))
        }
    }
}
