// F58 for configuration and secrets: durations of any size parse or are refused, never trap; a secret is
// redacted in every encoding a message can carry it in.
import Foundation
import Testing
@testable import WardenKit
import WardenSupervisor

@Suite("Hostile configuration values")
struct HostileConfigTests {
    @Test("durations: absurd sizes are no duration or out of range, never an overflow")
    func durations() {
        #expect(Duration.parse(config: "99999999999s") != nil, "parsed, so the range check can name it")
        #expect(Duration.parse(config: "1e300s") == nil)
        #expect(Duration.parse(config: "1e13") == nil)
        #expect(Duration.parse(config: "9999999999999999d") == nil)
        #expect(Duration.parse(config: "inf") == nil)
        #expect(Duration.parse(config: "-1s") == nil)
        #expect(Duration.parse(config: "250ms") == .milliseconds(250))
        #expect(Duration.parse(config: "1.5s") == .milliseconds(1500))
        #expect(Duration.parse(config: "99999999999s")!.short.hasSuffix("s"))
    }

    @Test("a secret is redacted as it is, percent-encoded (both hex cases), form-encoded, JSON-escaped and base64")
    func redaction() {
        let token = "123456:AB/c+d e"
        let texts = [
            "url https://api.telegram.org/bot123456:AB/c+d e/sendMessage failed",
            "url https://api.telegram.org/bot123456%3AAB%2Fc%2Bd%20e/sendMessage failed",
            "url https://api.telegram.org/bot123456%3aAB%2fc%2bd%20e/sendMessage failed",
            "form token=123456%3AAB%2Fc%2Bd+e",
            #"json {"t":"123456:AB\/c+d e"}"#,
            "b64 " + Data(token.utf8).base64EncodedString(),
        ]
        for t in texts {
            let r = Redaction.redact(t, secrets: [(name: "telegram_token", value: token)])
            #expect(r.contains("<telegram_token>") && !r.contains("AB"), "\(t) → \(r)")
        }
        #expect(Redaction.redact("short 42", secrets: [(name: "chat", value: "42")]) == "short 42")
    }
}
