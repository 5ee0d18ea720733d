// An intent as the CLOB order it becomes: amounts by the market's tick, signed for the market's exchange, the intent
// id in the signed metadata, the order kind (FAK, FOK, GTC, GTD with its expiry, post-only) as the intent asks. The
// live venue posts it; shadow mode (`engine.live.shadow`) journals it with its venue id and never sends it, so an
// operator can check signatures and sizes before going live.
public import Foundation
public import WardenCore
public import WardenPolymarket

public struct IntentSigner: Sendable {
    let key: SigningKey
    let funder: EthAddress?
    let signatureType: SignatureType

    public init(key: SigningKey, funder: EthAddress?, signatureType: SignatureType) {
        self.key = key; self.funder = funder; self.signatureType = signatureType
    }

    /// The CLOB order type of an intent's time in force.
    public static func orderType(_ t: TimeInForce) -> ClobOrderType {
        switch t {
        case .immediate: return .fak
        case .fillOrKill: return .fok
        case .resting: return .gtc
        case .goodTillDate: return .gtd
        }
    }

    /// The signed order, its venue id (the EIP-712 hash) and how it is posted.
    public func order(_ intent: OrderIntent, market: Market, now: Date) throws -> (signed: SignedClobOrder, orderID: String, type: ClobOrderType) {
        var expiration: UInt64 = 0
        if let e = intent.expiresAt?.timeIntervalSince1970 {
            // A strategy's expiry is checked before it becomes a uint (no clock reaches 10^11 s; NaN and infinities are no time).
            guard e.isFinite, e > 0, e < 100_000_000_000 else { throw SigningError("gtd expiry \(e) s since 1970 is no time an order can have") }
            expiration = UInt64(e.rounded(.down))
        }
        let domain = try ExchangeDomain.forMarket(negRisk: market.negRisk, protocolVersion: market.protocolVersion)
        let order = try ClobOrder.limit(key: key, funder: funder, signatureType: signatureType, tokenID: intent.tokenID,
                                        side: intent.side == .buy ? .buy : .sell, price: intent.limitPrice, size: intent.shares,
                                        tick: market.tickSize, salt: String(UInt64.random(in: 1...UInt64(1) << 53)),
                                        timestamp: UInt64(now.timeIntervalSince1970 * 1000), tag: intent.id,
                                        expiration: expiration)
        let signed = try SignedClobOrder(order: order, domain: domain, key: key)
        return (signed, "0x" + Hex.string(try order.digest(domain)), Self.orderType(intent.timeInForce))
    }

    /// Shadow mode: the order's venue id and the JSON body of POST /order, the API key left as `<api key>`.
    public func sign(_ intent: OrderIntent, market: Market, now: Date) throws -> (orderID: String, body: String) {
        let o = try order(intent, market: market, now: now)
        return (o.orderID, o.signed.body(owner: "<api key>", orderType: o.type, postOnly: intent.postOnly))
    }
}
