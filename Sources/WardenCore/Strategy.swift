// Strategies: pure functions of a market snapshot and their own positions to order intents.
public import Foundation

/// What a strategy sees of one market. A value (a copy is one reference: strategies are handed it for every market
/// every cycle, and copying its fields one by one cost more than their own work); read as plain stored properties.
public struct MarketSnapshot: Sendable {
    @usableFromInline final class Storage: @unchecked Sendable {
        // Never changed while shared: every setter below copies a shared storage first. The market is read from a
        // list (the engine's markets in trading order, shared by every snapshot of a cycle) rather than copied.
        @exclusivity(unchecked) @usableFromInline var markets: [Market]
        @exclusivity(unchecked) @usableFromInline var marketIndex: Int
        @exclusivity(unchecked) @usableFromInline var books: TokenMap<OrderBook>
        @exclusivity(unchecked) @usableFromInline var midHistory: TokenMap<[Micros]>
        @exclusivity(unchecked) @usableFromInline var now: Date
        init(markets: [Market], marketIndex: Int, books: TokenMap<OrderBook>, midHistory: TokenMap<[Micros]>, now: Date) {
            self.markets = markets; self.marketIndex = marketIndex; self.books = books; self.midHistory = midHistory; self.now = now
        }
    }
    @usableFromInline var storage: Storage

    @usableFromInline mutating func unique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(markets: [storage.markets[storage.marketIndex]], marketIndex: 0, books: storage.books,
                              midHistory: storage.midHistory, now: storage.now)
        }
    }

    public var market: Market {
        @inlinable _read { yield storage.markets[storage.marketIndex] }
        @inlinable _modify { unique(); yield &storage.markets[storage.marketIndex] }
    }
    /// tokenID → book of this market's outcomes, only books fresh enough to trade on.
    public var books: TokenMap<OrderBook> {
        @inlinable _read { yield storage.books }
        @inlinable _modify { unique(); yield &storage.books }
    }
    /// tokenID → recent mid prices of this market's outcomes, oldest first.
    public var midHistory: TokenMap<[Micros]> {
        @inlinable _read { yield storage.midHistory }
        @inlinable _modify { unique(); yield &storage.midHistory }
    }
    public var now: Date {
        @inlinable get { storage.now }
        @inlinable set { unique(); storage.now = newValue }
    }

    public init(market: Market, books: [String: OrderBook], midHistory: [String: [Micros]] = [:], now: Date) {
        storage = Storage(markets: [market], marketIndex: 0, books: TokenMap(books), midHistory: TokenMap(midHistory), now: now)
    }
    public init(market: Market, tokenBooks: TokenMap<OrderBook>, tokenMids: TokenMap<[Micros]>, now: Date) {
        storage = Storage(markets: [market], marketIndex: 0, books: tokenBooks, midHistory: tokenMids, now: now)
    }
    /// The market at `index` of `markets` (a list every snapshot of a cycle shares).
    public init(markets: [Market], index: Int, tokenBooks: TokenMap<OrderBook>, tokenMids: TokenMap<[Micros]>, now: Date) {
        storage = Storage(markets: markets, marketIndex: index, books: tokenBooks, midHistory: tokenMids, now: now)
    }
}

/// A followed outcome token as the engine holds it: its latest book and its recent mid prices.
public struct TokenSlot: Sendable {
    public var token: String
    public var book: OrderBook?
    public var mids: [Micros]
    /// The engine's bookkeeping: the snapshot round that last answered the token, and whether the market channel
    /// moved its book since the last snapshot.
    public var answered: Int
    public var moved: Bool
    public init(token: String, book: OrderBook? = nil, mids: [Micros] = [], answered: Int = 0, moved: Bool = false) {
        self.token = token; self.book = book; self.mids = mids; self.answered = answered; self.moved = moved
    }
}

/// A few values keyed by token id (a market's outcomes: usually two), read as a dictionary is: `books[tokenID]`.
/// Looked up by comparing ids, which for two entries costs less than hashing one. Either a list of its own, or a
/// view onto the engine's token table (the market's slots in it, and which field of a slot is the value): a view
/// is made without copying a book. Inlinable, so a strategy's module gets it specialized for its value type.
@frozen
public struct TokenMap<Value: Sendable>: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    @usableFromInline enum Store: Sendable {
        case list(ids: [String], items: [Value])
        /// `read` gives the value of the slot it points at (a field read in place: the slot is never copied).
        case slots(table: [TokenSlot], index: [Int], read: @Sendable (UnsafePointer<TokenSlot>) -> Value?)
    }
    @usableFromInline var store: Store

    @inlinable public init() { store = .list(ids: [], items: []) }
    @inlinable public init(ids: [String], values: [Value]) {
        precondition(ids.count == values.count, "TokenMap: \(ids.count) ids for \(values.count) values")
        store = .list(ids: ids, items: values)
    }
    /// From a dictionary, in key order.
    public init(_ dictionary: [String: Value]) {
        let sorted = dictionary.sorted { $0.key < $1.key }
        store = .list(ids: sorted.map(\.key), items: sorted.map(\.value))
    }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self.init()
        for (k, v) in elements { self[k] = v }
    }
    /// A view of `index`'s slots of `table`, each giving `read(slot)` (a slot giving nil is left out).
    public init(table: [TokenSlot], index: [Int], read: @escaping @Sendable (UnsafePointer<TokenSlot>) -> Value?) {
        store = .slots(table: table, index: index, read: read)
    }

    @inlinable public subscript(_ key: String) -> Value? {
        get {
            switch store {
            case .list(let ids, let items):
                for i in ids.indices where ids[i] == key { return items[i] }
            case .slots(let table, let index, let read):
                return table.withUnsafeBufferPointer { slots in
                    for i in index where slots[i].token == key { return read(slots.baseAddress! + i) }
                    return nil
                }
            }
            return nil
        }
        set {
            var (ids, items) = (keys, values)
            if let i = ids.firstIndex(of: key) {
                if let newValue { items[i] = newValue } else { ids.remove(at: i); items.remove(at: i) }
            } else if let newValue {
                ids.append(key); items.append(newValue)
            }
            store = .list(ids: ids, items: items)
        }
    }

    @inlinable public var count: Int { keys.count }
    @inlinable public var isEmpty: Bool { keys.isEmpty }
    @inlinable public var keys: [String] {
        switch store {
        case .list(let ids, _): return ids
        case .slots(let table, let index, let read):
            return table.withUnsafeBufferPointer { slots in index.filter { read(slots.baseAddress! + $0) != nil }.map { slots[$0].token } }
        }
    }
    @inlinable public var values: [Value] {
        switch store {
        case .list(_, let items): return items
        case .slots(let table, let index, let read):
            return table.withUnsafeBufferPointer { slots in index.compactMap { read(slots.baseAddress! + $0) } }
        }
    }
    public func makeIterator() -> Zip2Sequence<[String], [Value]>.Iterator { zip(keys, values).makeIterator() }
}

extension TokenMap where Value == OrderBook {
    /// The best bid and ask of `key`'s book, read without copying the book (nil: no book). A strategy that looks at
    /// every market every cycle and trades in few reads these first and the book only when it acts.
    @inlinable public func best(_ key: String) -> (bid: Micros?, ask: Micros?)? {
        switch store {
        case .list(let ids, let items):
            for i in ids.indices where ids[i] == key { return items[i].best }
        case .slots(let table, let index, _):
            return table.withUnsafeBufferPointer { slots in
                for i in index where slots[i].token == key { return slots[i].book?.best }
                return nil
            }
        }
        return nil
    }
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
        if let problem = intent.orderTypeProblem { return problem }
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
