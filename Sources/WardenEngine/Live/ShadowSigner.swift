// Shadow mode (`engine.live.shadow`): a paper strategy's orders are also built and signed exactly as the live venue
// would send them — amounts by the market's tick, the market's exchange, the intent id in the signed metadata — and
// journaled with their venue id, never sent, so an operator can check signatures and sizes before going live.
public import Foundation
public import WardenCore
public import WardenPolymarket

public struct ShadowSigner: Sendable {
    let key: SigningKey
    let funder: EthAddress?
    let signatureType: SignatureType

    public init(key: SigningKey, funder: EthAddress?, signatureType: SignatureType) {
        self.key = key; self.funder = funder; self.signatureType = signatureType
    }

    /// The order's venue id (its EIP-712 hash) and the JSON body of POST /order, the API key left as `<api key>`.
    public func sign(_ intent: OrderIntent, market: Market, now: Date) throws -> (orderID: String, body: String) {
        let domain = try ExchangeDomain.forMarket(negRisk: market.negRisk, protocolVersion: market.protocolVersion)
        let order = try ClobOrder.limit(key: key, funder: funder, signatureType: signatureType, tokenID: intent.tokenID,
                                        side: intent.side == .buy ? .buy : .sell, price: intent.limitPrice, size: intent.shares,
                                        tick: market.tickSize, salt: String(UInt64.random(in: 1...UInt64(1) << 53)),
                                        timestamp: UInt64(now.timeIntervalSince1970 * 1000), tag: intent.id)
        let signed = try SignedClobOrder(order: order, domain: domain, key: key)
        return ("0x" + Hex.string(try order.digest(domain)), signed.body(owner: "<api key>", orderType: intent.timeInForce == .immediate ? .fak : .gtc))
    }
}
