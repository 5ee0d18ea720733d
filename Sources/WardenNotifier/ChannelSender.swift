// Sends one message to one channel (Telegram Bot API, Slack/Discord/JSON webhook, the log) and says what the
// channel answered, in the terms the delivery loop acts on. Secrets never leave this file in a message.
public import Foundation
public import Logging
public import WardenHTTP
import WardenKit

/// What a channel made of a message.
public enum SendOutcome: Equatable, Sendable {
    case sent
    /// 429: wait this long (the channel's own figure).
    case rateLimited(after: Double, detail: String)
    /// Worth retrying with backoff: 5xx, timeout, connection trouble.
    case transient(String)
    /// The channel cannot work until fixed: bad token, blocked bot, unknown webhook, missing credential.
    case channelBroken(String)
    /// The message is too long for the channel.
    case tooLong(String)
    /// This message is refused for good (other 4xx).
    case refused(String)
}

public struct ChannelSender: Sendable {
    let channel: ChannelSettings
    let http: HTTPClient
    let timeout: Duration
    let connectTimeout: Duration
    let logger: Logger
    let environment: [String: String]

    public init(channel: ChannelSettings, http: HTTPClient, timeout: Duration, connectTimeout: Duration, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.channel = channel; self.http = http; self.timeout = timeout; self.connectTimeout = connectTimeout
        self.logger = logger; self.environment = environment
    }

    func secret(_ name: String) -> String? { Credentials.value(name, environment: environment) }

    /// Removes every configured secret from a text before it is stored or shown.
    func scrub(_ text: String) -> String {
        let secrets = [channel.tokenCredential, channel.chatCredential, channel.urlCredential].compactMap { name in
            secret(name).map { (name: name, value: $0) }
        }
        return Redaction.redact(text, secrets: secrets)
    }

    public func send(_ text: String, severity: String) async -> SendOutcome {
        let body = NoiseControl.cut(text, to: channel.maxLength)
        switch channel.kind {
        case .log:
            switch AlertSeverity(rawValue: severity) ?? .warning {
            case .critical: logger.critical("\(body)", metadata: ["channel": "\(channel.name)"])
            case .warning: logger.warning("\(body)", metadata: ["channel": "\(channel.name)"])
            case .info: logger.info("\(body)", metadata: ["channel": "\(channel.name)"])
            }
            return .sent
        case .telegram:
            guard let token = secret(channel.tokenCredential) else {
                return .channelBroken("no bot token: put it in \(Credentials.whereToPut(channel.tokenCredential))")
            }
            guard let chat = secret(channel.chatCredential) else {
                return .channelBroken("no chat id: put it in \(Credentials.whereToPut(channel.chatCredential))")
            }
            var payload: [String: Any] = ["text": body, "disable_notification": severity == AlertSeverity.info.rawValue]
            payload["chat_id"] = Int64(chat).map { $0 as Any } ?? chat
            return await post(channel.apiURL + "/bot\(token)/sendMessage", payload, expectTelegramOK: true)
        case .webhook:
            guard let url = secret(channel.urlCredential) else {
                return .channelBroken("no webhook URL: put it in \(Credentials.whereToPut(channel.urlCredential))")
            }
            let payload: [String: Any]
            switch channel.format {
            case .slack: payload = ["text": body]
            case .discord: payload = ["content": body]
            case .json: payload = ["text": body, "severity": severity, "source": "warden"]
            }
            return await post(url, payload, expectTelegramOK: false)
        }
    }

    /// `getMe` for Telegram (is the token valid?); for a webhook only that its URL is configured.
    public func check() async -> SendOutcome {
        switch channel.kind {
        case .log: return .sent
        case .webhook:
            return secret(channel.urlCredential) == nil
                ? .channelBroken("no webhook URL: put it in \(Credentials.whereToPut(channel.urlCredential))") : .sent
        case .telegram:
            guard let token = secret(channel.tokenCredential) else {
                return .channelBroken("no bot token: put it in \(Credentials.whereToPut(channel.tokenCredential))")
            }
            if secret(channel.chatCredential) == nil {
                return .channelBroken("no chat id: put it in \(Credentials.whereToPut(channel.chatCredential))")
            }
            let req = HTTPRequest(method: "GET", url: channel.apiURL + "/bot\(token)/getMe", connectTimeout: connectTimeout, timeout: timeout)
            return await perform(req, expectTelegramOK: true)
        }
    }

    private func post(_ url: String, _ payload: [String: Any], expectTelegramOK: Bool) async -> SendOutcome {
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]) } catch {
            return .refused("cannot encode the message: \(error)")
        }
        let req = HTTPRequest(method: "POST", url: url, headers: [("Content-Type", "application/json")], body: data,
                              connectTimeout: connectTimeout, timeout: timeout, idempotent: false)
        return await perform(req, expectTelegramOK: expectTelegramOK)
    }

    private func perform(_ req: HTTPRequest, expectTelegramOK: Bool) async -> SendOutcome {
        do {
            let r = try await http.send(req)
            if expectTelegramOK, let obj = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], obj["ok"] as? Bool == false {
                return classify(status: (obj["error_code"] as? Int) ?? 400, retryAfter: nil, text: scrub("\(obj["description"] ?? "ok: false")"))
            }
            return .sent
        } catch let e as HTTPError {
            switch e.kind {
            case .status, .rateLimited: return classify(status: e.status ?? 500, retryAfter: e.retryAfter, text: scrub(e.message))
            case .circuitOpen: return .rateLimited(after: e.retryAfter ?? 5, detail: scrub(e.message))
            case .timeout, .transport: return .transient(scrub("\(e.kind.rawValue): \(e.message)"))
            }
        } catch {
            return .transient(scrub("\(error)"))
        }
    }

    /// Status codes as EXTERNAL-APIS.md describes them for Telegram, Slack and Discord.
    func classify(status: Int, retryAfter: Double?, text: String) -> SendOutcome {
        let detail = "HTTP \(status): \(text.prefix(200))"
        switch status {
        case 429: return .rateLimited(after: retryAfter ?? 1, detail: detail)
        case 401, 403, 404: return .channelBroken(detail)
        case 400 where text.lowercased().contains("too long"): return .tooLong(detail)
        case 400..<500: return .refused(detail)
        default: return .transient(detail)
        }
    }
}
