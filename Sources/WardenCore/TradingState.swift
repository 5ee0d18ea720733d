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
    /// Reconciliation with the live venue kept finding what it cannot settle (seed 004's "order reconciliation drift").
    case reconcileDrift = "reconcile_drift"
    /// The live venue's orders and trades cannot be read back (seed 004's "broker read failures").
    case venueReads = "venue_reads"
    /// The live venue takes cancels only (503 cancel-only, trading disabled).
    case venueCancelOnly = "venue_cancel_only"

    public var source: ReasonSource {
        switch self {
        case .operatorPause, .killSwitch, .reduceOnly: return .operator
        case .drawdown: return .risk
        case .dataStale, .marketStale, .apiHealth, .marketWSDown, .storageDegraded, .diskLow, .journalUnusable, .reconcileDrift, .venueReads, .venueCancelOnly: return .degradation
        }
    }

    /// What the reason does to trading while it is active.
    public var effect: TradingState {
        switch self {
        case .reduceOnly, .reconcileDrift, .venueReads, .venueCancelOnly: return .REDUCING
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
/// Indexed by code and market: with thousands of markets, a stale market's reason is raised or checked every cycle,
/// and a search of the list each time made the cycle quadratic in the stale markets.
public struct TradingControl: Sendable, Codable, Equatable {
    /// Every active reason, in the order raised.
    public private(set) var reasons: [TradingReason] = []
    private struct Key: Hashable, Sendable {
        var code: ReasonCode
        var marketID: String?
    }
    /// Where each reason is in `reasons`.
    private var position: [Key: Int] = [:]
    /// How many reasons are global, and how many each market has (most checks find none).
    private var globalCount = 0
    private var perMarket: [String: Int] = [:]

    public init() {}

    private enum CodingKeys: String, CodingKey { case reasons }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        for r in try c.decode([TradingReason].self, forKey: .reasons) { raise(r) }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(reasons, forKey: .reasons)
    }
    public static func == (a: Self, b: Self) -> Bool { a.reasons == b.reasons }

    private mutating func reindex() {
        position = [:]
        globalCount = 0
        perMarket = [:]
        for (i, r) in reasons.enumerated() {
            position[Key(code: r.code, marketID: r.marketID)] = i
            count(r, 1)
        }
    }

    private mutating func count(_ r: TradingReason, _ delta: Int) {
        guard let m = r.marketID else { globalCount += delta; return }
        let n = (perMarket[m] ?? 0) + delta
        perMarket[m] = n > 0 ? n : nil
    }

    /// Adds or refreshes a reason; returns true when it is new.
    @discardableResult
    public mutating func raise(_ reason: TradingReason) -> Bool {
        let key = Key(code: reason.code, marketID: reason.marketID)
        if let i = position[key] {
            var r = reason
            r.since = reasons[i].since
            reasons[i] = r
            return false
        }
        reasons.append(reason)
        position[key] = reasons.count - 1
        count(reason, 1)
        return true
    }

    /// Clears a reason; returns it when it was active (for the recovery event and its duration).
    @discardableResult
    public mutating func clear(_ code: ReasonCode, marketID: String? = nil) -> TradingReason? {
        guard let i = position[Key(code: code, marketID: marketID)] else { return nil }
        let gone = reasons.remove(at: i)
        reindex()
        return gone
    }

    /// Drops expired reasons; returns them.
    public mutating func expire(now: Date) -> [TradingReason] {
        let gone = reasons.filter { ($0.expiresAt.map { $0 <= now }) ?? false }
        guard !gone.isEmpty else { return [] }
        reasons.removeAll { ($0.expiresAt.map { $0 <= now }) ?? false }
        reindex()
        return gone
    }

    private func reason(_ code: ReasonCode, _ marketID: String?) -> TradingReason? {
        position[Key(code: code, marketID: marketID)].map { reasons[$0] }
    }

    /// The global state: the most restrictive reason not scoped to a market.
    public var effective: TradingState {
        guard globalCount > 0 else { return .ACTIVE }
        return ReasonCode.allCases.compactMap { reason($0, nil)?.effect }.max() ?? .ACTIVE
    }

    /// Why an intent may not go ahead, or nil when it may.
    public func blocking(_ kind: IntentKind, marketID: String) -> TradingReason? {
        // The most restrictive; of equals, the one raised first (as a search of the list in order found it).
        let scopes: [String?] = (globalCount > 0 ? [nil] : []) + (perMarket[marketID] != nil ? [marketID] : [])
        guard !scopes.isEmpty else { return nil }
        var worst: (at: Int, reason: TradingReason)?
        for code in ReasonCode.allCases {
            for scope in scopes {
                guard let i = position[Key(code: code, marketID: scope)], !reasons[i].effect.allows(kind) else { continue }
                let r = reasons[i]
                if let w = worst, w.reason.effect > r.effect || (w.reason.effect == r.effect && w.at < i) { continue }
                worst = (i, r)
            }
        }
        return worst?.reason
    }

    public func has(_ code: ReasonCode, marketID: String? = nil) -> Bool { position[Key(code: code, marketID: marketID)] != nil }
}
