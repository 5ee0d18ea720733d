// A prediction market and its outcome tokens, as the engine uses them (parsed from Gamma).
public import Foundation

/// How the taker fee is computed: fee = shares × rate × (p × (1 − p))^exponent (Polymarket's schedule).
public struct FeeSchedule: Sendable, Equatable, Codable {
    public var rate: Double
    public var exponent: Double
    public var takerOnly: Bool
    public init(rate: Double, exponent: Double = 1, takerOnly: Bool = true) {
        self.rate = rate
        self.exponent = exponent
        self.takerOnly = takerOnly
    }
    public static let none = FeeSchedule(rate: 0)

    /// Fee in micro-dollars for `shares` taken at `price`, rounded up.
    public func takerFee(price: Micros, shares: Micros) -> Micros {
        guard rate > 0, shares > 0 else { return 0 }
        let p = Fixed.double(price)
        let fee = Fixed.double(shares) * rate * pow(p * (1 - p), exponent)
        return Micros((fee * 1e6).rounded(.up))
    }
}

public struct OutcomeToken: Sendable, Equatable, Codable, Hashable {
    public var tokenID: String
    public var outcome: String
    public init(tokenID: String, outcome: String) {
        self.tokenID = tokenID
        self.outcome = outcome
    }
}

public struct Market: Sendable, Equatable, Codable, Identifiable {
    public var id: String
    public var conditionID: String
    public var question: String
    public var slug: String
    public var endDate: Date?
    /// Aligned with Gamma's `outcomes` / `clobTokenIds`; binary markets have two.
    public var tokens: [OutcomeToken]
    public var tickSize: Micros
    public var minOrderSize: Micros
    public var fees: FeeSchedule
    public var active: Bool
    public var closed: Bool
    public var acceptingOrders: Bool
    public var liquidity: Micros?
    public var volume: Micros?
    /// Set once the market has resolved: the winning token.
    public var winningTokenID: String?
    /// Settled by the neg-risk exchange (Gamma `negRisk`): orders are signed for that exchange.
    public var negRisk: Bool
    /// The exchange protocol: 2, or 3 for protocol-V2 markets (Gamma `version: "v2"`), which sign against a third exchange.
    public var protocolVersion: Int

    public init(id: String, conditionID: String = "", question: String = "", slug: String = "", endDate: Date? = nil,
                tokens: [OutcomeToken], tickSize: Micros = 10_000, minOrderSize: Micros = 5_000_000,
                fees: FeeSchedule = .none, active: Bool = true, closed: Bool = false, acceptingOrders: Bool = true,
                liquidity: Micros? = nil, volume: Micros? = nil, winningTokenID: String? = nil, negRisk: Bool = false, protocolVersion: Int = 2) {
        self.id = id; self.conditionID = conditionID; self.question = question; self.slug = slug
        self.endDate = endDate; self.tokens = tokens; self.tickSize = tickSize; self.minOrderSize = minOrderSize
        self.fees = fees; self.active = active; self.closed = closed; self.acceptingOrders = acceptingOrders
        self.liquidity = liquidity; self.volume = volume; self.winningTokenID = winningTokenID
        self.negRisk = negRisk; self.protocolVersion = protocolVersion
    }

    private enum CodingKeys: String, CodingKey {
        case id, conditionID, question, slug, endDate, tokens, tickSize, minOrderSize, fees, active, closed, acceptingOrders, liquidity, volume,
             winningTokenID, negRisk, protocolVersion
    }

    /// Recordings made before the exchange fields existed decode with the defaults (not neg-risk, protocol 2).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), conditionID: try c.decode(String.self, forKey: .conditionID),
                  question: try c.decode(String.self, forKey: .question), slug: try c.decode(String.self, forKey: .slug),
                  endDate: try c.decodeIfPresent(Date.self, forKey: .endDate), tokens: try c.decode([OutcomeToken].self, forKey: .tokens),
                  tickSize: try c.decode(Micros.self, forKey: .tickSize), minOrderSize: try c.decode(Micros.self, forKey: .minOrderSize),
                  fees: try c.decode(FeeSchedule.self, forKey: .fees), active: try c.decode(Bool.self, forKey: .active),
                  closed: try c.decode(Bool.self, forKey: .closed), acceptingOrders: try c.decode(Bool.self, forKey: .acceptingOrders),
                  liquidity: try c.decodeIfPresent(Micros.self, forKey: .liquidity), volume: try c.decodeIfPresent(Micros.self, forKey: .volume),
                  winningTokenID: try c.decodeIfPresent(String.self, forKey: .winningTokenID),
                  negRisk: try c.decodeIfPresent(Bool.self, forKey: .negRisk) ?? false,
                  protocolVersion: try c.decodeIfPresent(Int.self, forKey: .protocolVersion) ?? 2)
    }

    /// The other token of a binary market.
    public func complement(of tokenID: String) -> OutcomeToken? {
        guard tokens.count == 2 else { return nil }
        return tokens.first { $0.tokenID != tokenID }
    }

    /// A valid price is a multiple of the tick with tick ≤ p ≤ 1 − tick.
    public func isValidPrice(_ p: Micros) -> Bool {
        tickSize > 0 && p >= tickSize && p <= Fixed.one - tickSize && p % tickSize == 0
    }
}
