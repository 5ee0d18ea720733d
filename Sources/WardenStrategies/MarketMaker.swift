// A passive market maker: quotes the first outcome of a binary market on both sides, inside the spread around
// the mid, with resting orders. It buys at its bid when sellers come down to it and sells what it holds at its
// ask when buyers come up; the spread between is its edge. Inventory per market is capped, no bid is left at the
// cap, and no quote stays near the market's end (where the price jumps to 0 or 1 and a resting quote is only
// picked off). Quotes that are no longer where they should be are cancelled and placed again.
public import Foundation
public import WardenCore
public import WardenKit

public struct MarketMaker: Strategy {
    public struct Configuration: ConfigSection, Sendable, Equatable {
        public var enabled = false
        /// Quotes sit this far from the mid at most, always strictly inside the book's spread.
        public var halfSpread = 0.01
        /// Only books whose spread is at least this are quoted (a tighter one leaves no room inside it).
        public var minSpread = 0.03
        /// Shares per quote.
        public var size = 20.0
        /// Shares held per market at most: at the cap only the ask is quoted.
        public var maxInventory = 100.0
        /// No quotes this close to the market's end; open ones are cancelled.
        public var stopBeforeEndHours = 6.0
        public init() {}

        public static let configPath = "engine.strategies.market_maker"
        public static var defaults: Self { Self() }
        public static let configKeys: [KeyDeclaration<Self>] = [
            .bool("enabled", \.enabled, "Quote both sides of binary markets inside the spread with resting orders"),
            .double("half_spread", \.halfSpread, in: 0.001...0.5, "Quotes this far from the mid at most (always inside the spread)"),
            .double("min_spread", \.minSpread, in: 0.002...0.99, "Quote only books whose spread is at least this"),
            .double("size", \.size, in: 1...1e7, "Shares per quote"),
            .double("max_inventory", \.maxInventory, in: 1...1e8, "Shares held per market at most; at the cap only the ask is quoted"),
            .double("stop_before_end_hours", \.stopBeforeEndHours, in: 0...8760, "No quotes this close to the market's end"),
        ]

        public static func crossCheck(_ s: Self) -> [(key: String, reason: String)] {
            s.maxInventory < s.size ? [("max_inventory", "must be at least size (\(s.size))")] : []
        }
    }

    public let name: String
    public var halfSpread: Micros
    public var minSpread: Micros
    public var size: Micros
    public var maxInventory: Micros
    public var stopBeforeEnd: TimeInterval

    public init(name: String = "market_maker", halfSpread: Micros = 10_000, minSpread: Micros = 30_000, size: Micros = 20 * Fixed.one,
                maxInventory: Micros = 100 * Fixed.one, stopBeforeEndHours: Double = 6) {
        self.name = name; self.halfSpread = halfSpread; self.minSpread = minSpread; self.size = size
        self.maxInventory = maxInventory; self.stopBeforeEnd = stopBeforeEndHours * 3600
    }

    public init(_ c: Configuration) throws {
        self.init(halfSpread: try micros(c.halfSpread, "half_spread", of: Configuration.self),
                  minSpread: try micros(c.minSpread, "min_spread", of: Configuration.self),
                  size: try micros(c.size, "size", of: Configuration.self),
                  maxInventory: try micros(c.maxInventory, "max_inventory", of: Configuration.self), stopBeforeEndHours: c.stopBeforeEndHours)
    }

    /// Where the quotes should be now, or why there should be none.
    func quotes(_ s: MarketSnapshot) -> Result<(token: String, bid: Micros, ask: Micros), QuoteGap> {
        guard s.market.tokens.count == 2, let token = s.market.tokens.first, let book = s.books[token.tokenID],
              let best = book.bestBid, let offer = book.bestAsk else { return .failure(QuoteGap("no two-sided book")) }
        if let end = s.market.endDate, end.timeIntervalSince(s.now) < stopBeforeEnd {
            let hours = Int(stopBeforeEnd / 3600)
            return .failure(QuoteGap("within \(hours)h of the market's end"))
        }
        let minSpread = self.minSpread
        guard offer - best >= minSpread else { return .failure(QuoteGap("spread \(Fixed.text(offer - best, decimals: 3)) under \(Fixed.text(minSpread, decimals: 3))")) }
        let tick = max(s.market.tickSize, book.tickSize)
        guard tick > 0 else { return .failure(QuoteGap("no tick size known")) }
        let mid = (best + offer) / 2
        let bid = max(onTick(mid - halfSpread, tick: tick, up: false), best + tick)
        let ask = min(onTick(mid + halfSpread, tick: tick, up: true), offer - tick)
        guard bid < ask, bid > 0, ask < Fixed.one else { return .failure(QuoteGap("no room inside the spread")) }
        return .success((token.tokenID, bid, ask))
    }

    public func decide(_ c: StrategyContext) throws -> [StrategyDecision] {
        let s = c.snapshot
        let mine = c.openOrders.filter { $0.intent.strategy == name && $0.intent.marketID == s.market.id }
        let q: (token: String, bid: Micros, ask: Micros)
        switch quotes(s) {
        case .failure(let gap): return mine.map { .cancel(intentID: $0.intent.id, reason: "no quote: \(gap.why)") }
        case .success(let v): q = v
        }
        let held = c.positions.filter { $0.tokenID == q.token }.reduce(Micros(0)) { $0 + $1.shares }
        let minimum = s.market.minOrderSize
        // What should rest: a bid while under the inventory cap and cash allows, an ask for what is held.
        var bidSize = min(size, maxInventory - held)
        if bidSize > 0 { bidSize = roundShares(min(bidSize, c.cash * Fixed.one / q.bid)) }
        let askSize = roundShares(min(size, held))
        var out: [StrategyDecision] = []
        var keptBid = false, keptAsk = false
        for o in mine {
            let buying = o.intent.side == .buy
            let wanted = buying ? (bidSize >= minimum ? q.bid : nil) : (askSize >= minimum ? q.ask : nil)
            if o.intent.tokenID == q.token, let wanted, o.intent.limitPrice == wanted, buying || o.open <= held {
                if buying { keptBid = true } else { keptAsk = true }
            } else {
                out.append(.cancel(intentID: o.intent.id, reason: wanted.map { "requote at \(Fixed.text($0, decimals: 3))" } ?? "no \(buying ? "bid" : "ask") wanted now"))
            }
        }
        var spread: String { "bid \(Fixed.text(q.bid, decimals: 3)) / ask \(Fixed.text(q.ask, decimals: 3)) inside the book" }
        if !keptBid && bidSize >= minimum {
            out.append(.place(OrderIntent(strategy: name, marketID: s.market.id, tokenID: q.token, side: .buy, kind: .entry, limitPrice: q.bid,
                                          shares: bidSize, reason: "quote \(spread)", timeInForce: .resting)))
        }
        if !keptAsk && askSize >= minimum {
            out.append(.place(OrderIntent(strategy: name, marketID: s.market.id, tokenID: q.token, side: .sell, kind: .exit, limitPrice: q.ask,
                                          shares: askSize, reason: "quote \(spread)", timeInForce: .resting)))
        }
        return out
    }
}

/// Why a market gets no quote now; the words are built only when said (most markets get no quote every cycle).
struct QuoteGap: Error {
    private let words: @Sendable () -> String
    var why: String { words() }
    init(_ why: @autoclosure @escaping @Sendable () -> String) { words = why }
}
