// The CLOB's answers read from their bytes: hostile or incomplete ones are named, never trapped on and never
// filled in with a default (a missing size_matched is not "0").
import Foundation
import Testing
import WardenPolymarket

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
}
