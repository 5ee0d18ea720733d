// Intents (what a strategy wants) and fills (what the paper broker did), with stable ids.
public import Foundation
import Synchronization

public enum Side: String, Sendable, Codable, Equatable { case buy, sell }

/// Whether an order opens risk or reduces it; HALTED and REDUCING allow only exits.
public enum IntentKind: String, Sendable, Codable, Equatable { case entry, exit }

/// How long an order lives on the venue: `immediate` takes what crosses now and cancels the rest (IOC; FAK on the
/// CLOB; what every taker strategy sends); `fillOrKill` trades its whole size now or nothing at all (FOK);
/// `resting` leaves the rest on the book at its limit until filled or cancelled (GTC); `goodTillDate` rests until
/// the intent's `expiresAt` (GTD).
public enum TimeInForce: String, Sendable, Codable, Equatable, CaseIterable {
    case immediate = "ioc", resting = "gtc", fillOrKill = "fok", goodTillDate = "gtd"

    /// Whether what does not trade at once stays on the book.
    public var rests: Bool { self == .resting || self == .goodTillDate }
}

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
    /// A resting order that must only add liquidity: refused as a whole when it would trade at once (GTC/GTD only).
    public var postOnly: Bool
    /// When a `goodTillDate` order leaves the book (nil for every other kind).
    public var expiresAt: Date?

    public init(id: String = OrderIntent.draftID(), strategy: String, marketID: String, tokenID: String,
                side: Side, kind: IntentKind, limitPrice: Micros, shares: Micros, reason: String, timeInForce: TimeInForce = .immediate,
                postOnly: Bool = false, expiresAt: Date? = nil) {
        self.id = id; self.strategy = strategy; self.marketID = marketID; self.tokenID = tokenID
        self.side = side; self.kind = kind; self.limitPrice = limitPrice; self.shares = shares; self.reason = reason
        self.timeInForce = timeInForce; self.postOnly = postOnly; self.expiresAt = expiresAt
    }

    /// What is wrong with the order's kind as asked (a strategy's mistake, named), or nil: post-only only with GTC or
    /// GTD, an expiry only with GTD and always with it.
    public var orderTypeProblem: String? {
        if postOnly, !timeInForce.rests { return "post-only needs a resting order (gtc or gtd), not \(timeInForce.rawValue)" }
        if timeInForce == .goodTillDate, expiresAt == nil { return "a gtd order needs an expiry" }
        if timeInForce != .goodTillDate, expiresAt != nil { return "only a gtd order has an expiry (this one is \(timeInForce.rawValue))" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case id, strategy, marketID, tokenID, side, kind, limitPrice, shares, reason, timeInForce, postOnly, expiresAt
    }

    /// Intents written before post-only and expiries existed read as neither.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), strategy: try c.decode(String.self, forKey: .strategy),
                  marketID: try c.decode(String.self, forKey: .marketID), tokenID: try c.decode(String.self, forKey: .tokenID),
                  side: try c.decode(Side.self, forKey: .side), kind: try c.decode(IntentKind.self, forKey: .kind),
                  limitPrice: try c.decode(Micros.self, forKey: .limitPrice), shares: try c.decode(Micros.self, forKey: .shares),
                  reason: try c.decode(String.self, forKey: .reason), timeInForce: try c.decode(TimeInForce.self, forKey: .timeInForce),
                  postOnly: try c.decodeIfPresent(Bool.self, forKey: .postOnly) ?? false,
                  expiresAt: try c.decodeIfPresent(Date.self, forKey: .expiresAt))
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
