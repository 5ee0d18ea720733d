// Strategies: pure functions of a market snapshot and their own positions to order intents.
public import Foundation

/// What a strategy sees of one market.
public struct MarketSnapshot: Sendable {
    public var market: Market
    /// tokenID → book of this market's outcomes, only books fresh enough to trade on.
    public var books: TokenMap<OrderBook>
    /// tokenID → recent mid prices of this market's outcomes, oldest first.
    public var midHistory: TokenMap<[Micros]>
    public var now: Date
    public init(market: Market, books: [String: OrderBook], midHistory: [String: [Micros]] = [:], now: Date) {
        self.market = market; self.books = TokenMap(books); self.midHistory = TokenMap(midHistory); self.now = now
    }
    public init(market: Market, tokenBooks: TokenMap<OrderBook>, tokenMids: TokenMap<[Micros]>, now: Date) {
        self.market = market; self.books = tokenBooks; self.midHistory = tokenMids; self.now = now
    }
}

/// A few values keyed by token id (a market's outcomes: usually two), read as a dictionary is: `books[tokenID]`.
/// Looked up by comparing ids, which for two entries costs less than hashing one. Inlinable, so a strategy's module
/// gets it specialized for its value type (the generic version cost more than the lookups it replaced).
@frozen
public struct TokenMap<Value: Sendable>: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    @usableFromInline var ids: [String]
    @usableFromInline var items: [Value]

    @inlinable public init() { ids = []; items = [] }
    @inlinable public init(ids: [String], values: [Value]) {
        precondition(ids.count == values.count, "TokenMap: \(ids.count) ids for \(values.count) values")
        self.ids = ids; self.items = values
    }
    /// From a dictionary, in key order.
    public init(_ dictionary: [String: Value]) {
        let sorted = dictionary.sorted { $0.key < $1.key }
        ids = sorted.map(\.key); items = sorted.map(\.value)
    }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self.init()
        for (k, v) in elements { self[k] = v }
    }

    @inlinable public subscript(_ key: String) -> Value? {
        get {
            for i in ids.indices where ids[i] == key { return items[i] }
            return nil
        }
        set {
            if let i = ids.firstIndex(of: key) {
                if let newValue { items[i] = newValue } else { ids.remove(at: i); items.remove(at: i) }
            } else if let newValue {
                ids.append(key); items.append(newValue)
            }
        }
    }

    @inlinable public var count: Int { ids.count }
    @inlinable public var isEmpty: Bool { ids.isEmpty }
    @inlinable public var keys: [String] { ids }
    @inlinable public var values: [Value] { items }
    public func makeIterator() -> Zip2Sequence<[String], [Value]>.Iterator { zip(ids, items).makeIterator() }
}

/// Everything a strategy is given for one market: the snapshot, and of its own sub-account the positions and
/// open orders in that market and its cash.
public struct StrategyContext: Sendable {
    public var snapshot: MarketSnapshot
    public var positions: [Position]
    public var openOrders: [RestingOrder]
    public var cash: Micros
    public init(snapshot: MarketSnapshot, positions: [Position], openOrders: [RestingOrder] = [], cash: Micros) {
        self.snapshot = snapshot; self.positions = positions; self.openOrders = openOrders; self.cash = cash
    }
}

/// What a strategy asks for: an order, or one of its open orders cancelled.
public enum StrategyDecision: Sendable, Equatable {
    case place(OrderIntent)
    case cancel(intentID: String, reason: String)
}

/// A pure function of what it is given to decisions: no clock but `snapshot.now`, no I/O, bounded time.
public protocol Strategy: Sendable {
    var name: String { get }
    /// Mid prices per token the engine keeps for it (refreshes); 0 when it reads none.
    var historyLength: Int { get }
    /// Orders to place and open orders to cancel in this market; may throw on bad input.
    func decide(_ context: StrategyContext) throws -> [StrategyDecision]
}

extension Strategy {
    public var historyLength: Int { 0 }
}

/// A strategy that only takes (immediate orders, no open orders to manage): it gives intents for a market.
public protocol IntentStrategy: Strategy {
    /// Intents for this market given the strategy's own positions in it; may throw on bad input.
    func evaluate(_ snapshot: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent]
}

extension IntentStrategy {
    public func decide(_ c: StrategyContext) throws -> [StrategyDecision] {
        try evaluate(c.snapshot, positions: c.positions, cash: c.cash).map { .place($0) }
    }
}

/// Checks an intent before it reaches risk and the journal; returns why it is invalid, or nil.
public enum IntentValidator {
    public static func problem(_ intent: OrderIntent, strategy: String, market: Market) -> String? {
        if intent.strategy != strategy { return "intent claims strategy \(intent.strategy)" }
        if intent.marketID != market.id { return "intent names market \(intent.marketID), evaluated \(market.id)" }
        if !market.tokens.contains(where: { $0.tokenID == intent.tokenID }) { return "token \(intent.tokenID) is not in market \(market.id)" }
        if intent.shares <= 0 { return "size \(Fixed.text(intent.shares)) is not positive" }
        if intent.limitPrice <= 0 || intent.limitPrice >= Fixed.one { return "price \(Fixed.text(intent.limitPrice, decimals: 4)) is outside (0, 1)" }
        if !market.isValidPrice(intent.limitPrice) { return "price \(Fixed.text(intent.limitPrice, decimals: 4)) is not on tick \(Fixed.text(market.tickSize, decimals: 4))" }
        if intent.shares > 1_000_000 * Fixed.one { return "size \(Fixed.text(intent.shares)) is implausibly large" }
        return nil
    }
}

/// Errors per strategy; repeated errors within a window disable it (visibly) while others go on.
public struct StrategyHealth: Sendable, Equatable, Codable {
    public var errorTimes: [Date] = []
    public var lastError: String?
    public var disabledAt: Date?
    public var disabledReason: String?
    public var rejectedIntents = 0
    public init() {}

    /// Records an error; returns true when this error disabled the strategy.
    public mutating func record(error: String, at now: Date, maxErrors: Int, window: TimeInterval) -> Bool {
        lastError = error
        errorTimes.append(now)
        errorTimes.removeAll { now.timeIntervalSince($0) > window }
        guard disabledAt == nil, errorTimes.count >= maxErrors else { return false }
        disabledAt = now
        disabledReason = "\(errorTimes.count) errors within \(Int(window))s; last: \(error)"
        return true
    }
    public var isDisabled: Bool { disabledAt != nil }
}

/// Rounds a share count down to hundredths (the exchange's size granularity).
public func roundShares(_ s: Micros) -> Micros { s - s % 10_000 }

/// Rounds a price to the market's tick: up for buys' limits, down for sells'.
public func onTick(_ p: Micros, tick: Micros, up: Bool) -> Micros {
    guard tick > 0 else { return p }  // no tick known: the price as it is (the validator judges it)
    let r = p % tick
    if r == 0 { return p }
    return up ? p - r + tick : p - r
}
