// Signing one order as the live venue will: amounts by tick, the EIP-712 digest, the secp256k1 signature and the
// JSON body of POST /order, in process (no network).
import Foundation
import WardenPolymarket

enum SigningBench {
    /// Wall time (µs) of `count` orders, each built, signed and encoded, after a warm-up.
    static func run(count: Int) throws -> Summary {
        let key = try SigningKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        let token = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
        var times: [Double] = []
        times.reserveCapacity(count)
        var bytes = 0
        for i in 0..<(count + 100) {
            let start = DispatchTime.now().uptimeNanoseconds
            let order = try ClobOrder.limit(key: key, tokenID: token, side: i % 2 == 0 ? .buy : .sell, price: 550_000,
                                            size: Int64(10_000_000 + i * 10_000), tick: 10_000, salt: String(1_000_003 * (i + 1)),
                                            timestamp: 1_790_000_000_000 + UInt64(i), tag: "warden-\(i)")
            let body = try SignedClobOrder(order: order, domain: .ctfV2, key: key).body(owner: "key", orderType: .gtc)
            bytes += body.utf8.count
            if i >= 100 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000) }
        }
        precondition(bytes > 0)
        return Summary(times)
    }
}
