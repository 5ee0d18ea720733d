// `warden-fakes`: the loopback fakes as a program, for the offline demo and the chaos suite.
import ArgumentParser
import Foundation
import WardenCore
import WardenFakes
import WardenKit

@main
struct FakesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "warden-fakes",
        abstract: "Serve a fake Polymarket on 127.0.0.1 playing a scenario; faults through POST /admin/fault.")

    @Option(help: "Port for the Polymarket fake (Gamma and CLOB on one port).") var polymarketPort = 18080
    @Option(help: "Scenario speed-up (scenario seconds per second).") var speed: Double?
    @Option(help: "Seed of the price paths.") var seed: UInt64 = 7
    @Option(help: "Port for the Telegram and webhook fakes (0: none). Token: 123456:TEST-TOKEN.") var channelsPort = 0
    @Option(help: "Port for the CLOB trading fake (0: none): orders signed and matched against the scenario's books.") var clobPort = 0
    @Option(help: "Seconds after which the CLOB fake's matched trades are MINED (CONFIRMED after twice as long); 0: never.") var clobSettleAfter = 5.0

    func run() async throws {
        ParentDeath.arm()
        var scenario = FakeScenario.demo(seed: seed, wideMarket: true)
        if let speed { scenario.speed = speed }
        let fake = try await PolymarketFake.start(scenario, port: polymarketPort)
        FileHandle.standardError.write(Data("level=info msg=\"polymarket fake on \(fake.baseURL) (\(scenario.markets.count) markets, speed ×\(scenario.speed))\"\n".utf8))
        var channels: AlertChannelFake?
        if channelsPort > 0 {
            channels = try await AlertChannelFake.start(port: channelsPort)
            FileHandle.standardError.write(Data("level=info msg=\"telegram and webhook fakes on \(channels!.baseURL) (/bot<token>/sendMessage, /hooks/slack, /hooks/discord, /hooks/json)\"\n".utf8))
        }
        if clobPort > 0 {
            let markets = scenario.markets.map { ClobFake.Market(tokens: [$0.yesToken, $0.noToken], tickSize: Fixed.parse($0.tick) ?? 10_000) }
            let c = try await ClobFake.start(markets: markets, port: clobPort, settleAfter: clobSettleAfter > 0 ? clobSettleAfter : nil)
            // The CLOB fake's liquidity follows the scenario's books (refilled every second).
            Task {
                while !Task.isCancelled {
                    for b in fake.currentBooks() { c.setBook(token: b.token, bids: b.bids, asks: b.asks) }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            FileHandle.standardError.write(Data("level=info msg=\"CLOB trading fake (FAKE venue, no real orders) on \(c.baseURL)\"\n".utf8))
        }
        let notifier = SystemdNotifier()
        try? notifier.ready(status: "polymarket fake on \(fake.baseURL)" + (channels.map { "; channels on \($0.baseURL)" } ?? ""))
        let interval = notifier.watchdogInterval().map { $0 / 2 } ?? .seconds(5)
        while !Task.isCancelled {
            try? notifier.watchdog()
            try await Task.sleep(for: interval)
        }
    }
}
