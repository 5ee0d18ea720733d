// The live venue's configuration read and checked once, for the engine's start and for `warden-engine preflight`
// (`wardenctl preflight`): the key and API credentials by credential name, the signature type and funder, the caps,
// and the venue itself — its clock against ours, the API key accepted (a heartbeat), open orders and trades readable.
import Foundation
import WardenCore
import WardenKit
import WardenPolymarket

struct LiveSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

enum LiveSetup {
    /// The key, funder and signature type alone (shadow mode signs without credentials or the network).
    static func signer(_ e: EngineSettings, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ShadowSigner {
        let l = e.live
        guard let keyText = Credentials.value(l.keyCredential, environment: environment) else {
            throw LiveSetupError("shadow mode needs the private key: credential `\(l.keyCredential)` not found (\(Credentials.whereToPut(l.keyCredential)))")
        }
        let key: SigningKey
        do { key = try SigningKey(hex: keyText) } catch { throw LiveSetupError("credential `\(l.keyCredential)`: \(error)") }
        var funder: EthAddress?
        if let f = l.funder {
            do { funder = try EthAddress(f) } catch { throw LiveSetupError("engine.live.funder: \(error)") }
        }
        guard let type = SignatureType(rawValue: l.signatureType) else { throw LiveSetupError("engine.live.signature_type: \(l.signatureType) is not 0, 1 or 2") }
        // The order builder checks the funder against the type; one dry build names a mismatch at start, not per order.
        _ = try ClobOrder.limit(key: key, funder: funder, signatureType: type, tokenID: "1", side: .buy, price: 500_000, size: 5_000_000,
                                tick: 10_000, salt: "1", timestamp: 0)
        return ShadowSigner(key: key, funder: funder, signatureType: type)
    }

    /// The venue's configuration with its secrets, or an error naming the key or credential that is wrong.
    static func config(_ e: EngineSettings, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> LiveVenueConfig {
        let l = e.live
        guard let keyText = Credentials.value(l.keyCredential, environment: environment) else {
            throw LiveSetupError("live trading needs the private key: credential `\(l.keyCredential)` not found (\(Credentials.whereToPut(l.keyCredential)))")
        }
        let key: SigningKey
        do { key = try SigningKey(hex: keyText) } catch { throw LiveSetupError("credential `\(l.keyCredential)`: \(error)") }
        var funder: EthAddress?
        if let f = l.funder {
            do { funder = try EthAddress(f) } catch { throw LiveSetupError("engine.live.funder: \(error)") }
        }
        guard let signatureType = SignatureType(rawValue: l.signatureType) else {
            throw LiveSetupError("engine.live.signature_type: \(l.signatureType) is not 0, 1 or 2")
        }
        switch (signatureType, funder) {
        case (.eoa, let f?) where f != key.address:
            throw LiveSetupError("engine.live.funder: signature type 0 (EOA) trades the key's own address \(key.address), not \(f)")
        case (.proxy, nil), (.safe, nil):
            throw LiveSetupError("engine.live.funder: signature type \(l.signatureType) needs the address holding the funds")
        default: break
        }
        let url = l.clobURL ?? e.clobURL
        let credentials: ClobCredentials
        if let text = Credentials.value(l.apiCredential, environment: environment) {
            do { credentials = try ClobAnswers.credentials(Data(text.utf8)) } catch {
                throw LiveSetupError("credential `\(l.apiCredential)`: not API credentials JSON {\"apiKey\",\"secret\",\"passphrase\"}: \(error)")
            }
        } else {
            do { credentials = try await ClobClient.deriveCredentials(baseURL: url, key: key) } catch {
                throw LiveSetupError("API credentials could not be derived from the key at \(url) (credential `\(l.apiCredential)` absent): \(error)")
            }
        }
        return LiveVenueConfig(clobURL: url, key: key, credentials: credentials, signatureType: signatureType, funder: funder, timeout: e.requestTimeout)
    }

    /// The venue checked: clock skew (/time), the API key (an authenticated heartbeat, which changes nothing), open
    /// orders and trades readable. Each check named with its result.
    static func checks(_ c: LiveVenueConfig, _ e: EngineSettings) async -> [PreflightCheck] {
        let client = ClobClient(baseURL: c.clobURL, key: c.key, credentials: c.credentials, timeout: e.requestTimeout)
        var out: [PreflightCheck] = []
        do {
            let skew = abs(Double(try await client.serverTime()) - Date().timeIntervalSince1970)
            out.append(PreflightCheck(name: "venue clock skew", outcome: skew <= e.maxClockSkew.seconds ? .ok : .fail,
                                      detail: String(format: "%.0f s against %@/time (limit %.0f s)", skew, c.clobURL, e.maxClockSkew.seconds)))
        } catch {
            out.append(PreflightCheck(name: "venue clock skew", outcome: .fail, detail: "\(c.clobURL)/time: \(error)"))
        }
        do {
            _ = try await client.heartbeat(previous: "")
            out.append(PreflightCheck(name: "venue API key", outcome: .ok, detail: "accepted for \(c.key.address) (signature type \(c.signatureType.rawValue))"))
        } catch {
            out.append(PreflightCheck(name: "venue API key", outcome: .fail, detail: "\(error)"))
        }
        do {
            let open = try await client.openOrders()
            out.append(PreflightCheck(name: "venue orders readable", outcome: .ok, detail: "\(open.count) open orders on the wallet"))
        } catch {
            out.append(PreflightCheck(name: "venue orders readable", outcome: .fail, detail: "\(error)"))
        }
        return out
    }

    static func caps(_ l: LiveSettings) throws -> LiveCaps {
        func cap(_ v: Double, _ k: String) throws -> Micros {
            guard let m = Fixed.from(v), m >= 0 else { throw LiveSetupError("engine.live.\(k): \(v) is not a usable amount") }
            return m
        }
        return LiveCaps(perOrder: try cap(l.maxOrder, "max_order"), perMarket: try cap(l.maxMarket, "max_market"), perDay: try cap(l.maxDay, "max_day"))
    }

    static func times(_ l: LiveSettings) -> LiveTimes {
        var t = LiveTimes()
        t.heartbeatEvery = l.heartbeat
        t.heartbeatBound = max(3 * l.heartbeat.seconds, 10)
        t.reconcileEvery = l.reconcile
        return t
    }
}
