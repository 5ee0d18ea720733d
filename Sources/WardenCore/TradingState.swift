// Trading state as the most restrictive of its active reasons, each with a source, a since and an expiry.
public import Foundation

/// Ordered from least to most restrictive.
public enum TradingState: String, Sendable, Codable, Comparable, CaseIterable {
    /// Entries and exits.
    case ACTIVE
    /// Exits only.
    case REDUCING
    /// No strategy orders at all (operator flatten only).
    case PAUSED
    /// Exits only until an operator resets it.
    case HALTED

    var rank: Int { [.ACTIVE: 0, .REDUCING: 1, .PAUSED: 2, .HALTED: 3][self]! }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }

    public func allows(_ kind: IntentKind) -> Bool {
        switch self {
        case .ACTIVE: return true
        case .REDUCING, .HALTED: return kind == .exit
        case .PAUSED: return false
        }
    }
}

public enum ReasonSource: String, Sendable, Codable { case `operator`, risk, degradation }

/// Why trading is restricted: every reason the engine can raise, with its source and effect. The raw value is the
/// stable code operators see on every surface and the journal stores.
public enum ReasonCode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case operatorPause = "operator_pause"
    case killSwitch = "kill_switch"
    case reduceOnly = "reduce_only"
    case drawdown
    case dataStale = "data_stale"
    case marketStale = "market_stale"
    case apiHealth = "api_health"
    case marketWSDown = "market_ws_down"
    case storageDegraded = "storage_degraded"
    case diskLow = "disk_low"
    case journalUnusable = "journal_unusable"

    public var source: ReasonSource {
        switch self {
        case .operatorPause, .killSwitch, .reduceOnly: return .operator
        case .drawdown: return .risk
        case .dataStale, .marketStale, .apiHealth, .marketWSDown, .storageDegraded, .diskLow, .journalUnusable: return .degradation
        }
    }

    /// What the reason does to trading while it is active.
    public var effect: TradingState {
        switch self {
        case .reduceOnly: return .REDUCING
        case .drawdown: return .HALTED
        default: return .PAUSED
        }
    }

    public var description: String { rawValue }
}

public struct TradingReason: Sendable, Codable, Equatable {
    /// Stable key, e.g. `operator_pause`, `data_stale`, `storage_degraded`, `drawdown`, `market_stale`.
    public var code: ReasonCode
    public var source: ReasonSource
    public var effect: TradingState
    public var since: Date
    public var expiresAt: Date?
    public var message: String
    public var author: String?
    /// Set when the reason applies to one market only.
    public var marketID: String?
    public init(code: ReasonCode, source: ReasonSource? = nil, effect: TradingState? = nil, since: Date, expiresAt: Date? = nil,
                message: String, author: String? = nil, marketID: String? = nil) {
        self.code = code; self.source = source ?? code.source; self.effect = effect ?? code.effect; self.since = since
        self.expiresAt = expiresAt; self.message = message; self.author = author; self.marketID = marketID
    }
}

/// The set of active reasons. Adding a reason with the same code and market replaces it (keeping `since`).
public struct TradingControl: Sendable, Codable, Equatable {
    public private(set) var reasons: [TradingReason] = []
    public init() {}

    /// Adds or refreshes a reason; returns true when it is new.
    @discardableResult
    public mutating func raise(_ reason: TradingReason) -> Bool {
        if let i = reasons.firstIndex(where: { $0.code == reason.code && $0.marketID == reason.marketID }) {
            var r = reason
            r.since = reasons[i].since
            reasons[i] = r
            return false
        }
        reasons.append(reason)
        return true
    }

    /// Clears a reason; returns it when it was active (for the recovery event and its duration).
    @discardableResult
    public mutating func clear(_ code: ReasonCode, marketID: String? = nil) -> TradingReason? {
        guard let i = reasons.firstIndex(where: { $0.code == code && $0.marketID == marketID }) else { return nil }
        return reasons.remove(at: i)
    }

    /// Drops expired reasons; returns them.
    public mutating func expire(now: Date) -> [TradingReason] {
        let gone = reasons.filter { ($0.expiresAt.map { $0 <= now }) ?? false }
        reasons.removeAll { ($0.expiresAt.map { $0 <= now }) ?? false }
        return gone
    }

    /// The global state: the most restrictive reason not scoped to a market.
    public var effective: TradingState {
        reasons.filter { $0.marketID == nil }.map(\.effect).max() ?? .ACTIVE
    }

    /// Why an intent may not go ahead, or nil when it may.
    public func blocking(_ kind: IntentKind, marketID: String) -> TradingReason? {
        reasons.filter { ($0.marketID == nil || $0.marketID == marketID) && !$0.effect.allows(kind) }
            .max { $0.effect < $1.effect }
    }

    public func has(_ code: ReasonCode, marketID: String? = nil) -> Bool {
        reasons.contains { $0.code == code && $0.marketID == marketID }
    }
}
