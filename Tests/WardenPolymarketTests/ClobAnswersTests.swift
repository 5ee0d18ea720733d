// The CLOB's answers read from their bytes: hostile or incomplete ones are named, never trapped on and never
// filled in with a default (a missing size_matched is not "0").
import Foundation
import Testing
import WardenCore
@testable import WardenPolymarket

@Suite("CLOB answers")
struct ClobAnswersTests {
    static func kind(_ body: () throws -> Void) -> ClobError.Kind? {
        do { try body(); return nil } catch let e as ClobError { return e.kind } catch { return nil }
    }

    @Test("/time: whole seconds as text or a number; 1e400, inf, a negative or absurd value are malformed, not a trap")
    func serverTime() throws {
        #expect(try ClobAnswers.serverTime(Data("1790000000\n".utf8)) == 1_790_000_000)
        #expect(try ClobAnswers.serverTime(Data("1.79e9".utf8)) == 1_790_000_000)
        for bad in ["1e400", "inf", "-5", "nan", "", "1e300", "\"x\""] {
            #expect(Self.kind { _ = try ClobAnswers.serverTime(Data(bad.utf8)) } == .malformed, "\(bad)")
        }
    }

    @Test("POST /order: success false is a refusal; no id leaves the outcome unknown; an id without a status says so")
    func posted() throws {
        #expect(Self.kind { _ = try ClobAnswers.posted(Data(#"{"success":false,"errorMsg":"not enough balance","orderID":""}"#.utf8)) } == .rejected)
        #expect(Self.kind { _ = try ClobAnswers.posted(Data(#"{"success":true}"#.utf8)) } == .unknownOutcome)
        #expect(Self.kind { _ = try ClobAnswers.posted(Data("<html>".utf8)) } == .unknownOutcome)
        let r = try ClobAnswers.posted(Data(#"{"orderID":"0xab"}"#.utf8))
        #expect(r.orderID == "0xab" && r.status == nil)
    }

    @Test("listings: a row missing a member the venue always sends is malformed (no size_matched is not zero); the end marker ends paging")
    func listings() throws {
        let page = try ClobAnswers.page(Data(#"{"data":[{"id":"0xab","asset_id":"1","side":"BUY","price":"0.5","original_size":"10"}],"next_cursor":"LTE="}"#.utf8),
                                        path: "/data/orders")
        #expect(page.next == nil && page.rows.count == 1)
        #expect(Self.kind { _ = try ClobAnswers.openOrder(page.rows[0]) } == .malformed)
        #expect(Self.kind { _ = try ClobAnswers.page(Data(#"{"next_cursor":"MQ=="}"#.utf8), path: "/data/trades") } == .malformed)
        #expect(Self.kind { _ = try ClobAnswers.cancelled(Data(#"{"not_canceled":{}}"#.utf8)) } == .malformed)
        #expect(try ClobAnswers.page(Data(#"{"data":[{}],"next_cursor":"MQ=="}"#.utf8), path: "/data/trades").next == "MQ==")
    }

    @Test("trades: as the taker, the row; as a maker, only our orders among maker_orders, each at its own price and matched amount, booked by trade and order")
    func makerTrades() throws {
        let taker: [String: Any] = ["id": "t1", "taker_order_id": "0xaa", "asset_id": "7", "side": "BUY", "price": "0.5", "size": "3", "status": "MATCHED",
                                    "trader_side": "TAKER"]
        #expect(try ClobAnswers.trades(taker, owner: "me") == [ClobTrade(id: "t1", orderID: "0xaa", tokenID: "7", side: "BUY", price: "0.5", size: "3", status: "MATCHED")])
        let maker: [String: Any] = ["id": "t2", "taker_order_id": "0xtheirs", "asset_id": "7", "side": "SELL", "price": "0.44", "size": "9", "status": "MINED",
                                    "trader_side": "MAKER", "maker_orders": [
                                        ["order_id": "0xbb", "owner": "me", "side": "BUY", "price": "0.45", "matched_amount": "4", "asset_id": "7"],
                                        ["order_id": "0xcc", "owner": "someone", "side": "BUY", "price": "0.44", "matched_amount": "5", "asset_id": "7"]]]
        #expect(try ClobAnswers.trades(maker, owner: "me") == [ClobTrade(id: "t2:0xbb", orderID: "0xbb", tokenID: "7", side: "BUY", price: "0.45", size: "4", status: "MINED")])
        var broken = maker
        broken["maker_orders"] = nil
        #expect(Self.kind { _ = try ClobAnswers.trades(broken, owner: "me") } == .malformed)
    }

    @Test("/balance-allowance: balance and allowances per exchange in micros; 2^256-1 reads as unlimited; a single allowance covers every exchange; junk is malformed")
    func collateral() throws {
        let c = try ClobAnswers.collateral(Data(#"{"balance":"125000000","allowances":{"0xE111180000d2663C0091e4f400237545B87B996B":"115792089237316195423570985008687907853269984665640564039457584007913129639935","0xe2222d279d744050d28e00520010520000310F59":"0"}}"#.utf8))
        #expect(c.balance == 125 * Fixed.one && c.allowance(for: .ctfV2) == Micros.max && c.allowance(for: .negRiskV2) == 0 && c.allowance(for: .protocolV3) == 0)
        let single = try ClobAnswers.collateral(Data(#"{"balance":"5","allowance":"7"}"#.utf8))
        #expect(ExchangeDomain.all.allSatisfy { single.allowance(for: $0) == 7 })
        #expect(Self.kind { _ = try ClobAnswers.collateral(Data(#"{"balance":"-5","allowances":{}}"#.utf8)) } == .malformed)
        #expect(Self.kind { _ = try ClobAnswers.collateral(Data(#"{"balance":"5"}"#.utf8)) } == .malformed)
        #expect(try ClobAnswers.version(Data(#"{"version":2}"#.utf8)) == 2)
        #expect(Self.kind { _ = try ClobAnswers.version(Data(#"{"version":"two"}"#.utf8)) } == .malformed)
    }

    @Test("per-IP budget: each endpoint's windows are spent per call; a full one refuses with the wait until a slot frees; the longer POST /order window binds too")
    func ipBudget() {
        let b = ClobIPBudget()
        for k in 0..<200 { #expect(b.spend(.balanceAllowance, now: 1_000 + Double(k) * 0.01) == nil) }
        let wait = b.spend(.balanceAllowance, now: 1_002)
        #expect(wait != nil && abs(wait! - 8) < 0.01, "the first call leaves the 10 s window at 1010")
        #expect(b.remaining(now: 1_002)["balance_allowance"] == 0 && b.remaining(now: 1_002)["post_order"] == 3_500)
        #expect(b.spend(.balanceAllowance, now: 1_010.001) == nil, "room again as the oldest call leaves the window")
        // 36,000 orders in 10 minutes: spread so the 10 s window never fills, the 10 min one does.
        for k in 0..<36_000 { _ = b.spend(.postOrder, now: 2_000 + Double(k) * 0.015) }
        #expect(b.remaining(now: 2_540)["post_order"] == 0)
        #expect(b.spend(.postOrder, now: 2_540) != nil)
        #expect(ClobEndpointClass.of(method: "POST", path: "/order") == .postOrder && ClobEndpointClass.of(method: "GET", path: "/data/trades") == .general)
    }
}
