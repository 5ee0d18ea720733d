// The degradation matrix (DESIGN §4.5) in one table: for each condition the engine watches, the reason it raises,
// what that reason does to trading, and what is said when it is raised and when it clears. Pure: the caller
// observes (data age, free space, a failed write), the matrix raises or clears and returns what to say.
public import Foundation
public import WardenCore
import WardenKit

/// What was observed about one condition, for the reason's and the events' texts.
public struct DegradationFact: Sendable, Equatable {
    /// Since when the condition holds (the reason's `since`).
    public var since: Date
    public var marketID: String?
    /// The observation in words ("error rate 50%", "3.2% free").
    public var detail: String
    /// Where (a path, a connection) and against which bound, when the texts name them.
    public var place: String
    public var bound: String
    /// Reasons that end by themselves (the API health cooldown).
    public var expiresAt: Date?

    public init(since: Date, marketID: String? = nil, detail: String = "", place: String = "", bound: String = "", expiresAt: Date? = nil) {
        self.since = since; self.marketID = marketID; self.detail = detail; self.place = place; self.bound = bound; self.expiresAt = expiresAt
    }
}

/// One row: the reason's code (its effect and source come with it), the severity of its alert, and its texts.
public struct DegradationRow: Sendable {
    public let code: ReasonCode
    public let severity: Severity
    /// The reason as surfaces show it.
    let reason: @Sendable (DegradationFact) -> String
    /// The alert when it is raised.
    let raised: @Sendable (DegradationFact) -> String
    /// The recovery when the observation is good again; nil for a reason that only expires.
    let cleared: (@Sendable (DegradationFact) -> String)?
    /// Whether a reason already raised takes the new observation (its detail or expiry may move). A stale market's
    /// cannot: its `since` is the book's last change, which stays while it is stale.
    var refreshes = true
}

public enum DegradationMatrix {
    private static func iso(_ d: Date) -> String { isoString(d) }
    private static func parenthesized(_ s: String) -> String { s.isEmpty ? "" : " (\(s))" }

    public static let rows: [DegradationRow] = [
        DegradationRow(code: .dataStale, severity: .critical,
                       reason: { "market data stale since \(iso($0.since))\(parenthesized($0.detail))" },
                       raised: { "market data stale since \(iso($0.since)); entries paused\(parenthesized($0.detail))" },
                       cleared: { _ in "market data fresh again; entries resumed" }),
        DegradationRow(code: .marketStale, severity: .warning,
                       reason: { "book of market \($0.marketID ?? "?") unchanged (same content) since \(iso($0.since))" },
                       raised: { "market \($0.marketID ?? "?") paused for entries: its book has not moved since \(iso($0.since))" },
                       cleared: { "market \($0.marketID ?? "?") book fresh again" }, refreshes: false),
        DegradationRow(code: .apiHealth, severity: .warning,
                       reason: { "API health guard tripped (\($0.detail)); entries paused for the cooldown" },
                       raised: { "API health guard tripped: \($0.detail)" },
                       cleared: nil),
        DegradationRow(code: .marketWSDown, severity: .critical,
                       reason: { "market WebSocket \($0.place) failed \($0.bound) connection attempts in a row (\($0.detail)); entries paused until it connects" },
                       raised: { "market WebSocket down: \($0.bound) attempts failed on connection \($0.place) (\($0.detail)); entries paused, still retrying" },
                       cleared: { _ in "market WebSocket connected again; entries resumed" }),
        DegradationRow(code: .storageDegraded, severity: .critical,
                       reason: { "storage failing; entries paused: \($0.detail)" },
                       raised: { "storage degraded; entries paused: \($0.detail)" },
                       cleared: { _ in "storage writable again; entries resumed" }),
        DegradationRow(code: .diskLow, severity: .critical,
                       reason: { "\($0.detail) in \($0.place), below \($0.bound); entries paused" },
                       raised: { "disk nearly full (\($0.detail) in \($0.place)); entries paused before writes fail" },
                       cleared: { "disk space back (\($0.detail))" }),
        DegradationRow(code: .reconcileDrift, severity: .critical,
                       reason: { "order reconciliation drift: \($0.bound) reconciliations in a row found what they cannot settle (\($0.detail)); reduce-only" },
                       raised: { "order reconciliation drift: \($0.bound) reconciliations in a row disagree with the journal (\($0.detail)); reduce-only, cancels attempted" },
                       cleared: { _ in "reconciliation agrees with the journal again; entries resumed" }),
        DegradationRow(code: .venueReads, severity: .critical,
                       reason: { "the live venue's orders and trades cannot be read back (\($0.bound) times in a row: \($0.detail)); exits only" },
                       raised: { "live venue reads failing \($0.bound) times in a row (\($0.detail)); entries paused, exits allowed" },
                       cleared: { _ in "live venue reads work again; entries resumed" }),
        DegradationRow(code: .venueCancelOnly, severity: .critical,
                       reason: { "the live venue takes cancels only (\($0.detail)); exits only" },
                       raised: { "live venue in cancel-only mode (\($0.detail)); entries paused, cancels still sent" },
                       cleared: { _ in "live venue takes orders again; entries resumed" }),
    ]

    static let byCode: [ReasonCode: DegradationRow] = Dictionary(uniqueKeysWithValues: rows.map { ($0.code, $0) })

    /// The event key of a row's reason (per market where it is scoped to one).
    static func key(_ code: ReasonCode, _ marketID: String?) -> String { marketID.map { "\(code.rawValue):\($0)" } ?? code.rawValue }

    /// Raises `code`'s reason when `bad`, clears it when not; returns what to say when that changed anything
    /// (a reason already raised is refreshed silently, keeping its since).
    public static func assess(_ code: ReasonCode, bad: Bool, _ fact: DegradationFact, now: Date,
                              control: inout TradingControl) -> EngineNotice? {
        guard let row = byCode[code] else { preconditionFailure("no degradation row for \(code)") }
        if bad && !row.refreshes && control.has(code, marketID: fact.marketID) { return nil }
        let key = key(code, fact.marketID)
        if bad {
            let reason = TradingReason(code: code, since: fact.since, expiresAt: fact.expiresAt, message: row.reason(fact), marketID: fact.marketID)
            guard control.raise(reason) else { return nil }
            return EngineNotice(key: key, kind: code.effect == .HALTED ? .halted : .paused, severity: row.severity, message: row.raised(fact))
        }
        guard let cleared = row.cleared, let gone = control.clear(code, marketID: fact.marketID) else { return nil }
        return EngineNotice(key: key, kind: .resumed, severity: .info, message: cleared(fact), duration: now.timeIntervalSince(gone.since))
    }

    /// Drops reasons past their expiry (operator pauses with a duration, the API health cooldown); says each.
    public static func expire(now: Date, control: inout TradingControl) -> [EngineNotice] {
        control.expire(now: now).map { gone in
            EngineNotice(key: gone.code.rawValue, kind: .resumed, severity: .info, message: "\(gone.code) expired: \(gone.message)",
                         duration: now.timeIntervalSince(gone.since))
        }
    }
}
