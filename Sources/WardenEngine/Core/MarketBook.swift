// The market book: the markets followed, the latest order book of each outcome token, the mid-price histories the
// strategies read, and which open markets the last snapshot gave no book for. Pure: snapshots, deltas and
// discoveries come in as values with their observation times; nothing here reads a clock or the network.
public import Foundation
public import WardenCore

public struct MarketBook: Sendable {
    public private(set) var markets: [String: Market] = [:] { didSet { ordered = nil; openTokensCache = nil; marketsChanged = true } }
    public private(set) var books: [String: OrderBook] = [:]
    /// Mid prices per token, oldest first, at most `historyLength` of them.
    public private(set) var midHistory: [String: [Micros]] = [:]
    /// Tokens the latest snapshot returned a book for.
    public private(set) var snapshotTokens: Set<String> = []
    /// Open markets the latest snapshot gave no book for one of their outcomes (ids in order).
    public private(set) var noBookMarkets: [String] = []
    /// How many mids each token keeps (the longest history a strategy reads, at least 10).
    public let historyLength: Int
    /// The markets in trading order (by id) with their ids, kept until a market changes (every cycle walks them twice;
    /// a lookup by id per market cost more than the walk).
    private var ordered: (ids: [String], markets: [Market])?
    private var openTokensCache: [String]?
    /// A market was added or replaced since the books' tick sizes were last carried onto the markets.
    private var marketsChanged = true
    /// The market of each outcome token (a delta or a market-channel event names tokens only).
    private var marketOfToken: [String: String] = [:]

    public init(historyLength: Int) { self.historyLength = max(historyLength, 10) }

    // MARK: - Markets

    /// The markets a discovery found replace the followed set; a market not found again is kept while `keep` says so
    /// (a held market must stay marked and settle).
    public mutating func discovered(_ found: [Market], keep: (String) -> Bool) {
        var fresh: [String: Market] = [:]
        for m in found { fresh[m.id] = m }
        for (id, m) in markets where fresh[id] == nil && keep(id) { fresh[id] = m }
        markets = fresh
        marketOfToken = [:]
        for m in fresh.values { for t in m.tokens { marketOfToken[t.tokenID] = m.id } }
    }

    /// One market looked up again (a resolution check).
    public mutating func update(_ market: Market) {
        markets[market.id] = market
        for t in market.tokens { marketOfToken[t.tokenID] = market.id }
    }

    public func marketID(of token: String) -> String? { marketOfToken[token] }

    /// Every outcome token of the open markets (what a snapshot asks for and the feed follows), in market order.
    public mutating func openTokens() -> [String] {
        if let openTokensCache { return openTokensCache }
        let tokens = orderedMarkets().filter { !$0.closed }.flatMap { $0.tokens.map(\.tokenID) }
        openTokensCache = tokens
        return tokens
    }

    /// Market ids in trading order (by id), computed once per change of the markets.
    public mutating func orderedMarketIDs() -> [String] { orderedBoth().ids }

    /// The markets in trading order (by id), computed once per change of the markets.
    public mutating func orderedMarkets() -> [Market] { orderedBoth().markets }

    private mutating func orderedBoth() -> (ids: [String], markets: [Market]) {
        if let ordered { return ordered }
        let ids = markets.keys.sorted()
        let both = (ids, ids.map { markets[$0]! })
        ordered = both
        return both
    }

    // MARK: - Books

    /// A REST snapshot of the books of `requested` tokens. A token the answer left out has no book now (never its
    /// old one). `observedNoLaterThan` caps the observation time (a fetch begun before a stall or suspend is as old
    /// as its start). `inspect` sees each book being replaced with its snapshot, before it is replaced (drift).
    /// The book's content hash decides whether it changed; its tick size and minimum win over the market listing's.
    public mutating func ingest(_ snapshot: [OrderBook], requested: [String], observedNoLaterThan cap: Date?,
                                inspect: (_ old: OrderBook, _ snapshot: OrderBook) -> Void = { _, _ in }) {
        snapshotTokens = Set(snapshot.map(\.tokenID))
        // The markets of the tokens asked for (the open markets') and not answered: one pass, and nothing more when
        // every token was answered.
        var bookless = Set<String>()
        for t in requested where !snapshotTokens.contains(t) {
            books[t] = nil
            if let id = marketOfToken[t], markets[id]?.closed == false { bookless.insert(id) }
        }
        noBookMarkets = bookless.sorted()
        var ticksMoved = false
        for var b in snapshot {
            if let cap { b.observedAt = min(b.observedAt, cap) }
            // One hash lookup per book: the old book is read and replaced through its index. Frozen is judged by
            // content (the hash), aged by our own observation of the first answer with it.
            if let i = books.index(forKey: b.tokenID) {
                let old = books.values[i]
                inspect(old, b)
                b.changedAt = old.sameContent(as: b) ? (old.changedAt ?? old.observedAt) : b.observedAt
                if old.tickSize != b.tickSize || old.minOrderSize != b.minOrderSize { ticksMoved = true }
                books.values[i] = b
            } else {
                b.changedAt = b.observedAt
                ticksMoved = true
                books[b.tokenID] = b
            }
            if let mid = b.mid { appendMid(mid, token: b.tokenID) }
        }
        if ticksMoved || marketsChanged { carryTicks() }
    }

    /// The book's tick and minimum are authoritative over the market listing's.
    private mutating func carryTicks() {
        for (id, var m) in markets {
            guard let b = m.tokens.first.flatMap({ books[$0.tokenID] }),
                  m.tickSize != b.tickSize || m.minOrderSize < b.minOrderSize else { continue }
            m.tickSize = b.tickSize
            m.minOrderSize = max(m.minOrderSize, b.minOrderSize)
            markets[id] = m
        }
        marketsChanged = false
    }

    private mutating func appendMid(_ mid: Micros, token: String) {
        let keep = historyLength
        if let i = midHistory.index(forKey: token) {
            midHistory.values[i].append(mid)
            if midHistory.values[i].count > keep { midHistory.values[i].removeFirst(midHistory.values[i].count - keep) }
        } else {
            midHistory[token] = [mid]
        }
    }

    /// A whole book pushed by the market channel replaces ours (keeping our tick and minimum); false when we hold
    /// no book for the token (nothing to replace: the next snapshot brings it).
    public mutating func replace(with pushed: OrderBook, at: Date) -> Bool {
        guard let i = books.index(forKey: pushed.tokenID) else { return false }
        var b = pushed
        let old = books.values[i]
        b.keepTickAndMinimum(of: old)
        b.changedAt = old.sameContent(as: b) ? (old.changedAt ?? old.observedAt) : at
        books.values[i] = b
        return true
    }

    /// One price level changed (a market-channel delta); false when we hold no book for the token.
    public mutating func apply(_ side: BookSide, token: String, price: Micros, size: Micros, hash: String?, at: Date) -> Bool {
        guard let i = books.index(forKey: token) else { return false }
        books.values[i].apply(side, price: price, size: size)
        if let hash { books.values[i].hash = hash }
        books.values[i].observedAt = at
        books.values[i].changedAt = at
        return true
    }

    /// The token's book is no longer valid (its tick size changed): gone until the next snapshot.
    public mutating func drop(token: String) { books[token] = nil }

    // MARK: - Reading

    /// The open markets accepting orders whose every outcome has a book `usable` accepts, in trading order, with
    /// those books (what every strategy looks at in one cycle, built once).
    public mutating func tradable(_ usable: (OrderBook) -> Bool) -> [(market: Market, books: [String: OrderBook])] {
        var out: [(market: Market, books: [String: OrderBook])] = []
        for m in orderedMarkets() {
            guard m.active && !m.closed && m.acceptingOrders else { continue }
            var found = [String: OrderBook](minimumCapacity: m.tokens.count)
            for t in m.tokens {
                guard let b = books[t.tokenID], usable(b) else { break }
                found[t.tokenID] = b
            }
            guard found.count == m.tokens.count else { continue }
            out.append((m, found))
        }
        return out
    }

    /// Best bid of every token a position is held in (the only marks equity reads).
    public func marks(_ accounts: some Sequence<Account>) -> [String: Micros] {
        var out: [String: Micros] = [:]
        for a in accounts {
            for p in a.positions.values where out[p.tokenID] == nil {
                if let bid = books[p.tokenID]?.bestBid { out[p.tokenID] = bid }
            }
        }
        return out
    }

    /// When the oldest of a market's books last changed content (nil: no book at all).
    public func oldestChange(of market: Market) -> Date? {
        var oldest: Date?
        for t in market.tokens {
            guard let b = books[t.tokenID] else { continue }
            let at = b.changedAt ?? b.observedAt
            if oldest.map({ at < $0 }) ?? true { oldest = at }
        }
        return oldest
    }
}
