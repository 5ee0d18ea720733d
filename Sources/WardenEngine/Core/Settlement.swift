// Settlement of resolved markets: which held markets must be looked up (ended, closed, named by the market channel,
// or gone from the books), and what each holding sub-account is paid when one resolved: 1 per winning share, 0 per
// losing one, exactly once (an account never settles a market twice; the journal refuses a second record too).
// Pure: the lookups and the journal are the engine's.
public import Foundation
public import WardenCore

public enum Settlement {
    /// Markets some sub-account holds shares in.
    public static func heldMarkets(_ accounts: [String: Account]) -> Set<String> {
        Set(accounts.values.flatMap { $0.positions.values.filter { $0.shares > 0 }.map(\.marketID) })
    }

    /// Held markets whose resolution must be looked up now, in id order: unknown, past their end, closed, named by
    /// the market channel (`hinted`), or with no book for any outcome in a refresh that otherwise worked.
    public static func needingLookup(held: Set<String>, markets: [String: Market], hasBook: (String) -> Bool, refreshWorked: Bool,
                                     hinted: Set<String>, now: Date) -> [String] {
        held.sorted().filter { id in
            guard let m = markets[id] else { return true }
            let ended = m.endDate.map { $0 <= now } ?? false
            let missing = m.tokens.allSatisfy { !hasBook($0.tokenID) }
            return ended || hinted.contains(id) || m.closed || (refreshWorked && missing)
        }
    }

    /// One sub-account's settlement of one market: the account as it is after it, and what it was paid.
    public struct Payout: Sendable, Equatable {
        public var strategy: String
        public var account: Account
        public var amount: Micros
    }

    /// What settling `market` pays each sub-account holding it and not yet settled for it (none when it has not
    /// resolved), in strategy order. Nothing is changed: the engine applies each payout once it is recorded.
    public static func payouts(_ accounts: [String: Account], market: Market) -> [Payout] {
        guard market.closed, let winner = market.winningTokenID else { return [] }
        return accounts.keys.sorted().compactMap { name in
            guard var a = accounts[name], !a.settledMarkets.contains(market.id),
                  a.positions.values.contains(where: { $0.marketID == market.id }) else { return nil }
            // `settle` throws only `alreadySettled`, excluded just above: a refusal here is the "exactly once"
            // itself (nothing to pay), not a failure anyone must hear of.
            guard let amount = try? a.settle(marketID: market.id, winningTokenID: winner) else { return nil }
            return Payout(strategy: name, account: a, amount: amount)
        }
    }
}
