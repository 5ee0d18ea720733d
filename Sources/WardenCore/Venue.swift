// Where orders go (DESIGN §4.4): a venue takes submit and cancel requests and reports what became of each order.
// The paper venue is the first: takers walk the real book (PaperBroker), resting orders wait at their limit and
// fill when the book crosses them. Pure: no clock (time comes in), no I/O, no randomness.
public import Foundation

public enum VenueRequest: Sendable, Equatable {
    case submit(OrderIntent)
    case cancel(intentID: String, reason: String)
    /// Every open order, or one strategy's.
    case cancelAll(strategy: String?, reason: String)
}

/// What a venue says about an order.
public enum VenueReport: Sendable, Equatable {
    /// On the book, resting `open` shares at its limit (after any part that filled at once, reported before).
    case resting(intentID: String, open: Micros)
    /// Some or all of it traded; `open` is what still rests (0: the order is done).
    case filled(Fill, open: Micros)
    /// Taken off the book (asked for, or the market closed) with `unfilled` shares never traded.
    case cancelled(intentID: String, unfilled: Micros, reason: String)
    /// Refused as a whole: nothing traded.
    case rejected(intentID: String, reason: String)
    /// A live venue took the order under this id (its state follows in other reports).
    case placed(intentID: String, orderID: String)
    /// A live venue's answer was lost (a timeout, a 500): the order may or may not exist. Never re-sent; reconciliation
    /// finds it or rules it out.
    case unknown(intentID: String, reason: String)

    public var intentID: String {
        switch self {
        case .resting(let id, _), .cancelled(let id, _, _), .rejected(let id, _), .placed(let id, _), .unknown(let id, _): return id
        case .filled(let f, _): return f.intentID
        }
    }
}

/// An order resting on a venue.
public struct RestingOrder: Sendable, Equatable, Codable {
    public var intent: OrderIntent
    /// Shares still open.
    public var open: Micros
    public var since: Date
    public init(intent: OrderIntent, open: Micros, since: Date) { self.intent = intent; self.open = open; self.since = since }
}

public protocol Venue: Sendable {
    var name: String { get }
    /// Orders resting now, oldest first.
    var openOrders: [RestingOrder] { get }
    /// Performs one request against the current market and book of its token.
    mutating func handle(_ request: VenueRequest, market: Market?, book: OrderBook?, at now: Date) -> [VenueReport]
    /// A token's book changed: resting orders it now crosses fill.
    mutating func bookChanged(_ book: OrderBook, market: Market, at now: Date) -> [VenueReport]
    /// Whether `bookChanged` would do anything (a resting order the book crosses, or one in a closed market): the
    /// engine checkpoints its state before a change that may fill, and most books cross nothing.
    func affected(by book: OrderBook, market: Market) -> Bool
    /// The open order of this intent, if it rests.
    func openOrder(_ id: String) -> RestingOrder?
}

extension Venue {
    public func affected(by book: OrderBook, market: Market) -> Bool { true }
    public func openOrder(_ id: String) -> RestingOrder? { openOrders.first { $0.intent.id == id } }
}

public struct PaperVenue: Venue {
    public var broker: PaperBroker
    /// Oldest first (deterministic fills when several cross at once). A list, not a table: the open orders are read
    /// whole several times a cycle, and there are tens of them, not thousands.
    var resting: [RestingOrder] = []

    public init(broker: PaperBroker = PaperBroker()) { self.broker = broker }

    public var name: String { "paper" }
    public var openOrders: [RestingOrder] { resting }

    public func openOrder(_ id: String) -> RestingOrder? { resting.first { $0.intent.id == id } }

    /// Puts an order back on the book as it was (orders acknowledged before a restart are not lost with it).
    public mutating func restore(_ r: RestingOrder) {
        guard openOrder(r.intent.id) == nil, r.open > 0 else { return }
        resting.append(r)
    }

    public mutating func handle(_ request: VenueRequest, market: Market?, book: OrderBook?, at now: Date) -> [VenueReport] {
        switch request {
        case .submit(let intent):
            guard let market else { return [.rejected(intentID: intent.id, reason: "market \(intent.marketID) is unknown")] }
            guard let book else { return [.rejected(intentID: intent.id, reason: "no order book for token \(intent.tokenID)")] }
            guard openOrder(intent.id) == nil else { return [.rejected(intentID: intent.id, reason: "intent \(intent.id) is already on the book")] }
            return submit(intent, market: market, book: book, at: now)
        case .cancel(let id, let reason):
            guard let r = remove(id) else { return [] }
            return [.cancelled(intentID: id, unfilled: r.open, reason: reason)]
        case .cancelAll(let strategy, let reason):
            let ids = resting.filter { r in strategy.map { r.intent.strategy == $0 } ?? true }.map(\.intent.id)
            return ids.compactMap { id in remove(id).map { .cancelled(intentID: id, unfilled: $0.open, reason: reason) } }
        }
    }

    func crosses(_ intent: OrderIntent, _ book: OrderBook) -> Bool {
        intent.side == .buy ? book.bestAsk.map { $0 <= intent.limitPrice } ?? false : book.bestBid.map { $0 >= intent.limitPrice } ?? false
    }

    mutating func submit(_ intent: OrderIntent, market: Market, book: OrderBook, at now: Date) -> [VenueReport] {
        // The order's kind checked as the exchange checks it (GTD: an expiry at least a minute ahead; post-only: never
        // trades at once).
        if let problem = Self.orderTypeProblem(intent, at: now) { return [.rejected(intentID: intent.id, reason: problem)] }
        if intent.postOnly, crosses(intent, book) {
            let best = intent.side == .buy ? book.bestAsk : book.bestBid
            return [.rejected(intentID: intent.id, reason: "post-only order would trade at once: it crosses the book at \(best.map { Fixed.text($0, decimals: 4) } ?? "?")")]
        }
        let rests = intent.timeInForce.rests
        if !rests || crosses(intent, book) {
            switch broker.execute(intent, market: market, book: book, at: now) {
            case .filled(let fill):
                return [.filled(fill, open: 0)]
            case .partial(let fill, let unfilled):
                if intent.timeInForce == .fillOrKill {
                    return [.rejected(intentID: intent.id, reason: "fill or kill: only \(Fixed.text(fill.shares)) of \(Fixed.text(intent.shares)) within the limit; nothing traded")]
                }
                guard rests else {
                    return [.filled(fill, open: 0), .cancelled(intentID: intent.id, unfilled: unfilled, reason: "no more liquidity within the limit (immediate or cancel)")]
                }
                rest(intent, open: unfilled, at: now)
                return [.filled(fill, open: unfilled), .resting(intentID: intent.id, open: unfilled)]
            case .rejected(let reason):
                guard rests, reason.hasPrefix("no liquidity") else { return [.rejected(intentID: intent.id, reason: reason)] }
            }
        }
        // A resting order is checked as the exchange would before it rests: price on tick, size at least the minimum.
        if let problem = Self.restingProblem(intent, market: market, book: book) { return [.rejected(intentID: intent.id, reason: problem)] }
        rest(intent, open: intent.shares, at: now)
        return [.resting(intentID: intent.id, open: intent.shares)]
    }

    /// The venue's own rules on an order's kind (a GTD expiry must be at least `minimumExpiry` ahead: the CLOB's
    /// rule, kept on paper so that an order paper takes is one the live venue takes too).
    public static func orderTypeProblem(_ intent: OrderIntent, at now: Date) -> String? {
        if let problem = intent.orderTypeProblem { return problem }
        if intent.timeInForce == .goodTillDate, let e = intent.expiresAt {
            let ahead = e.timeIntervalSince(now)
            guard ahead.isFinite, ahead <= maximumExpiry else { return "gtd expiry \(ahead) s ahead: more than a year is no expiry Warden sends" }
            if ahead < minimumExpiry { return String(format: "gtd expiry %.0f s ahead: the venue needs at least %.0f s", ahead, minimumExpiry) }
        }
        return nil
    }

    /// How far ahead a GTD order's expiry must be (the CLOB's security threshold).
    public static let minimumExpiry: TimeInterval = 60
    /// How far ahead it may be at most (a year: an expiry past that is a strategy's mistake, refused by name).
    public static let maximumExpiry: TimeInterval = 366 * 86_400

    static func restingProblem(_ intent: OrderIntent, market: Market, book: OrderBook) -> String? {
        guard market.active, !market.closed, market.acceptingOrders else { return "market \(market.id) is not accepting orders" }
        guard market.isValidPrice(intent.limitPrice) else {
            return "limit price \(Fixed.text(intent.limitPrice, decimals: 4)) is not a valid price for tick \(Fixed.text(market.tickSize, decimals: 4))"
        }
        let minSize = max(market.minOrderSize, book.minOrderSize)
        guard intent.shares >= minSize else { return "size \(Fixed.text(intent.shares)) is below the market minimum \(Fixed.text(minSize))" }
        return nil
    }

    mutating func rest(_ intent: OrderIntent, open: Micros, at now: Date) {
        resting.append(RestingOrder(intent: intent, open: open, since: now))
    }

    mutating func remove(_ id: String) -> RestingOrder? {
        guard let i = resting.firstIndex(where: { $0.intent.id == id }) else { return nil }
        return resting.remove(at: i)
    }

    public func affected(by book: OrderBook, market: Market) -> Bool {
        resting.contains { r in
            guard r.intent.tokenID == book.tokenID else { return false }
            return market.closed || !market.acceptingOrders || crosses(r.intent, book)
        }
    }

    /// Resting orders on this token that the book now crosses fill as makers, at their own limit, up to the size
    /// the book shows at or through that limit (shared in time priority among ours); a closed market cancels them.
    public mutating func bookChanged(_ book: OrderBook, market: Market, at now: Date) -> [VenueReport] {
        var out: [VenueReport] = []
        var usedBid: Micros = 0, usedAsk: Micros = 0
        for id in resting.map(\.intent.id) {
            guard let i = resting.firstIndex(where: { $0.intent.id == id }) else { continue }
            var r = resting[i]
            guard r.intent.tokenID == book.tokenID else { continue }
            if market.closed || !market.acceptingOrders {
                _ = remove(id)
                out.append(.cancelled(intentID: id, unfilled: r.open, reason: "market \(market.id) closed"))
                continue
            }
            guard crosses(r.intent, book) else { continue }
            let buying = r.intent.side == .buy
            let available = book.depth(buying: buying, limit: r.intent.limitPrice) - (buying ? usedAsk : usedBid)
            let take = min(r.open, available)
            guard take > 0 else { continue }
            if buying { usedAsk += take } else { usedBid += take }
            let price = r.intent.limitPrice
            let notional = buying ? Fixed.costUp(price, take) : Fixed.proceedsDown(price, take)
            let fee = market.fees.takerOnly ? 0 : market.fees.takerFee(price: price, shares: take)
            let fill = Fill(intentID: id, strategy: r.intent.strategy, marketID: r.intent.marketID, tokenID: r.intent.tokenID,
                            side: r.intent.side, shares: take, notional: notional, fee: fee, levels: 1, at: now)
            r.open -= take
            if r.open == 0 { resting.remove(at: i) } else { resting[i] = r }
            out.append(.filled(fill, open: r.open))
        }
        return out
    }
}
