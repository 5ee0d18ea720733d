// The notifier's section of warden.yaml (`notifier:`), with defaults; read strictly by ConfigLoader.
import Foundation

/// Alert severity, ordered: a channel takes alerts at or above its `min_severity`.
public enum AlertSeverity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, warning, critical
    var rank: Int { switch self { case .info: 0; case .warning: 1; case .critical: 2 } }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// One delivery channel. Secrets (bot token, chat id, webhook URL) are credential names, never values.
public struct ChannelSettings: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case telegram, webhook, log }
    public enum Format: String, Sendable, CaseIterable { case slack, discord, json }
    public var name: String
    public var kind: Kind
    /// Webhook body shape.
    public var format: Format = .json
    /// Telegram Bot API base URL (a loopback fake in tests).
    public var apiURL = "https://api.telegram.org"
    /// Credential names, looked up in $CREDENTIALS_DIRECTORY, then $WARDEN_SECRET_<NAME>.
    public var tokenCredential = "telegram_token"
    public var chatCredential = "telegram_chat_id"
    public var urlCredential = "webhook_url"
    public var minSeverity: AlertSeverity = .info
    /// Alert kinds this channel takes (empty: all).
    public var kinds: [String] = []
    /// At most one message per this interval (Telegram: about 1 per second per chat) …
    public var minInterval: Duration = .seconds(1)
    /// … and at most this many per minute (Telegram groups: 20).
    public var perMinute = 20
    /// Messages longer than this are cut (Telegram 4096 characters, Discord 2000).
    public var maxLength = 4096

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
        if kind == .log { minInterval = .zero; perMinute = 100_000 }
    }

    /// The channel's own length limit when none is configured.
    public var defaultMaxLength: Int {
        switch (kind, format) {
        case (.telegram, _): 4096
        case (.webhook, .discord): 2000
        case (.webhook, .slack): 4000
        default: 10_000
        }
    }
}

public struct NotifierSettings: Sendable, Equatable {
    public var channels: [ChannelSettings] = [ChannelSettings(name: "log", kind: .log)]
    /// Alerts with the same key within this window are sent once, then summarised ("×N").
    public var coalesceWindow: Duration = .seconds(60)
    /// A message still undelivered after this long is given up, visibly.
    public var giveUpAfter: Duration = .seconds(86_400)
    /// Quiet hours (UTC minutes of the day): info alerts wait for a digest at the end. Nil: none.
    public var quietStart: Int?
    public var quietEnd: Int?
    /// A pause or halt still open after this long is escalated (critical), once per pause.
    public var pauseStuckAfter: Duration = .seconds(7200)
    /// UTC minute of the day of the daily digest (P&L, fills, restarts, uptime); nil: no digest.
    public var digestAt: Int? = 8 * 60
    public var requestTimeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(3)
    /// Retry backoff of a failing channel: initial, doubling, capped (± 20 % jitter).
    public var backoffInitial: Duration = .seconds(2)
    public var backoffMax: Duration = .seconds(300)
    public init() {}

    public func channel(named name: String) -> ChannelSettings? { channels.first { $0.name == name } }
}

/// Secrets from systemd's LoadCredential= ($CREDENTIALS_DIRECTORY/NAME) or the environment (WARDEN_SECRET_NAME).
public enum Credentials {
    public static func value(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty,
           let data = FileManager.default.contents(atPath: dir + "/" + name),
           let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
            return text
        }
        let variable = "WARDEN_SECRET_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        if let v = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty { return v }
        return nil
    }

    /// Where a missing credential would be looked for, for error messages.
    public static func whereToPut(_ name: String) -> String {
        "$CREDENTIALS_DIRECTORY/\(name) or $WARDEN_SECRET_\(name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined())"
    }
}

/// "22:00" → 1320; nil when malformed.
public func minuteOfDay(_ text: String) -> Int? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
    return h * 60 + m
}
