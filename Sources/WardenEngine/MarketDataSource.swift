// Where market data comes from: the live Polymarket APIs (or a replay). Never switched automatically.
public import Foundation
public import WardenCore
public import WardenPolymarket
public import WardenHTTP

public protocol MarketDataSource: Sendable {
    var name: String { get }
    func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection])
    func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection])
    func market(id: String) async throws -> Market
    func hostStats() -> [HostStats]
}

public struct LiveMarketData: MarketDataSource {
    public let client: PolymarketClient
    public let filters: MarketFilters
    public var name: String { "live" }
    public init(client: PolymarketClient, filters: MarketFilters) {
        self.client = client
        self.filters = filters
    }
    public func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) { try await client.discover(filters, now: now) }
    public func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) { try await client.books(tokenIDs) }
    public func market(id: String) async throws -> Market { try await client.market(id: id) }
    public func hostStats() -> [HostStats] { client.http.stats() }
}
