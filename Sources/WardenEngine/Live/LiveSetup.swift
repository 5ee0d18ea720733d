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
    /// The key, funder and signature type alone (shadow mode signs without credentials or the network); `purpose`
    /// names what needs them in the error.
    static func signer(_ e: EngineSettings, environment: [String: String] = ProcessInfo.processInfo.environment,
                       purpose: String = "shadow mode") throws -> IntentSigner {
        let l = e.live
        guard let keyText = Credentials.value(l.keyCredential, environment: environment) else {
            throw LiveSetupError("\(purpose) needs the private key: credential `\(l.keyCredential)` not found (\(Credentials.whereToPut(l.keyCredential)))")
        }
        let key: SigningKey
        do { key = try SigningKey(hex: keyText) } catch { throw LiveSetupError("credential `\(l.keyCredential)`: \(error)") }
        var funder: EthAddress?
        if let f = l.funder {
            do { funder = try EthAddress(f) } catch { throw LiveSetupError("engine.live.funder: \(error)") }
        }
        guard let type = SignatureType(rawValue: l.signatureType) else { throw LiveSetupError("engine.live.signature_type: \(l.signatureType) is not 0, 1 or 2") }
        switch (type, funder) {
        case (.eoa, let f?) where f != key.address:
            throw LiveSetupError("engine.live.funder: signature type 0 (EOA) trades the key's own address \(key.address), not \(f)")
        case (.proxy, nil), (.safe, nil):
            throw LiveSetupError("engine.live.funder: signature type \(l.signatureType) needs the address holding the funds")
        default: break
        }
        return IntentSigner(key: key, funder: funder, signatureType: type)
    }

    /// The venue's configuration with its secrets, or an error naming the key or credential that is wrong.
    static func config(_ e: EngineSettings, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> LiveVenueConfig {
        let l = e.live
        let signer = try signer(e, environment: environment, purpose: "live trading")
        let key = signer.key
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
        return LiveVenueConfig(clobURL: url, key: key, credentials: credentials, signatureType: signer.signatureType, funder: signer.funder, timeout: e.requestTimeout)
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
            let v = try await client.orderVersion()
            out.append(PreflightCheck(name: "venue order version", outcome: v == 2 ? .ok : .fail,
                                      detail: v == 2 ? "the venue takes version 2 orders, as Warden signs them"
                                                     : "the venue takes version \(v) orders; Warden signs version 2 (no order would be accepted)"))
        } catch {
            out.append(PreflightCheck(name: "venue order version", outcome: .fail, detail: "\(c.clobURL)/version: \(error)"))
        }
        out += await collateralChecks(client, c, e)
        do {
            let open = try await client.openOrders()
            out.append(PreflightCheck(name: "venue orders readable", outcome: .ok, detail: "\(open.count) open orders on the wallet"))
        } catch {
            out.append(PreflightCheck(name: "venue orders readable", outcome: .fail, detail: "\(error)"))
        }
        return out
    }

    /// Balance and allowances of the account that trades (the funder's for a proxy or safe): the balance must pay one
    /// order at the per-order cap; an exchange with no allowance refuses every buy on the markets it settles (a
    /// failure when none has any, else a warning naming them).
    static func collateralChecks(_ client: ClobClient, _ c: LiveVenueConfig, _ e: EngineSettings) async -> [PreflightCheck] {
        let who = (c.funder ?? c.key.address).checksummed
        let collateral: ClobCollateral
        do {
            collateral = try await client.collateral(signatureType: c.signatureType)
        } catch {
            return [PreflightCheck(name: "venue balance", outcome: .fail, detail: "\(c.clobURL)/balance-allowance: \(error)")]
        }
        var out: [PreflightCheck] = []
        let cap = Fixed.from(e.live.maxOrder) ?? 0
        out.append(PreflightCheck(name: "venue balance", outcome: collateral.balance > 0 && collateral.balance >= cap ? .ok : .fail,
                                  detail: "\(Fixed.text(collateral.balance)) pUSD on \(who)" + (collateral.balance >= cap && collateral.balance > 0 ? ""
                                      : " — not enough for one order at engine.live.max_order \(Fixed.text(cap))")))
        let missing = ExchangeDomain.all.filter { collateral.allowance(for: $0) <= 0 }
        if missing.count == ExchangeDomain.all.count {
            out.append(PreflightCheck(name: "venue allowance", outcome: .fail, detail: "no exchange may spend \(who)'s pUSD: approve the exchanges, then call /balance-allowance/update"))
        } else if !missing.isEmpty {
            out.append(PreflightCheck(name: "venue allowance", outcome: .warn,
                                      detail: "no allowance for the \(missing.map(\.label).joined(separator: ", ")): buys on markets settled there will be refused"))
        } else {
            let least = ExchangeDomain.all.map { collateral.allowance(for: $0) }.min() ?? 0
            out.append(PreflightCheck(name: "venue allowance", outcome: .ok,
                                      detail: "every exchange approved (least \(least == Micros.max ? "unlimited" : Fixed.text(least) + " pUSD"))"))
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
