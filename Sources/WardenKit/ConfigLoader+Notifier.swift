// The `notifier:` section of warden.yaml: timings, quiet hours, digest, and the channels by name.
import Yams

extension ConfigLoader {
    static let notifierKeys: Set<String> = [
        "channels", "coalesce_window", "give_up_after", "quiet_hours", "pause_stuck_after", "digest_at",
        "request_timeout", "connect_timeout", "backoff",
    ]
    static let notifierSections: [String: Set<String>] = [
        "quiet_hours": ["start", "end"],
        "backoff": ["initial", "max"],
    ]
    static let channelKeys: Set<String> = [
        "kind", "format", "api_url", "token_credential", "chat_credential", "url_credential", "min_severity", "kinds",
        "min_interval", "per_minute", "max_length",
    ]

    /// Checks the section's shape; returns channel names in file order.
    static func validateNotifier(_ node: Node, _ reader: StrictReader) -> [String] {
        checkKeys(node, path: "notifier", allowed: notifierKeys, reader)
        var names: [String] = []
        for (k, v) in node.mapping ?? [:] {
            guard let key = k.string else { continue }
            if let allowed = notifierSections[key] { checkKeys(v, path: "notifier.\(key)", allowed: allowed, reader) }
            guard key == "channels" else { continue }
            guard let channels = v.mapping else {
                reader.fail("notifier.channels", "must be a mapping of channel name to its settings")
                continue
            }
            for (ck, cv) in channels {
                let name = ck.string ?? "?"
                guard name.range(of: "^[a-z][a-z0-9_-]{0,31}$", options: .regularExpression) != nil else {
                    reader.fail("notifier.channels.\(name)", "channel names are 1-32 of a-z, 0-9, '-', '_', starting with a letter")
                    continue
                }
                names.append(name)
                checkKeys(cv, path: "notifier.channels.\(name)", allowed: channelKeys, reader)
            }
        }
        return names
    }

    static func readNotifier(into n: inout NotifierSettings, channels: [String]?, _ r: StrictReader) {
        let p = "notifier"
        let durations: [(String, WritableKeyPath<NotifierSettings, Duration>, ClosedRange<Duration>)] = [
            ("coalesce_window", \.coalesceWindow, .zero...(.seconds(86_400))),
            ("give_up_after", \.giveUpAfter, .seconds(1)...(.seconds(30 * 86_400))),
            ("pause_stuck_after", \.pauseStuckAfter, .seconds(1)...(.seconds(30 * 86_400))),
            ("request_timeout", \.requestTimeout, .milliseconds(100)...(.seconds(300))),
            ("connect_timeout", \.connectTimeout, .milliseconds(100)...(.seconds(60))),
            ("backoff.initial", \.backoffInitial, .milliseconds(10)...(.seconds(3600))),
            ("backoff.max", \.backoffMax, .milliseconds(10)...(.seconds(86_400))),
        ]
        for (key, path, range) in durations { r.duration("\(p).\(key)", in: range).map { n[keyPath: path] = $0 } }
        func clock(_ key: String) -> Int?? {
            guard let text = r.string("\(p).\(key)") else { return .none }
            if text == "off" { return .some(nil) }
            guard let m = minuteOfDay(text) else {
                r.fail("\(p).\(key)", "`\(text)` is not a UTC time of day like 07:30 (or off)")
                return .none
            }
            return .some(m)
        }
        clock("digest_at").map { n.digestAt = $0 }
        let start = clock("quiet_hours.start"), end = clock("quiet_hours.end")
        if let s = start, let e = end { n.quietStart = s; n.quietEnd = e }
        else if (start == nil) != (end == nil) { r.fail("\(p).quiet_hours", "needs both start and end") }
        guard let channels else { return }
        n.channels = channels.map { readChannel($0, r) }
    }

    private static func readChannel(_ name: String, _ r: StrictReader) -> ChannelSettings {
        let p = "notifier.channels.\(name)"
        guard let kindText = r.oneOf("\(p).kind", ChannelSettings.Kind.allCases.map(\.rawValue)) else {
            r.fail("\(p).kind", "required: telegram, webhook or log")
            return ChannelSettings(name: name, kind: .log)
        }
        var c = ChannelSettings(name: name, kind: ChannelSettings.Kind(rawValue: kindText)!)
        r.oneOf("\(p).format", ChannelSettings.Format.allCases.map(\.rawValue)).map { c.format = ChannelSettings.Format(rawValue: $0)! }
        if let url = r.string("\(p).api_url") {
            if url.hasPrefix("http://") || url.hasPrefix("https://") { c.apiURL = url } else { r.fail("\(p).api_url", "`\(url)` is not an http(s) URL") }
        }
        r.string("\(p).token_credential").map { c.tokenCredential = $0 }
        r.string("\(p).chat_credential").map { c.chatCredential = $0 }
        r.string("\(p).url_credential").map { c.urlCredential = $0 }
        r.oneOf("\(p).min_severity", AlertSeverity.allCases.map(\.rawValue)).map { c.minSeverity = AlertSeverity(rawValue: $0)! }
        r.stringArray("\(p).kinds").map { c.kinds = $0 }
        r.duration("\(p).min_interval", in: .zero...(.seconds(3600))).map { c.minInterval = $0 }
        r.int("\(p).per_minute", in: 1...100_000).map { c.perMinute = $0 }
        c.maxLength = c.defaultMaxLength
        r.int("\(p).max_length", in: 100...100_000).map { c.maxLength = $0 }
        return c
    }
}
