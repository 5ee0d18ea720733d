// An order book normalised best-first, stamped with when we saw it and the book's own time.
public import Foundation

public struct BookLevel: Sendable, Equatable, Codable {
    public var price: Micros
    public var size: Micros
    public init(price: Micros, size: Micros) {
        self.price = price
        self.size = size
    }
}

public enum BookSide: String, Sendable, Equatable, Codable { case bid, ask }

public struct OrderBook: Sendable, Equatable, Codable {
    public var tokenID: String
    /// Best (highest) first.
    public var bids: [BookLevel]
    /// Best (lowest) first.
    public var asks: [BookLevel]
    public var tickSize: Micros
    public var minOrderSize: Micros
    /// The exchange's timestamp of the book, when it sent one.
    public var bookTime: Date?
    /// When this process received it; the basis of every staleness decision.
    public var observedAt: Date
    /// The exchange's content hash: unchanged while the book has not moved (its `timestamp` is only when the
    /// answer was built, so it says nothing about that).
    public var hash: String?
    /// Our observation time of the first answer with this content (kept by the engine across refreshes):
    /// a book whose content has not changed since long ago is frozen, however fresh the answer.
    public var changedAt: Date?

    /// Builds a book from levels in any order (the CLOB sends best last); sorts best first and drops empty levels.
    public init(tokenID: String, bids: [BookLevel], asks: [BookLevel], tickSize: Micros, minOrderSize: Micros,
                bookTime: Date?, observedAt: Date, hash: String? = nil) {
        self.tokenID = tokenID
        self.bids = bids.filter { $0.size > 0 }.sorted { $0.price > $1.price }
        self.asks = asks.filter { $0.size > 0 }.sorted { $0.price < $1.price }
        self.tickSize = tickSize
        self.minOrderSize = minOrderSize
        self.bookTime = bookTime
        self.observedAt = observedAt
        self.hash = hash
    }

    /// Same content as `other`: the same hash when both have one, else the same levels, tick and minimum.
    public func sameContent(as other: OrderBook) -> Bool {
        if let h = hash, let o = other.hash { return h == o }
        return bids == other.bids && asks == other.asks && tickSize == other.tickSize && minOrderSize == other.minOrderSize
    }

    public var bestBid: Micros? { bids.first?.price }
    public var bestAsk: Micros? { asks.first?.price }
    public var mid: Micros? {
        guard let b = bestBid, let a = bestAsk else { return nil }
        return (a + b) / 2
    }
    /// Shares available at or better than `limit` on the side a buyer (asks) or seller (bids) takes.
    public func depth(buying: Bool, limit: Micros) -> Micros {
        (buying ? asks.filter { $0.price <= limit } : bids.filter { $0.price >= limit }).reduce(0) { $0 + $1.size }
    }

    /// One level set to `size` (0 removes it), keeping each side best first: a binary search and one insert,
    /// replace or remove.
    public mutating func apply(_ side: BookSide, price: Micros, size: Micros) {
        switch side {
        case .bid: Self.set(&bids, price: price, size: size, better: >)
        case .ask: Self.set(&asks, price: price, size: size, better: <)
        }
    }

    /// The bids' and asks' levels equal `other`'s (hash and times aside): the content check of drift.
    public func sameLevels(as other: OrderBook) -> Bool { bids == other.bids && asks == other.asks }

    /// The market channel's `book` events carry no tick size or minimum size: a book from one keeps those of the
    /// book it replaces (live, and in a replay of what the channel sent).
    public mutating func keepTickAndMinimum(of old: OrderBook) {
        if tickSize == 0 { tickSize = old.tickSize }
        if minOrderSize == 0 { minOrderSize = old.minOrderSize }
    }

    static func set(_ levels: inout [BookLevel], price: Micros, size: Micros, better: (Micros, Micros) -> Bool) {
        var lo = 0, hi = levels.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if better(levels[mid].price, price) { lo = mid + 1 } else { hi = mid }
        }
        if lo < levels.count && levels[lo].price == price {
            if size > 0 { levels[lo].size = size } else { levels.remove(at: lo) }
        } else if size > 0 {
            levels.insert(BookLevel(price: price, size: size), at: lo)
        }
    }

    /// Age of what we know, by our own observation time (Gamma and CLOB answers may be cached).
    public func age(at now: Date) -> TimeInterval { now.timeIntervalSince(observedAt) }
}
