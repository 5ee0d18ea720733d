// Intent → order on the CLOB fake's book, as the live venue sends one: the intent written ahead to a durable journal,
// the order built and signed for its market's exchange, its venue id written, POST /order over loopback HTTP to the
// fake (which checks the signature by recovering the signer and puts the order on its book), and its trades read back.
import Foundation
import WardenCore
import WardenEngine
import WardenFakes
import WardenPolymarket

enum IntentBench {
    static func run(count: Int, dir: String) async throws -> Summary {
        let token = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
        let fake = try await ClobFake.start(markets: [.init(tokens: [token, "2"])])
        defer { Task { await fake.stop() } }
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (journal, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
        let key = try SigningKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        let creds = try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key)
        let venue = LiveVenue(config: LiveVenueConfig(clobURL: fake.baseURL, key: key, credentials: creds, timeout: .seconds(10)),
                              recordOrderID: { id, orderID in try journal.setVenueOrder(id, orderID: orderID, state: .pending, note: "") })
        let market = Market(id: "m1", tokens: [OutcomeToken(tokenID: token, outcome: "Yes"), OutcomeToken(tokenID: "2", outcome: "No")])
        var times: [Double] = []
        for i in 0..<(count + 20) {
            // Resting buys under the market, each at its own price and size (distinct orders), left on the book.
            let intent = OrderIntent(id: "bench-\(i)", strategy: "bench", marketID: "m1", tokenID: token, side: .buy, kind: .entry,
                                     limitPrice: Int64(10_000 + (i % 40) * 10_000), shares: Int64(5_000_000 + i * 10_000), reason: "bench", timeInForce: .resting)
            let start = DispatchTime.now().uptimeNanoseconds
            try journal.recordIntent(intent, at: Date(), venue: "clob")
            let reports = await venue.perform(.submit(intent), market: market, orders: [:])
            let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
            guard reports.contains(where: { if case .resting = $0 { true } else { false } }) else {
                throw BenchFailure("order \(i) did not rest on the fake's book: \(reports)")
            }
            if i >= 20 { times.append(took) }
        }
        guard fake.openOrders.count == count + 20 else { throw BenchFailure("the fake holds \(fake.openOrders.count) orders, expected \(count + 20)") }
        return Summary(times)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
