// Messages of notifier.sock: status (queue, channels, intake), a direct notify, and a channel test.

public struct ChannelInfo: Codable, Sendable, Equatable {
    public var name: String
    public var kind: String
    /// ok | retrying | failed
    public var state: String
    public var last_success_at: String?
    public var last_error: String?
    public var pending: Int
    public init(name: String, kind: String, state: String, last_success_at: String?, last_error: String?, pending: Int) {
        self.name = name; self.kind = kind; self.state = state; self.last_success_at = last_success_at
        self.last_error = last_error; self.pending = pending
    }
}

/// Where alerts come from, and how far the notifier has taken them.
public struct IntakeInfo: Codable, Sendable, Equatable {
    public var source: String
    public var connected: Bool
    public var last_seq: Int64
    public var gaps_total: Int
    public init(source: String, connected: Bool, last_seq: Int64, gaps_total: Int) {
        self.source = source; self.connected = connected; self.last_seq = last_seq; self.gaps_total = gaps_total
    }
}

/// `status` of notifier.sock, and `status --json`'s `notifier` (with `reachable` set by the supervisor).
public struct NotifierStatusInfo: Codable, Sendable, Equatable {
    public var reachable: Bool
    public var error: String?
    public var queue_depth: Int?
    public var oldest_pending_age_s: Double?
    public var channels: [ChannelInfo]?
    public var intake: [IntakeInfo]?
    public var alerts_total: Int?
    public var delivered_total: Int?
    /// Messages given up after `give_up_after`, or refused permanently by a channel.
    public var failed_total: Int?
    public init(reachable: Bool, error: String? = nil, queue_depth: Int? = nil, oldest_pending_age_s: Double? = nil,
                channels: [ChannelInfo]? = nil, intake: [IntakeInfo]? = nil, alerts_total: Int? = nil,
                delivered_total: Int? = nil, failed_total: Int? = nil) {
        self.reachable = reachable; self.error = error; self.queue_depth = queue_depth; self.oldest_pending_age_s = oldest_pending_age_s
        self.channels = channels; self.intake = intake; self.alerts_total = alerts_total; self.delivered_total = delivered_total
        self.failed_total = failed_total
    }
    public init(unreachable why: String) { self.init(reachable: false, error: why) }
}

/// `notify`: an operator's message through every channel its severity routes to.
public struct NotifyRequest: Codable, Sendable {
    public var severity: String
    public var message: String
    public var author: String
    public init(severity: String, message: String, author: String) { self.severity = severity; self.message = message; self.author = author }
}

public struct NotifyResponse: Codable, Sendable {
    public var queued: [String]
    public init(queued: [String]) { self.queued = queued }
}

/// `test_channel`: send a test message now, wait for the channel's answer.
public struct TestChannelRequest: Codable, Sendable {
    public var channel: String
    public var author: String
    public init(channel: String, author: String) { self.channel = channel; self.author = author }
}

public struct TestChannelResponse: Codable, Sendable {
    public var channel: String
    public var ok: Bool
    public var detail: String
    public init(channel: String, ok: Bool, detail: String) { self.channel = channel; self.ok = ok; self.detail = detail }
}
