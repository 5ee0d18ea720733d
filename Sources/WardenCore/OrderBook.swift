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

/// A value whose copy is one reference (books are copied into every market's snapshot and out to every strategy,
/// each cycle; field by field that was most of a cycle at 10,000 markets): the fields live in a storage object that
/// is never changed while shared (a setter copies a shared one first).
public struct OrderBook: Sendable, Equatable, Codable {
    @usableFromInline final class Storage: @unchecked Sendable {
        @exclusivity(unchecked) @usableFromInline var tokenID: String
        @exclusivity(unchecked) @usableFromInline var bids: [BookLevel]
        @exclusivity(unchecked) @usableFromInline var asks: [BookLevel]
        @exclusivity(unchecked) @usableFromInline var tickSize: Micros
        @exclusivity(unchecked) @usableFromInline var minOrderSize: Micros
        @exclusivity(unchecked) @usableFromInline var bookTime: Date?
        @exclusivity(unchecked) @usableFromInline var observedAt: Date
        @exclusivity(unchecked) @usableFromInline var hash: String?
        @exclusivity(unchecked) @usableFromInline var changedAt: Date?
        init(tokenID: String, bids: [BookLevel], asks: [BookLevel], tickSize: Micros, minOrderSize: Micros, bookTime: Date?, observedAt: Date, hash: String?, changedAt: Date?) {
            self.tokenID = tokenID
            self.bids = bids
            self.asks = asks
            self.tickSize = tickSize
            self.minOrderSize = minOrderSize
            self.bookTime = bookTime
            self.observedAt = observedAt
            self.hash = hash
            self.changedAt = changedAt
        }
        func copy() -> Storage { Storage(tokenID: tokenID, bids: bids, asks: asks, tickSize: tickSize, minOrderSize: minOrderSize, bookTime: bookTime, observedAt: observedAt, hash: hash, changedAt: changedAt) }
    }
    /// Assigned only with `best` beside it (a copy made by `unique` has the same levels).
    @usableFromInline var storage: Storage
    /// The best bid and ask, kept beside the reference: every strategy reads them for every market every cycle, and
    /// a trip to the storage and its level lists for each was a cache miss each.
    @usableFromInline var best: (bid: Micros?, ask: Micros?)

    @inlinable static func best(_ s: Storage) -> (bid: Micros?, ask: Micros?) { (s.bids.first?.price, s.asks.first?.price) }

    @usableFromInline mutating func unique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    public var tokenID: String {
        @inlinable _read { yield storage.tokenID }
        @inlinable _modify { unique(); yield &storage.tokenID }
    }
    /// Best (highest) first.
    public var bids: [BookLevel] {
        @inlinable _read { yield storage.bids }
        @inlinable _modify { unique(); defer { best.bid = storage.bids.first?.price }; yield &storage.bids }
    }
    /// Best (lowest) first.
    public var asks: [BookLevel] {
        @inlinable _read { yield storage.asks }
        @inlinable _modify { unique(); defer { best.ask = storage.asks.first?.price }; yield &storage.asks }
    }
    public var tickSize: Micros {
        @inlinable _read { yield storage.tickSize }
        @inlinable _modify { unique(); yield &storage.tickSize }
    }
    public var minOrderSize: Micros {
        @inlinable _read { yield storage.minOrderSize }
        @inlinable _modify { unique(); yield &storage.minOrderSize }
    }
    /// The exchange's timestamp of the book, when it sent one.
    public var bookTime: Date? {
        @inlinable _read { yield storage.bookTime }
        @inlinable _modify { unique(); yield &storage.bookTime }
    }
    /// When this process received it; the basis of every staleness decision.
    public var observedAt: Date {
        @inlinable _read { yield storage.observedAt }
        @inlinable _modify { unique(); yield &storage.observedAt }
    }
    /// The exchange's content hash: unchanged while the book has not moved (its `timestamp` is only when the
    /// answer was built, so it says nothing about that).
    public var hash: String? {
        @inlinable _read { yield storage.hash }
        @inlinable _modify { unique(); yield &storage.hash }
    }
    /// Our observation time of the first answer with this content (kept by the engine across refreshes):
    /// a book whose content has not changed since long ago is frozen, however fresh the answer.
    public var changedAt: Date? {
        @inlinable _read { yield storage.changedAt }
        @inlinable _modify { unique(); yield &storage.changedAt }
    }

    /// Builds a book from levels in any order (the CLOB sends best last); sorts best first and drops empty levels.
    public init(tokenID: String, bids: [BookLevel], asks: [BookLevel], tickSize: Micros, minOrderSize: Micros,
                bookTime: Date?, observedAt: Date, hash: String? = nil) {
        let storage = Storage(tokenID: tokenID, bids: bids.filter { $0.size > 0 }.sorted { $0.price > $1.price },
                          asks: asks.filter { $0.size > 0 }.sorted { $0.price < $1.price }, tickSize: tickSize,
                          minOrderSize: minOrderSize, bookTime: bookTime, observedAt: observedAt, hash: hash, changedAt: nil)
        self.storage = storage
        best = Self.best(storage)
    }

    public static func == (a: OrderBook, b: OrderBook) -> Bool {
        if a.storage === b.storage { return true }
        return a.tokenID == b.tokenID && a.bids == b.bids && a.asks == b.asks && a.tickSize == b.tickSize && a.minOrderSize == b.minOrderSize && a.bookTime == b.bookTime && a.observedAt == b.observedAt && a.hash == b.hash && a.changedAt == b.changedAt
    }

    enum CodingKeys: String, CodingKey { case tokenID, bids, asks, tickSize, minOrderSize, bookTime, observedAt, hash, changedAt }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let storage = Storage(tokenID: try c.decode(String.self, forKey: .tokenID), bids: try c.decode([BookLevel].self, forKey: .bids), asks: try c.decode([BookLevel].self, forKey: .asks), tickSize: try c.decode(Micros.self, forKey: .tickSize), minOrderSize: try c.decode(Micros.self, forKey: .minOrderSize), bookTime: try c.decodeIfPresent(Date.self, forKey: .bookTime), observedAt: try c.decode(Date.self, forKey: .observedAt), hash: try c.decodeIfPresent(String.self, forKey: .hash), changedAt: try c.decodeIfPresent(Date.self, forKey: .changedAt))
        self.storage = storage
        best = Self.best(storage)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tokenID, forKey: .tokenID)
        try c.encode(bids, forKey: .bids)
        try c.encode(asks, forKey: .asks)
        try c.encode(tickSize, forKey: .tickSize)
        try c.encode(minOrderSize, forKey: .minOrderSize)
        try c.encodeIfPresent(bookTime, forKey: .bookTime)
        try c.encode(observedAt, forKey: .observedAt)
        try c.encodeIfPresent(hash, forKey: .hash)
        try c.encodeIfPresent(changedAt, forKey: .changedAt)
    }

    /// Same content as `other`: the same hash when both have one, else the same levels, tick and minimum.
    public func sameContent(as other: OrderBook) -> Bool {
        if let h = hash, let o = other.hash { return h == o }
        return bids == other.bids && asks == other.asks && tickSize == other.tickSize && minOrderSize == other.minOrderSize
    }

    @inlinable public var bestBid: Micros? { best.bid }
    @inlinable public var bestAsk: Micros? { best.ask }
    @inlinable public var mid: Micros? {
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
