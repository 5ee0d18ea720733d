// `warden-engine order sign`: the exact body Warden would POST to the CLOB's /order for one order, signed with a key
// from a file, sent nowhere, so an operator can check a signature and its amounts by hand before trading live.
import ArgumentParser
import Foundation
import WardenCore
import WardenPolymarket

struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "order", abstract: "Polymarket orders, offline.",
                                                    subcommands: [SignOrderCommand.self])
}

struct SignOrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Print the JSON body Warden would POST to /order for this order (signed; owner left as \"<api key>\"); nothing is sent.",
        discussion: "Deterministic when --salt and --timestamp are given. The key file holds the private key in hex and must not be readable by group or others.")

    @Option(name: .customLong("key-file"), help: "File holding the hex private key (mode 0600).") var keyFile: String
    @Option(name: .long, help: "The outcome token id (decimal).") var token: String
    @Option(name: .long, help: "buy or sell.") var side: String
    @Option(name: .long, help: "Limit price, on the tick (e.g. 0.55).") var price: String
    @Option(name: .long, help: "Shares (rounded down to hundredths).") var size: String
    @Option(name: .long, help: "The market's tick size: 0.1, 0.01, 0.001 or 0.0001.") var tick: String
    @Option(name: .customLong("neg-risk"), help: "true or false: whether the market is neg-risk (picks the exchange).") var negRisk: String
    @Option(name: .long, help: "2 (the CTF exchanges) or 3 (protocol-V2 markets).") var `protocol`: Int = 2
    @Option(name: .customLong("signature-type"), help: "0 EOA, 1 Polymarket proxy, 2 Gnosis safe.") var signatureType: Int = 0
    @Option(name: .long, help: "The address holding the funds (signature types 1 and 2; default: the key's).") var funder: String?
    @Option(name: .long, help: "Salt (decimal; default random).") var salt: String?
    @Option(name: .long, help: "Milliseconds since 1970 (default now).") var timestamp: UInt64?
    @Option(name: .customLong("order-type"), help: "GTC, GTD, FOK or FAK.") var orderType: String = "GTC"
    @Option(name: .long, help: "Seconds since 1970 when a GTD order expires.") var expiration: UInt64?
    @Flag(name: .customLong("post-only"), help: "Rest only, never take (GTC and GTD).") var postOnly = false
    @Option(name: .long, help: "A tag signed in the order's metadata (at most 32 ASCII bytes; Warden puts the intent id there).")
    var tag: String?

    func run() async throws {
        do {
            print(try body())
        } catch let e as SigningError {
            throw ValidationError(e.description)
        }
    }

    func body() throws -> String {
        let key = try SigningKey(hex: try Self.readKey(keyFile))
        guard let side = ClobSide(rawValue: side.uppercased()) else { throw SigningError("--side \(side.debugDescription) is not buy or sell") }
        let p = try Self.decimal(price, "--price"), s = try Self.decimal(size, "--size"), t = try Self.decimal(tick, "--tick")
        guard let neg = Bool(negRisk.lowercased()) else { throw SigningError("--neg-risk \(negRisk.debugDescription) is not true or false") }
        guard let type = ClobOrderType(rawValue: orderType.uppercased()) else {
            throw SigningError("--order-type \(orderType.debugDescription) is not GTC, GTD, FOK or FAK")
        }
        guard let sigType = SignatureType(rawValue: signatureType) else {
            throw SigningError("--signature-type \(signatureType) is not 0 (EOA), 1 (proxy) or 2 (safe); 3 (deposit wallet) is not supported yet")
        }
        if type == .gtd, expiration == nil { throw SigningError("a GTD order needs --expiration (seconds since 1970, at least a minute ahead)") }
        if type != .gtd, expiration != nil { throw SigningError("--expiration is for GTD orders only") }
        if postOnly, type == .fok || type == .fak { throw SigningError("--post-only is for GTC and GTD orders only") }
        let order = try ClobOrder.limit(key: key, funder: try funder.map { try EthAddress($0) }, signatureType: sigType, tokenID: token, side: side,
                                        price: p, size: s, tick: t, salt: salt ?? String(UInt64.random(in: 1...(1 << 53))),
                                        timestamp: timestamp ?? UInt64(Date().timeIntervalSince1970 * 1000), tag: tag, expiration: expiration ?? 0)
        let signed = try SignedClobOrder(order: order, domain: try ExchangeDomain.forMarket(negRisk: neg, protocolVersion: `protocol`), key: key)
        return signed.body(owner: "<api key>", orderType: type, postOnly: postOnly)
    }

    /// A decimal option as micros; more than six decimals is refused rather than cut (0.5500001 is not 0.55).
    static func decimal(_ text: String, _ option: String) throws -> Micros {
        guard let m = Fixed.parse(text), m >= 0 else { throw SigningError("\(option) \(text.debugDescription) is not a positive decimal number") }
        if let dot = text.firstIndex(of: "."), text[text.index(after: dot)...].trimmingCharacters(in: .whitespaces).count > 6 {
            throw SigningError("\(option) \(text) has more than six decimals")
        }
        return m
    }

    /// The key file's text, refused when group or others may read it (a key is a secret: never in YAML, never shared).
    static func readKey(_ path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SigningError("key file \(path): \(String(cString: strerror(errno)))") }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw SigningError("key file \(path) is readable by group or others (mode \(String(mode, radix: 8))); chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SigningError("key file \(path) is not readable text") }
        return text
    }
}
