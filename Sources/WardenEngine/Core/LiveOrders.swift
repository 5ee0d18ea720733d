// Orders on a live venue, as the core knows them (DESIGN §4.4): their state on two axes (where the order is on the
// venue; how its trades settle), the caps checked before anything is signed, and whether new orders may go at all
// (fail closed: an unhealthy heartbeat, a cancel-only venue, a failed preflight stop them). Pure: the driver performs
// the requests and brings back what the venue said as reports.
public import Foundation
public import WardenCore

/// Where a live order is on the venue.
public enum VenueOrderState: String, Sendable, Codable, Equatable, CaseIterable {
    /// Written ahead and handed to the venue; no answer yet.
    case pending
    /// On the venue's book.
    case live
    /// Traded in full.
    case matched
    case cancelled
    case rejected
    /// The venue's answer was lost: it may or may not exist (shown everywhere until reconciliation decides).
    case unknown

    /// Still the venue's (or possibly): shown as open, counted against caps and cash.
    public var isOpen: Bool { self == .pending || self == .live || self == .unknown }
}

/// How a live order's trades settle on chain (the venue's trade status, lower-cased; worst of its trades).
public enum SettlementState: String, Sendable, Codable, Equatable {
    case matched, mined, confirmed, retrying, failed
}

public struct LiveOrder: Sendable, Equatable, Codable {
    public var intent: OrderIntent
    /// The venue's id (the order's EIP-712 hash), once known.
    public var orderID: String?
    public var state: VenueOrderState
    public var settlement: SettlementState?
    /// Shares traded so far.
    public var filled: Micros
    public var since: Date
    public var note: String
    /// A cancel was asked of the venue (not asked again every cycle).
    public var cancelAsked = false
    public init(intent: OrderIntent, orderID: String? = nil, state: VenueOrderState, settlement: SettlementState? = nil, filled: Micros = 0,
                since: Date, note: String = "") {
        self.intent = intent; self.orderID = orderID; self.state = state; self.settlement = settlement; self.filled = filled
        self.since = since; self.note = note
    }
    public var open: Micros { state.isOpen ? max(0, intent.shares - filled) : 0 }
}

/// Caps on live orders (dollars of notional, price × shares), checked before signing; zero: no cap. Entries only:
/// an exit reduces risk and is never held back by a cap.
public struct LiveCaps: Sendable, Equatable {
    public var perOrder: Micros
    public var perMarket: Micros
    public var perDay: Micros
    public init(perOrder: Micros = 0, perMarket: Micros = 0, perDay: Micros = 0) {
        self.perOrder = perOrder; self.perMarket = perMarket; self.perDay = perDay
    }
}

public struct LiveBook: Sendable {
    /// Strategies whose orders go to the live venue (the others trade on paper).
    public var strategies: Set<String>
    public var caps: LiveCaps
    /// Orders not finished (pending, live, unknown), by intent id.
    public var orders: [String: LiveOrder] = [:]
    /// Venue trade ids already booked (each trade is booked exactly once).
    public var booked: Set<String> = []
    /// Why no new live order may go now (heartbeat unhealthy, cancel-only, …); nil: healthy.
    public var problem: String?
    /// Entry notional sent in the current UTC day (day number since the epoch).
    public var day = 0
    public var spentToday: Micros = 0
    /// Entries refused by a cap since the start.
    public var capsRefused = 0
    /// When each strategy's cap refusal was last alerted (one alert an hour; every refusal is counted and logged).
    public var capAlerted: [String: Date] = [:]
    /// Live fills voided (their trade FAILED at settlement) since the start.
    public var voided = 0
    /// Why nothing goes before the first heartbeat is accepted.
    public static let startProblem = "no heartbeat accepted yet"

    public init(strategies: Set<String> = [], caps: LiveCaps = LiveCaps()) { self.strategies = strategies; self.caps = caps }

    public var isEmpty: Bool { strategies.isEmpty }
    public func trades(_ strategy: String) -> Bool { strategies.contains(strategy) }

    public var unknown: [LiveOrder] { orders.values.filter { $0.state == .unknown }.sorted { $0.since < $1.since } }
    /// Open live orders as resting orders (what strategies are shown of their own; pending and unknown count, so the
    /// same order is not placed again while its fate is open).
    public var resting: [RestingOrder] {
        orders.values.filter { $0.state.isOpen }.sorted { ($0.since, $0.intent.id) < ($1.since, $1.intent.id) }
            .map { RestingOrder(intent: $0.intent, open: $0.open, since: $0.since) }
    }

    static func utcDay(_ d: Date) -> Int { Int((d.timeIntervalSince1970 / 86_400).rounded(.down)) }

    /// Why this entry may not be signed, or nil. `heldInMarket`: cost of the strategy's position in the market.
    public func capProblem(_ intent: OrderIntent, heldInMarket: Micros, now: Date) -> String? {
        guard intent.kind == .entry else { return nil }
        let notional = Fixed.costUp(intent.limitPrice, intent.shares)
        if caps.perOrder > 0, notional > caps.perOrder {
            return "order notional \(Fixed.text(notional)) is over the live cap per order \(Fixed.text(caps.perOrder))"
        }
        if caps.perMarket > 0 {
            let open = orders.values.filter { $0.intent.marketID == intent.marketID && $0.intent.side == .buy && $0.state.isOpen }
                .reduce(Micros(0)) { $0 + Fixed.costUp($1.intent.limitPrice, $1.open) }
            if heldInMarket + open + notional > caps.perMarket {
                return "market \(intent.marketID) would hold \(Fixed.text(heldInMarket + open + notional)), over the live cap per market \(Fixed.text(caps.perMarket))"
            }
        }
        if caps.perDay > 0 {
            let spent = Self.utcDay(now) == day ? spentToday : 0
            if spent + notional > caps.perDay {
                return "entries today would reach \(Fixed.text(spent + notional)), over the live cap per UTC day \(Fixed.text(caps.perDay))"
            }
        }
        return nil
    }

    /// Counts an entry sent now against the day's cap.
    public mutating func spend(_ intent: OrderIntent, now: Date) {
        guard intent.kind == .entry else { return }
        let today = Self.utcDay(now)
        if today != day { day = today; spentToday = 0 }
        spentToday += Fixed.costUp(intent.limitPrice, intent.shares)
    }
}
