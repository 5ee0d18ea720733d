// Loopback fakes of the Telegram Bot API and of Slack/Discord/plain webhooks, answering as EXTERNAL-APIS.md
// describes (429 with retry_after, 401/403, "message is too long", 204 from Discord), recording every message
// they accepted so tests can count deliveries. Faults are set at run time through POST /admin/fault.
public import Foundation
import Synchronization

public final class AlertChannelFake: Sendable {
    /// Fault modes; `clear` resets them.
    public struct Faults: Sendable, Equatable {
        public var down = false
        public var slowMS = 0
        /// Answer 429 to the next `rateLimitCount` messages (0: none) with this retry_after in seconds.
        public var rateLimitCount = 0
        public var retryAfter: Double = 1
        /// 401 (bad token), 403 (bot blocked), 404 (unknown webhook), 500.
        public var status: Int?
        public init() {}
    }

    /// One message accepted, as the fake saw it.
    public struct Received: Sendable, Equatable {
        public var path: String
        public var text: String
        public var at: Date
    }

    private struct State {
        var faults = Faults()
        var received: [Received] = []
        var refused = 0
    }
    private let state = Mutex(State())
    private let server: LoopbackHTTPServer
    /// The bot token the Telegram fake accepts; any other is 401.
    public let token: String
    public static let telegramLimit = 4096

    private init(server: LoopbackHTTPServer, token: String) {
        self.server = server
        self.token = token
    }

    public var baseURL: String { server.baseURL }
    public var port: Int { server.port }
    /// Webhook URLs on this fake.
    public var slackURL: String { baseURL + "/hooks/slack" }
    public var discordURL: String { baseURL + "/hooks/discord" }
    public var jsonURL: String { baseURL + "/hooks/json" }

    public static func start(port: Int = 0, token: String = "123456:TEST-TOKEN") async throws -> AlertChannelFake {
        let holder = Holder()
        let server = try await LoopbackHTTPServer.start(port: port) { req in await holder.handle(req) }
        let fake = AlertChannelFake(server: server, token: token)
        holder.fake.withLock { $0 = fake }
        return fake
    }

    public func stop() async { await server.stop() }

    public var received: [Received] { state.withLock { $0.received } }
    public var refusedCount: Int { state.withLock { $0.refused } }
    public func setFaults(_ f: Faults) { state.withLock { $0.faults = f } }

    fileprivate func handle(_ req: FakeRequest) -> FakeAction {
        if req.path == "/admin/fault" { return admin(req) }
        if req.path == "/admin/received" {
            let list = state.withLock { $0.received.map { ["path": $0.path, "text": $0.text, "at": $0.at.timeIntervalSince1970] as [String: Any] } }
            return .respond(.jsonValue(list))
        }
        let (faults, limited) = state.withLock { s -> (Faults, Bool) in
            let limited = s.faults.rateLimitCount > 0
            if limited { s.faults.rateLimitCount -= 1; s.refused += 1 }
            return (s.faults, limited)
        }
        if faults.down { return .reset }
        let response = route(req, faults: faults, limited: limited)
        return faults.slowMS > 0 ? .delayed(.milliseconds(faults.slowMS), response) : .respond(response)
    }

    private func refuse() { state.withLock { $0.refused += 1 } }

    private func route(_ req: FakeRequest, faults: Faults, limited: Bool) -> FakeResponse {
        let body = (try? JSONSerialization.jsonObject(with: req.body) as? [String: Any]) ?? [:]
        if req.path.hasPrefix("/bot") {
            let rest = req.path.dropFirst(4)
            guard let slash = rest.firstIndex(of: "/") else { return telegramError(404, "Not Found") }
            let tok = String(rest[..<slash]), method = String(rest[rest.index(after: slash)...])
            if let status = faults.status { refuse(); return telegramError(status, status == 403 ? "Forbidden: bot was blocked by the user" : status == 401 ? "Unauthorized" : "Internal Server Error") }
            guard tok == token else { refuse(); return telegramError(401, "Unauthorized") }
            switch method {
            case "getMe":
                return .jsonValue(["ok": true, "result": ["id": 123456, "is_bot": true, "first_name": "Warden test bot", "username": "warden_test_bot"]])
            case "sendMessage":
                if limited {
                    let after = Int(faults.retryAfter.rounded(.up))
                    return .jsonValue(["ok": false, "error_code": 429, "description": "Too Many Requests: retry after \(after)",
                                       "parameters": ["retry_after": after]], status: 429, headers: [("Retry-After", String(after))])
                }
                guard body["chat_id"] != nil else { refuse(); return telegramError(400, "Bad Request: chat not found") }
                guard let text = body["text"] as? String, !text.isEmpty else { refuse(); return telegramError(400, "Bad Request: message text is empty") }
                guard text.count <= Self.telegramLimit else { refuse(); return telegramError(400, "Bad Request: message is too long") }
                record(req.path, text)
                return .jsonValue(["ok": true, "result": ["message_id": received.count, "date": Int(Date().timeIntervalSince1970), "text": text]])
            default:
                return telegramError(404, "Not Found")
            }
        }
        switch req.path {
        case "/hooks/slack":
            if let status = faults.status { refuse(); return .text(status == 404 ? "no_service" : "invalid_token", status: status) }
            if limited { return FakeResponse(status: 429, headers: [("Retry-After", String(Int(faults.retryAfter.rounded(.up))))], body: Data("rate_limited".utf8)) }
            guard let text = body["text"] as? String else { refuse(); return .text("invalid_payload", status: 400) }
            record(req.path, text)
            return .text("ok")
        case "/hooks/discord":
            if let status = faults.status { refuse(); return .json(#"{"message":"Unknown Webhook","code":10015}"#, status: status) }
            if limited {
                return .jsonValue(["message": "You are being rate limited.", "retry_after": faults.retryAfter, "global": false], status: 429,
                                  headers: [("Retry-After", String(Int(faults.retryAfter.rounded(.up))))])
            }
            guard let text = body["content"] as? String else { refuse(); return .json(#"{"message":"Cannot send an empty message","code":50006}"#, status: 400) }
            guard text.count <= 2000 else { refuse(); return .json(#"{"content":["Must be 2000 or fewer in length."]}"#, status: 400) }
            record(req.path, text)
            return FakeResponse(status: 204)
        case "/hooks/json":
            if let status = faults.status { refuse(); return .json(#"{"error":"refused"}"#, status: status) }
            if limited { return .json(#"{"error":"slow down"}"#, status: 429, headers: [("Retry-After", String(Int(faults.retryAfter.rounded(.up))))]) }
            guard let text = body["text"] as? String else { refuse(); return .json(#"{"error":"text required"}"#, status: 400) }
            record(req.path, text)
            return .json(#"{"ok":true}"#)
        default:
            return .json(#"{"error":"not found"}"#, status: 404)
        }
    }

    private func telegramError(_ code: Int, _ description: String) -> FakeResponse {
        .jsonValue(["ok": false, "error_code": code, "description": description], status: code)
    }

    private func record(_ path: String, _ text: String) {
        state.withLock { $0.received.append(Received(path: path, text: text, at: Date())) }
    }

    private func admin(_ req: FakeRequest) -> FakeAction {
        let body = (try? JSONSerialization.jsonObject(with: req.body) as? [String: Any]) ?? [:]
        guard let mode = body["mode"] as? String else { return .respond(.json(#"{"error":"mode required"}"#, status: 400)) }
        let ok: Bool = state.withLock { s in
            switch mode {
            case "clear": s.faults = Faults()
            case "down": s.faults.down = true
            case "slow": s.faults.slowMS = (body["ms"] as? Int) ?? 5000
            case "rate_limit":
                s.faults.rateLimitCount = (body["count"] as? Int) ?? 1
                s.faults.retryAfter = (body["retry_after"] as? Double) ?? 1
            case "status": s.faults.status = (body["status"] as? Int) ?? 401
            default: return false
            }
            return true
        }
        return .respond(ok ? .json(#"{"ok":true}"#) : .json(#"{"error":"unknown mode"}"#, status: 400))
    }
}

private final class Holder: Sendable {
    let fake = Mutex<AlertChannelFake?>(nil)
    func handle(_ req: FakeRequest) async -> FakeAction {
        guard let f = fake.withLock({ $0 }) else { return .respond(.json(#"{"error":"starting"}"#, status: 503)) }
        return f.handle(req)
    }
}
