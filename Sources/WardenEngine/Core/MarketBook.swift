// The market book: the markets followed, the latest order book of each outcome token, the mid-price histories the
// strategies read, and which open markets the last snapshot gave no book for. Pure: snapshots, deltas and
// discoveries come in as values with their observation times; nothing here reads a clock or the network.
public import Foundation
public import WardenCore

public struct MarketBook: Sendable {
    public private(set) var markets: [String: Market] = [:] { didSet { ordered = nil; openTokensCache = nil; openTokenSlots = []; marketsChanged = true } }
    /// Open markets the latest snapshot gave no book for one of their outcomes (ids in order).
    public private(set) var noBookMarkets: [String] = []
    /// How many mids each token keeps (the longest history a strategy reads, at least 10).
    public let historyLength: Int

    /// Tokens are interned: each followed token has a slot (its book, its mids, the snapshot round that last answered
    /// it), found through `slotOf` once per book that comes in; a cycle's walk over the markets reads slots by index
    /// and hashes no token, and the snapshots it gives strategies are views onto the slots (no book copied). Slots of
    /// tokens no longer followed are dropped when the market set is replaced.
    typealias Slot = TokenSlot
    private var slotOf: [String: Int] = [:]
    private var slots: [Slot] = []
    private var round = 0

    /// The markets in trading order (by id) with their ids and their tokens' slots, kept until a market changes
    /// (every cycle walks them twice; a lookup by id per market cost more than the walk).
    private var ordered: (ids: [String], markets: [Market], slots: [[Int]])?
    private var openTokensCache: [String]?
    /// The slot of each of `openTokensCache`'s tokens: a snapshot usually answers in the order asked, so the k-th
    /// book's slot is guessed from here and checked against the slot's token before any hashing.
    private var openTokenSlots: [Int] = []
    /// A market was added or replaced since the books' tick sizes were last carried onto the markets.
    private var marketsChanged = true
    /// The market of each outcome token (a delta or a market-channel event names tokens only).
    private var marketOfToken: [String: String] = [:]

    public init(historyLength: Int) { self.historyLength = max(historyLength, 10) }

    // MARK: - Slots

    private mutating func slot(for token: String) -> Int {
        if let i = slotOf[token] { return i }
        slots.append(Slot(token: token))
        slotOf[token] = slots.count - 1
        return slots.count - 1
    }

    /// Keeps the slots of the followed markets' tokens (with their books and mids), in market order.
    private mutating func compactSlots() {
        var kept: [Slot] = [], index: [String: Int] = [:]
        for m in markets.values {
            for t in m.tokens where index[t.tokenID] == nil {
                index[t.tokenID] = kept.count
                kept.append(slotOf[t.tokenID].map { slots[$0] } ?? Slot(token: t.tokenID))
            }
        }
        slots = kept
        slotOf = index
    }

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
        compactSlots()
    }

    /// One market looked up again (a resolution check).
    public mutating func update(_ market: Market) {
        markets[market.id] = market
        for t in market.tokens {
            marketOfToken[t.tokenID] = market.id
            _ = slot(for: t.tokenID)
        }
    }

    public func marketID(of token: String) -> String? { marketOfToken[token] }

    /// Every outcome token of the open markets (what a snapshot asks for and the feed follows), in market order.
    public mutating func openTokens() -> [String] {
        if let openTokensCache { return openTokensCache }
        let tokens = orderedMarkets().filter { !$0.closed }.flatMap { $0.tokens.map(\.tokenID) }
        openTokensCache = tokens
        openTokenSlots = tokens.map { slot(for: $0) }
        return tokens
    }

    /// Market ids in trading order (by id), computed once per change of the markets.
    public mutating func orderedMarketIDs() -> [String] { orderedAll().ids }

    /// The markets in trading order (by id), computed once per change of the markets.
    public mutating func orderedMarkets() -> [Market] { orderedAll().markets }

    private mutating func orderedAll() -> (ids: [String], markets: [Market], slots: [[Int]]) {
        if let ordered { return ordered }
        let ids = markets.keys.sorted()
        let list = ids.map { markets[$0]! }
        var tokenSlots: [[Int]] = []
        tokenSlots.reserveCapacity(list.count)
        for m in list { tokenSlots.append(m.tokens.map { slot(for: $0.tokenID) }) }
        let all = (ids, list, tokenSlots)
        ordered = all
        return all
    }

    // MARK: - Books

    /// The book of a token, if one is held.
    public func book(_ token: String) -> OrderBook? { slotOf[token].flatMap { slots[$0].book } }

    /// The mid prices of a token, oldest first (at most `historyLength`).
    public func mids(_ token: String) -> [Micros] { slotOf[token].map { slots[$0].mids } ?? [] }

    /// Whether the latest snapshot returned a book for the token.
    public func answered(_ token: String) -> Bool { slotOf[token].map { slots[$0].answered == round && round > 0 } ?? false }

    /// Every book held, by token (a copy built for the caller: status and tests; the cycle reads slots).
    public var books: [String: OrderBook] {
        var out: [String: OrderBook] = [:]
        for s in slots { if let b = s.book { out[s.token] = b } }
        return out
    }

    /// Every token's mids (a copy built for the caller).
    public var midHistory: [String: [Micros]] {
        var out: [String: [Micros]] = [:]
        for s in slots where !s.mids.isEmpty { out[s.token] = s.mids }
        return out
    }

    /// Tokens the latest snapshot returned a book for (a copy built for the caller).
    public var snapshotTokens: Set<String> { Set(slots.filter { $0.answered == round && round > 0 }.map(\.token)) }

    /// A REST snapshot of the books of `requested` tokens. A token the answer left out has no book now (never its
    /// old one). `observedNoLaterThan` caps the observation time (a fetch begun before a stall or suspend is as old
    /// as its start). `inspect` sees each book being replaced with its snapshot, before it is replaced (drift).
    /// The book's content hash decides whether it changed; its tick size and minimum win over the market listing's.
    public mutating func ingest(_ snapshot: [OrderBook], requested: [String], observedNoLaterThan cap: Date?,
                                inspect: ((_ old: OrderBook, _ snapshot: OrderBook) -> Void)? = nil) {
        round += 1
        var ticksMoved = false
        // The book's slot (which holds the old book and the mids): guessed from the open tokens' order, else one
        // hash lookup.
        var guess = 0
        for var b in snapshot {
            let observed = cap.map { min(b.observedAt, $0) } ?? b.observedAt
            let i: Int
            if guess < openTokenSlots.count, slots[openTokenSlots[guess]].token == b.tokenID {
                i = openTokenSlots[guess]
                guess += 1
            } else if guess + 1 < openTokenSlots.count, slots[openTokenSlots[guess + 1]].token == b.tokenID {
                i = openTokenSlots[guess + 1]  // the token before it was not answered
                guess += 2
            } else {
                i = slot(for: b.tokenID)
            }
            slots[i].answered = round
            defer { slots[i].moved = false }
            // Frozen is judged by content (the hash), aged by our own observation of the first answer with it.
            if slots[i].book != nil {
                if let inspect { inspect(slots[i].book!, b) }
                let same = slots[i].book!.sameContent(as: b)
                // Kept when it is the very same content: the same hash (and, if deltas moved the book held since the
                // last snapshot, the same levels: the snapshot is the authority), or without hashes the same levels.
                if same && slots[i].book!.hash == b.hash && slots[i].book!.tickSize == b.tickSize && slots[i].book!.minOrderSize == b.minOrderSize
                    && (b.hash == nil || !slots[i].moved || slots[i].book!.sameLevels(as: b)) {
                    // The same book answered again: only its times move (the book held is kept, nothing copied).
                    if slots[i].book!.changedAt == nil { slots[i].book!.changedAt = slots[i].book!.observedAt }
                    slots[i].book!.observedAt = observed
                    slots[i].book!.bookTime = b.bookTime
                    appendMid(b.mid, to: i)
                    continue
                }
                if b.observedAt != observed { b.observedAt = observed }
                b.changedAt = same ? (slots[i].book!.changedAt ?? slots[i].book!.observedAt) : observed
                if slots[i].book!.tickSize != b.tickSize || slots[i].book!.minOrderSize != b.minOrderSize { ticksMoved = true }
            } else {
                if b.observedAt != observed { b.observedAt = observed }
                b.changedAt = observed
                ticksMoved = true
            }
            appendMid(b.mid, to: i)
            slots[i].book = b
        }
        // The tokens asked for and not answered have no book now; the open markets among theirs are "no book". The
        // answer usually comes in the order asked: checked in step, and by slot only for what is out of step.
        var bookless = Set<String>()
        var k = 0
        for t in requested {
            if k < snapshot.count && snapshot[k].tokenID == t { k += 1; continue }
            let i = slot(for: t)
            guard slots[i].answered != round else { continue }
            slots[i].book = nil
            if let id = marketOfToken[t], markets[id]?.closed == false { bookless.insert(id) }
        }
        noBookMarkets = bookless.sorted()
        if ticksMoved || marketsChanged { carryTicks() }
    }

    private mutating func appendMid(_ mid: Micros?, to i: Int) {
        guard let mid else { return }
        slots[i].mids.append(mid)
        if slots[i].mids.count > historyLength { slots[i].mids.removeFirst(slots[i].mids.count - historyLength) }
    }

    /// The book's tick and minimum are authoritative over the market listing's.
    private mutating func carryTicks() {
        for (id, var m) in markets {
            guard let b = m.tokens.first.flatMap({ book($0.tokenID) }),
                  m.tickSize != b.tickSize || m.minOrderSize < b.minOrderSize else { continue }
            m.tickSize = b.tickSize
            m.minOrderSize = max(m.minOrderSize, b.minOrderSize)
            markets[id] = m
        }
        marketsChanged = false
    }

    /// A whole book pushed by the market channel replaces ours (keeping our tick and minimum); false when we hold
    /// no book for the token (nothing to replace: the next snapshot brings it).
    public mutating func replace(with pushed: OrderBook, at: Date) -> Bool {
        guard let i = slotOf[pushed.tokenID], let old = slots[i].book else { return false }
        var b = pushed
        b.keepTickAndMinimum(of: old)
        b.changedAt = old.sameContent(as: b) ? (old.changedAt ?? old.observedAt) : at
        slots[i].book = b
        slots[i].moved = true
        return true
    }

    /// One price level changed (a market-channel delta); false when we hold no book for the token.
    public mutating func apply(_ side: BookSide, token: String, price: Micros, size: Micros, hash: String?, at: Date) -> Bool {
        guard let i = slotOf[token], slots[i].book != nil else { return false }
        slots[i].book!.apply(side, price: price, size: size)
        slots[i].moved = true
        if let hash { slots[i].book!.hash = hash }
        slots[i].book!.observedAt = at
        slots[i].book!.changedAt = at
        return true
    }

    /// The token's book is no longer valid (its tick size changed): gone until the next snapshot.
    public mutating func drop(token: String) {
        if let i = slotOf[token] { slots[i].book = nil }
    }

    // MARK: - Reading

    /// The open markets accepting orders whose every outcome has a book `usable` accepts, in trading order, each as
    /// the snapshot every strategy is shown (its books and mids), built once per cycle with no lookup by token.
    public mutating func tradable(at now: Date, _ usable: (OrderBook) -> Bool) -> [MarketSnapshot] {
        let all = orderedAll()
        var out: [MarketSnapshot] = []
        for n in all.markets.indices {
            guard all.markets[n].active && !all.markets[n].closed && all.markets[n].acceptingOrders else { continue }
            let tokenSlots = all.slots[n]
            var usableBooks = true
            for i in tokenSlots where !(slots[i].book.map(usable) ?? false) { usableBooks = false; break }
            guard usableBooks else { continue }
            out.append(MarketSnapshot(markets: all.markets, index: n, tokenBooks: TokenMap(table: slots, index: tokenSlots) { $0.pointee.book },
                                      tokenMids: TokenMap(table: slots, index: tokenSlots) { $0.pointee.mids }, now: now))
        }
        return out
    }

    /// Best bid of every token a position is held in (the only marks equity reads).
    public func marks(_ accounts: some Sequence<Account>) -> [String: Micros] {
        var out: [String: Micros] = [:]
        for a in accounts {
            for p in a.positions.values where out[p.tokenID] == nil {
                if let bid = book(p.tokenID)?.bestBid { out[p.tokenID] = bid }
            }
        }
        return out
    }

    /// When the oldest of a market's books last changed content (nil: no book at all).
    public func oldestChange(of market: Market) -> Date? { oldestChange(ofSlots: market.tokens.compactMap { slotOf[$0.tokenID] }) }

    private func oldestChange(ofSlots tokenSlots: [Int]) -> Date? {
        var oldest: Date?
        for i in tokenSlots {
            guard let b = slots[i].book else { continue }
            let at = b.changedAt ?? b.observedAt
            if oldest.map({ at < $0 }) ?? true { oldest = at }
        }
        return oldest
    }

    /// Each open market in trading order with when the oldest of its books last changed content (nil: no book), read
    /// by slot (the cycle's staleness walk).
    public mutating func openMarketAges() -> [(marketID: String, oldestChange: Date?)] {
        let all = orderedAll()
        var out: [(marketID: String, oldestChange: Date?)] = []
        out.reserveCapacity(all.markets.count)
        for n in all.markets.indices where !all.markets[n].closed { out.append((all.markets[n].id, oldestChange(ofSlots: all.slots[n]))) }
        return out
    }
}
