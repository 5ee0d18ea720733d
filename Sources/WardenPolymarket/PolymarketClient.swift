// Market data from Polymarket's Gamma (discovery) and CLOB (books) over WardenHTTP.
public import Foundation
public import WardenCore
public import WardenHTTP

/// Which markets to trade, from configuration.
public struct MarketFilters: Sendable, Equatable {
    public var liquidityMin: Double?
    public var volumeMin: Double?
    /// Only markets ending within this many hours from now (nil: any).
    public var endWithinHours: Double?
    public var tagIDs: [String] = []
    public var maxMarkets = 200
    public var pageSize = 100
    public init() {}
}

public struct PolymarketClient: Sendable {
    public let http: HTTPClient
    public let gammaURL: String
    public let clobURL: String
    public var timeout: Duration
    public var connectTimeout: Duration
    /// Rates for fee-enabled markets that give only their category.
    public var fees = CategoryFeeRates()

    public init(http: HTTPClient, gammaURL: String, clobURL: String, timeout: Duration = .seconds(10),
                connectTimeout: Duration = .seconds(3)) {
        self.http = http
        self.gammaURL = gammaURL.hasSuffix("/") ? String(gammaURL.dropLast()) : gammaURL
        self.clobURL = clobURL.hasSuffix("/") ? String(clobURL.dropLast()) : clobURL
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }

    /// The documented limits per 10 s (EXTERNAL-APIS.md), per host and path.
    public static func documentedLimits(gammaHost: String, clobHost: String) -> [RateLimit] {
        [RateLimit(host: gammaHost, pathPrefix: "/", perWindow: 4000),
         RateLimit(host: gammaHost, pathPrefix: "/markets", perWindow: 300),
         RateLimit(host: gammaHost, pathPrefix: "/events", perWindow: 500),
         RateLimit(host: clobHost, pathPrefix: "/", perWindow: 9000),
         RateLimit(host: clobHost, pathPrefix: "/book", perWindow: 1500),
         RateLimit(host: clobHost, pathPrefix: "/books", perWindow: 500),
         RateLimit(host: clobHost, pathPrefix: "/price", perWindow: 1500),
         RateLimit(host: clobHost, pathPrefix: "/prices-history", perWindow: 1000)]
    }

    private func get(_ url: String) async throws -> HTTPResponse {
        try await http.send(HTTPRequest(url: url, connectTimeout: connectTimeout, timeout: timeout))
    }

    /// Open markets matching `filters`, paging `/markets/keyset` with `after_cursor` and every filter on every page.
    public func discover(_ filters: MarketFilters, now: Date = Date()) async throws -> (markets: [Market], rejected: [Rejection]) {
        var query: [URLQueryItem] = [URLQueryItem(name: "closed", value: "false"),
                                     URLQueryItem(name: "limit", value: String(min(max(filters.pageSize, 1), 100)))]
        if let l = filters.liquidityMin { query.append(URLQueryItem(name: "liquidity_num_min", value: String(l))) }
        if let v = filters.volumeMin { query.append(URLQueryItem(name: "volume_num_min", value: String(v))) }
        if let h = filters.endWithinHours {
            let f = ISO8601DateFormatter()
            query.append(URLQueryItem(name: "end_date_min", value: f.string(from: now)))
            query.append(URLQueryItem(name: "end_date_max", value: f.string(from: now.addingTimeInterval(h * 3600))))
        }
        for t in filters.tagIDs { query.append(URLQueryItem(name: "tag_id", value: t)) }
        var markets: [Market] = []
        var rejected: [Rejection] = []
        var cursor: String?
        var pages = 0
        repeat {
            guard var c = URLComponents(string: gammaURL + "/markets/keyset") else {
                throw ParseError("gamma_url `\(gammaURL)` does not make a URL")
            }
            c.queryItems = query + (cursor.map { [URLQueryItem(name: "after_cursor", value: $0)] } ?? [])
            guard let url = c.url else { throw ParseError("no URL for the market listing from `\(gammaURL)`") }
            let page = try GammaParser.page(try await get(url.absoluteString).body, fees: fees)
            // A full last page still carries a cursor; the page after it is empty: the listing ends there.
            if page.markets.isEmpty && page.rejected.isEmpty { break }
            markets += page.markets
            rejected += page.rejected
            pages += 1
            if page.nextCursor == cursor { break }  // a server that repeats a cursor would page forever
            cursor = page.nextCursor
        } while cursor != nil && markets.count < filters.maxMarkets && pages < 1000
        return (Array(markets.prefix(filters.maxMarkets)), rejected)
    }

    /// One market by id (to learn of resolutions of markets we hold).
    public func market(id: String) async throws -> Market {
        let r = try await get(gammaURL + "/markets/" + (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id))
        let obj = try JSONSerialization.jsonObject(with: r.body)
        switch GammaParser.market(obj, fees: fees) {
        case .success(let m): return m
        case .failure(let rejection): throw ParseError("\(rejection)")
        }
    }

    /// Books for `tokenIDs` through `POST /books`, at most 500 per request.
    public func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        var books: [OrderBook] = []
        var rejected: [Rejection] = []
        var start = 0
        while start < tokenIDs.count {
            let batch = Array(tokenIDs[start..<min(start + 500, tokenIDs.count)])
            start += batch.count
            let body = try JSONSerialization.data(withJSONObject: batch.map { ["token_id": $0] })
            let r = try await http.send(HTTPRequest(method: "POST", url: clobURL + "/books", body: body,
                                                    connectTimeout: connectTimeout, timeout: timeout, idempotent: true))
            let parsed = try ClobParser.books(r.body, observedAt: Date())
            books += parsed.books
            rejected += parsed.rejected
        }
        return (books, rejected)
    }

    /// The server's clock from its `Date` header, for the preflight's skew check.
    public func serverDate() async throws -> Date? {
        let r = try await get(gammaURL + "/markets/keyset?limit=1&closed=false")
        return r.headers["date"].flatMap(HTTPDate.parse)
    }
}
