// F58 and the dashboard's risks: form bodies that used to trap, DNS-rebinding hosts, a login limit that can
// never lock out the real token, wrong bearer tokens limited, CSV exports a spreadsheet cannot run.
import Foundation
import Testing
import WardenIPC
@testable import WardenDashboard

@Suite("Dashboard input")
struct FormHostAuthTests {
    @Test("form bodies: quotes, bad escapes and bad UTF-8 are errors, never a trap; good ones decode")
    func form() throws {
        #expect(try FormDecoding.decode(Array(#"x"=1"#.utf8)) == [#"x""#: "1"])
        #expect(try FormDecoding.decode(Array("token=a%20b+c&csrf=%41&empty=&flag".utf8)) == ["token": "a b c", "csrf": "A", "empty": "", "flag": ""])
        #expect(throws: FormDecoding.Malformed.self) { try FormDecoding.decode(Array("a=%zz".utf8)) }
        #expect(throws: FormDecoding.Malformed.self) { try FormDecoding.decode(Array("a=%4".utf8)) }
        #expect(throws: FormDecoding.Malformed.self) { try FormDecoding.decode(Array("a=%ff%fe".utf8)) }
        #expect(try FormDecoding.decode([UInt8]()) == [:])
        #expect(try FormDecoding.decode(Array("reason=%E2%82%AC+off".utf8))["reason"] == "€ off")
    }

    @Test("Host: IP literals, localhost and the configured name pass; any other name (DNS rebinding) does not")
    func host() {
        let p = HostPolicy(configured: "127.0.0.1")
        for ok in ["127.0.0.1:8787", "localhost:8787", "LOCALHOST", "[::1]:8787", "10.0.0.5:80"] { #expect(p.allows(ok), "\(ok)") }
        for bad in ["evil.example:8787", "evil.example", "", "127.0.0.1.nip.io:8787", "[::1", "localhost:80x", "999.1.1.1", "[]", "[::1]evil", "[::1]:", "[evil]"] {
            #expect(!p.allows(bad), "\(bad)")
        }
        #expect(!p.allows(nil))
        #expect(HostPolicy(configured: "warden.lan").allows("warden.lan:8787"))
    }

    @Test("wrong logins are limited per address, but the real token always logs in")
    func login() {
        let auth = Auth(token: String(repeating: "ab", count: 32), ttl: .seconds(60), attemptsPerMinute: 5)
        let now = Date()
        var results: [String] = []
        for _ in 0..<7 {
            switch auth.login("wrong", from: "127.0.0.1", now: now) {
            case .ok: results.append("ok")
            case .wrong: results.append("wrong")
            case .limited: results.append("limited")
            }
        }
        #expect(results == ["wrong", "wrong", "wrong", "wrong", "wrong", "limited", "limited"])
        if case .ok = auth.login(String(repeating: "ab", count: 32), from: "127.0.0.1", now: now) {} else {
            Issue.record("the valid token was locked out")
        }
    }

    @Test("wrong bearer tokens are refused, then limited per address; the right one always passes")
    func bearer() {
        let token = String(repeating: "cd", count: 32)
        let auth = Auth(token: token, ttl: .seconds(60), attemptsPerMinute: 5)
        let now = Date()
        var last = Auth.BearerResult.ok
        for _ in 0...Auth.bearerFailuresPerMinute { last = auth.bearer("Bearer nope", from: "127.0.0.1", now: now) }
        #expect(last == .limited)
        #expect(auth.bearer("Bearer " + token, from: "127.0.0.1", now: now) == .ok)
        #expect(auth.bearer(nil) == .none)
        #expect(auth.bearerFailuresTotal == UInt64(Auth.bearerFailuresPerMinute + 1))
    }

    @Test("CSV fields: RFC 4180 quoting; formulas shown, not run; numbers untouched")
    func csv() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == #""a,b""#)
        #expect(CSV.field("say \"hi\"") == #""say ""hi""""#)
        #expect(CSV.field("two\nlines") == "\"two\nlines\"")
        #expect(CSV.field("=HYPERLINK(\"x\")") == #""'=HYPERLINK(""x"")""#)
        #expect(CSV.field("@SUM(A1)") == #""'@SUM(A1)""#)
        #expect(CSV.field("-1.5") == "-1.5")
        let t = TradeInfo(id: 1, intent_id: "i", strategy: "s", market_id: "m,1", token_id: "=1+1", side: "buy",
                          shares: "1", price: "0.5", notional: "0.5", fee: "0", at: 0)
        #expect(t.csvRow(time: { _ in "T" }) == "1,i,s,\"m,1\",\"'=1+1\",buy,1,0.5,0.5,0,T\n")
    }
}
