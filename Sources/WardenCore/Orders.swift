// Intents (what a strategy wants) and fills (what the paper broker did), with stable ids.
public import Foundation
import Synchronization

public enum Side: String, Sendable, Codable, Equatable { case buy, sell }

/// Whether an order opens risk or reduces it; HALTED and REDUCING allow only exits.
public enum IntentKind: String, Sendable, Codable, Equatable { case entry, exit }

/// How long an order lives on the venue: `immediate` takes what crosses now and cancels the rest (IOC, what
/// every taker strategy sends); `resting` leaves the rest on the book at its limit until filled or cancelled (GTC).
public enum TimeInForce: String, Sendable, Codable, Equatable { case immediate = "ioc", resting = "gtc" }

public struct OrderIntent: Sendable, Equatable, Codable, Identifiable {
    public var id: String
    public var strategy: String
    public var marketID: String
    public var tokenID: String
    public var side: Side
    public var kind: IntentKind
    /// Worst acceptable price per share.
    public var limitPrice: Micros
    public var shares: Micros
    public var reason: String
    public var timeInForce: TimeInForce

    public init(id: String = OrderIntent.draftID(), strategy: String, marketID: String, tokenID: String,
                side: Side, kind: IntentKind, limitPrice: Micros, shares: Micros, reason: String, timeInForce: TimeInForce = .immediate) {
        self.id = id; self.strategy = strategy; self.marketID = marketID; self.tokenID = tokenID
        self.side = side; self.kind = kind; self.limitPrice = limitPrice; self.shares = shares; self.reason = reason
        self.timeInForce = timeInForce
    }
}

extension OrderIntent {
    private static let drafts = Atomic<Int>(0)
    /// The id an intent has until the engine numbers it (a strategy's intents are numbered when taken): unique in the
    /// process, and not random (a UUID per intent read /dev/urandom hundreds of times a second in a backtest).
    public static func draftID() -> String { "draft-\(drafts.add(1, ordering: .relaxed).newValue)" }
}

public struct Fill: Sendable, Equatable, Codable {
    public var intentID: String
    public var strategy: String
    public var marketID: String
    public var tokenID: String
    public var side: Side
    public var shares: Micros
    /// Total paid (buy, rounded up) or received (sell, rounded down), before fees.
    public var notional: Micros
    public var fee: Micros
    /// Volume-weighted average price.
    public var averagePrice: Micros { shares > 0 ? notional * Fixed.one / shares : 0 }
    public var levels: Int
    public var at: Date
    /// The venue's trade id of a live fill (booked once by it); nil on paper.
    public var venueTradeID: String?

    public init(intentID: String, strategy: String, marketID: String, tokenID: String, side: Side,
                shares: Micros, notional: Micros, fee: Micros, levels: Int, at: Date, venueTradeID: String? = nil) {
        self.intentID = intentID; self.strategy = strategy; self.marketID = marketID; self.tokenID = tokenID
        self.side = side; self.shares = shares; self.notional = notional; self.fee = fee; self.levels = levels; self.at = at
        self.venueTradeID = venueTradeID
    }
}
