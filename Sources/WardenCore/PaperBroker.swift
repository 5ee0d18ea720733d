// Paper execution that walks the real book: tick, minimum size, taker fee, slippage bound, partial fills.
public import Foundation

public enum ExecutionResult: Sendable, Equatable {
    case filled(Fill)
    /// Part of the intent filled; the rest found no liquidity within the limit and slippage bound.
    case partial(Fill, unfilled: Micros)
    case rejected(reason: String)
}

public struct PaperBroker: Sendable {
    /// Worst price accepted beyond the best level, in micro-dollars per share.
    public var slippageBound: Micros

    public init(slippageBound: Micros = 20_000) { self.slippageBound = slippageBound }

    /// Executes `intent` as a taker against `book`. Pure: the book is not changed.
    public func execute(_ intent: OrderIntent, market: Market, book: OrderBook, at now: Date) -> ExecutionResult {
        guard intent.shares > 0 else { return .rejected(reason: "size must be positive, got \(Fixed.text(intent.shares))") }
        guard market.isValidPrice(intent.limitPrice) else {
            return .rejected(reason: "limit price \(Fixed.text(intent.limitPrice, decimals: 4)) is not a valid price for tick \(Fixed.text(market.tickSize, decimals: 4))")
        }
        guard market.active, !market.closed, market.acceptingOrders else {
            return .rejected(reason: "market \(market.id) is not accepting orders")
        }
        guard book.tokenID == intent.tokenID else { return .rejected(reason: "book is for another token") }
        let minSize = max(market.minOrderSize, book.minOrderSize)
        guard intent.shares >= minSize else {
            return .rejected(reason: "size \(Fixed.text(intent.shares)) is below the market minimum \(Fixed.text(minSize))")
        }
        let buying = intent.side == .buy
        let levels = buying ? book.asks : book.bids
        guard let best = levels.first?.price else { return .rejected(reason: "no \(buying ? "asks" : "bids") in the book") }
        let worst = buying ? min(intent.limitPrice, best + slippageBound) : max(intent.limitPrice, best - slippageBound)
        var remaining = intent.shares
        var notional: Micros = 0
        var fee: Micros = 0
        var used = 0
        for level in levels {
            if buying ? level.price > worst : level.price < worst { break }
            let take = min(remaining, level.size)
            notional += buying ? Fixed.costUp(level.price, take) : Fixed.proceedsDown(level.price, take)
            fee += market.fees.takerFee(price: level.price, shares: take)
            remaining -= take
            used += 1
            if remaining == 0 { break }
        }
        let filled = intent.shares - remaining
        if filled == 0 {
            return .rejected(reason: "no liquidity within limit \(Fixed.text(intent.limitPrice, decimals: 4)) and slippage bound (best \(Fixed.text(best, decimals: 4)))")
        }
        if filled < minSize {
            return .rejected(reason: "only \(Fixed.text(filled)) shares available within the limit, below the minimum \(Fixed.text(minSize))")
        }
        let fill = Fill(intentID: intent.id, strategy: intent.strategy, marketID: intent.marketID, tokenID: intent.tokenID,
                        side: intent.side, shares: filled, notional: notional, fee: fee, levels: used, at: now)
        return remaining == 0 ? .filled(fill) : .partial(fill, unfilled: remaining)
    }
}
