// The notifier's section of warden.yaml (`notifier:`) and its channels (`notifier.channels.<name>`): keys, defaults,
// bounds and comments declared once here in the module that reads them; read strictly by WardenKit's ConfigLoader.
import Foundation
public import WardenKit

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

extension NotifierSettings: ConfigSection {
    public static let configPath = "notifier"
    public static var defaults: NotifierSettings { NotifierSettings() }

    static func clock(_ text: Int?) -> String { text.map { String(format: "\"%02d:%02d\"", $0 / 60, $0 % 60) } ?? "\"off\"" }

    public static let configKeys: [KeyDeclaration<NotifierSettings>] = [
        .duration("coalesce_window", \.coalesceWindow, in: .zero...(.seconds(86_400)), "Alerts with the same key within this window are sent once, then summarised"),
        .duration("give_up_after", \.giveUpAfter, in: .seconds(1)...(.seconds(30 * 86_400)), "A message not taken after this long is given up, visibly"),
        .custom("quiet_hours.start", type: "UTC time of day (07:30) or off", "Info alerts wait out these UTC hours, then arrive as one digest",
                read: { _, _, _ in }, render: { clock($0.quietStart) }),
        .custom("quiet_hours.end", type: "UTC time of day (07:30) or off", "End of the quiet hours", read: { _, _, _ in }, render: { clock($0.quietEnd) }),
        .duration("pause_stuck_after", \.pauseStuckAfter, in: .seconds(1)...(.seconds(30 * 86_400)), "A pause or halt in force this long is escalated, once"),
        .custom("digest_at", type: "UTC time of day (08:00) or off", "The daily digest", read: { _, _, _ in }, render: { clock($0.digestAt) }),
        .duration("request_timeout", \.requestTimeout, in: .milliseconds(100)...(.seconds(300)), "Total timeout of every channel call"),
        .duration("connect_timeout", \.connectTimeout, in: .milliseconds(100)...(.seconds(60)), "Connect timeout of every channel call"),
        .duration("backoff.initial", \.backoffInitial, in: .milliseconds(10)...(.seconds(3600)), "First retry delay of a failing channel"),
        .duration("backoff.max", \.backoffMax, in: .milliseconds(10)...(.seconds(86_400)), "Longest retry delay"),
    ]

    public static var nestedKeys: [DeclaredKey] { ConfigLoader.declared(ChannelSettings.self) }

    public static func readMore(into n: inout NotifierSettings, node: ConfigNode, _ r: StrictReader) {
        func clock(_ key: String) -> Int?? {
            guard let text = r.string(key) else { return .none }
            if text == "off" { return .some(nil) }
            guard let m = minuteOfDay(text) else {
                r.fail(key, "`\(text)` is not a UTC time of day like 07:30 (or off)")
                return .none
            }
            return .some(m)
        }
        clock("digest_at").map { n.digestAt = $0 }
        let start = clock("quiet_hours.start"), end = clock("quiet_hours.end")
        if let s = start, let e = end { n.quietStart = s; n.quietEnd = e }
        else if (start == nil) != (end == nil) { r.fail("quiet_hours", "needs both start and end") }
        // Given channels replace the default log channel; none given keeps it.
        guard let names = node.keys("channels") else { return }
        var channels: [ChannelSettings] = []
        for name in names {
            guard name.range(of: "^[a-z][a-z0-9_-]{0,31}$", options: .regularExpression) != nil else {
                r.fail("channels.\(name)", "channel names are 1-32 of a-z, 0-9, '-', '_', starting with a letter")
                continue
            }
            channels.append(readChannel(name, r))
        }
        n.channels = channels
    }

    private static func readChannel(_ name: String, _ r: StrictReader) -> ChannelSettings {
        let p = "channels.\(name)"
        guard let kindText = r.oneOf("\(p).kind", ChannelSettings.Kind.allCases.map(\.rawValue)) else {
            r.fail("\(p).kind", "required: telegram, webhook or log")
            return ChannelSettings(name: name, kind: .log)
        }
        var c = ChannelSettings(name: name, kind: ChannelSettings.Kind(rawValue: kindText)!)
        c.maxLength = 0  // not a valid value: stays 0 only when max_length is not given
        ChannelSettings.readDeclared(into: &c, prefix: p, r)
        // The channel's own limit follows its kind and format (a Discord webhook's 2000), known only now.
        if c.maxLength == 0 { c.maxLength = c.defaultMaxLength }
        return c
    }

    public static func renderMore(_ n: NotifierSettings) -> [(String, String)] {
        n.channels.flatMap { ch in
            ChannelSettings.configKeys.compactMap { k in k.value(in: ch).map { ("notifier.channels.\(ch.name).\(k.name)", $0) } }
        }
    }
}

extension ChannelSettings: ConfigSection {
    public static let configPath = "notifier.channels.<name>"
    public static var defaults: ChannelSettings { ChannelSettings(name: "<name>", kind: .log) }
    public static let configKeys: [KeyDeclaration<ChannelSettings>] = [
        .custom("kind", type: "one of: telegram, webhook, log (required)", "What the channel is",
                read: { _, _, _ in }, render: { $0.kind.rawValue }),
        .oneOf("format", \.format, "Webhook body: slack {\"text\"}, discord {\"content\"} or json"),
        .string("api_url", \.apiURL, "Telegram Bot API base URL") { url in
            url.hasPrefix("http://") || url.hasPrefix("https://") ? nil : "`\(url)` is not an http(s) URL"
        },
        .string("token_credential", \.tokenCredential, "Credential holding the Telegram bot token"),
        .string("chat_credential", \.chatCredential, "Credential holding the Telegram chat id"),
        .string("url_credential", \.urlCredential, "Credential holding the webhook URL (a secret)"),
        .oneOf("min_severity", \.minSeverity, "The least severe alert this channel takes"),
        .strings("kinds", \.kinds, "Only these alert kinds (empty: all)"),
        .duration("min_interval", \.minInterval, in: .zero...(.seconds(3600)), "At most one message per this interval"),
        .int("per_minute", \.perMinute, in: 1...100_000, "At most this many messages a minute"),
        .int("max_length", \.maxLength, in: 100...100_000, "Longer messages are cut, saying so (default: the channel's own limit)"),
    ]
}

extension WardenConfiguration {
    /// The `notifier:` section (its defaults in a process that did not register it).
    public var notifier: NotifierSettings {
        get { sections.get(NotifierSettings.self) }
        set { sections.set(newValue) }
    }
}


extension NotifierSettings {
    /// The sections the notifier reads.
    public static var configSections: [SectionRegistration] { [.of(NotifierSettings.self)] }
}
