// A Polymarket CLOB V2 order: its amounts from a price and a size by the market's tick (as the exchange and its
// official clients round), its EIP-712 digest against the exchange that settles the market, its signature, and the
// exact JSON body of POST /order. Facts: ../shared/EXTERNAL-APIS.md "Polymarket trading"; where they are silent,
// the official client py-clob-client-v2 (which a test compares with, byte for byte).
public import WardenCore

public enum ClobSide: String, Sendable, Codable {
    case buy = "BUY", sell = "SELL"
    /// The `side` member of the signed struct.
    var code: UInt64 { self == .buy ? 0 : 1 }
}

public enum ClobOrderType: String, Sendable, CaseIterable, Codable { case gtc = "GTC", gtd = "GTD", fok = "FOK", fak = "FAK" }

/// Who signs and who holds the funds: 0 an EOA (the key's own account), 1 a Polymarket proxy wallet, 2 a Gnosis safe
/// (the funder holds the funds, the key signs). 3 (deposit wallets, ERC-1271) is not supported yet.
public enum SignatureType: Int, Sendable, Codable { case eoa = 0, proxy = 1, safe = 2 }

/// The exchange contracts an order is signed against (chain 137), chosen per market.
public struct ExchangeDomain: Sendable, Equatable {
    public let name = "Polymarket CTF Exchange"
    public let version: String
    public let chainID: UInt64 = 137
    public let verifyingContract: EthAddress

    public static let ctfV2 = ExchangeDomain(version: "2", verifyingContract: EthAddress(constant: "0xE111180000d2663C0091e4f400237545B87B996B"))
    public static let negRiskV2 = ExchangeDomain(version: "2", verifyingContract: EthAddress(constant: "0xe2222d279d744050d28e00520010520000310F59"))
    /// Protocol-V2 markets (Gamma `version: "v2"`) settle on a third exchange, signed with domain version "3".
    public static let protocolV3 = ExchangeDomain(version: "3", verifyingContract: EthAddress(constant: "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"))

    /// The exchange for a market: by its protocol (2, or 3 for protocol-V2 markets) and, under protocol 2, neg-risk or not.
    /// Every exchange an order may be signed for (balance allowances are given per exchange).
    public static let all: [ExchangeDomain] = [ctfV2, negRiskV2, protocolV3]

    /// Which exchange this is, in words (preflight names the allowance it misses).
    public var label: String {
        switch verifyingContract {
        case Self.ctfV2.verifyingContract: return "CTF exchange"
        case Self.negRiskV2.verifyingContract: return "neg-risk exchange"
        case Self.protocolV3.verifyingContract: return "protocol-V2 exchange"
        default: return "exchange \(verifyingContract)"
        }
    }

    public static func forMarket(negRisk: Bool, protocolVersion: Int) throws -> ExchangeDomain {
        switch protocolVersion {
        case 2: return negRisk ? .negRiskV2 : .ctfV2
        case 3: return .protocolV3
        default: throw SigningError("protocol \(protocolVersion) is not 2 or 3")
        }
    }

    /// keccak256(typeHash ‖ keccak(name) ‖ keccak(version) ‖ chainId ‖ verifyingContract), worked out once.
    public let separator: [UInt8]

    public init(version: String, verifyingContract: EthAddress) {
        self.version = version
        self.verifyingContract = verifyingContract
        separator = Keccak256.hash(Keccak256.hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
            + Keccak256.hash(name) + Keccak256.hash(version) + ABIWord.uint(chainID) + ABIWord.address(verifyingContract))
    }
}

/// The members of a V2 order, as signed (and `expiration`, which is sent but not signed).
public struct ClobOrder: Sendable, Equatable {
    public var salt: String
    public var maker: EthAddress
    public var signer: EthAddress
    public var tokenID: String
    /// What the maker gives and takes, ×10⁶ (pUSD for a buy's maker amount, shares for its taker amount).
    public var makerAmount: UInt64
    public var takerAmount: UInt64
    public var side: ClobSide
    public var signatureType: SignatureType
    /// Milliseconds since 1970.
    public var timestamp: UInt64
    public var metadata: [UInt8]
    public var builder: [UInt8]
    /// Seconds since 1970; 0 for none (GTD orders only).
    public var expiration: UInt64

    public init(salt: String, maker: EthAddress, signer: EthAddress, tokenID: String, makerAmount: UInt64, takerAmount: UInt64,
                side: ClobSide, signatureType: SignatureType, timestamp: UInt64, metadata: [UInt8], builder: [UInt8], expiration: UInt64) {
        self.salt = salt; self.maker = maker; self.signer = signer; self.tokenID = tokenID; self.makerAmount = makerAmount
        self.takerAmount = takerAmount; self.side = side; self.signatureType = signatureType; self.timestamp = timestamp
        self.metadata = metadata; self.builder = builder; self.expiration = expiration
    }

    /// A limit order of `key`'s account (or of `funder`'s, signed by the key, for signature types 1 and 2): amounts from
    /// the price and size by the tick, `tag` (at most 32 printable ASCII bytes) in the signed metadata, no builder.
    public static func limit(key: SigningKey, funder: EthAddress? = nil, signatureType: SignatureType = .eoa, tokenID: String, side: ClobSide,
                             price: Micros, size: Micros, tick: Micros, salt: String, timestamp: UInt64, tag: String? = nil,
                             expiration: UInt64 = 0) throws -> ClobOrder {
        let maker: EthAddress
        switch (signatureType, funder) {
        case (.eoa, nil): maker = key.address
        case (.eoa, let f?):
            guard f == key.address else { throw SigningError("signature type 0 (EOA): the funder is the key's own address \(key.address), not \(f)") }
            maker = f
        case (_, nil): throw SigningError("signature type \(signatureType.rawValue) needs a funder (the proxy or safe holding the funds)")
        case (_, let f?): maker = f
        }
        _ = try ABIWord.uint(decimal: salt)  // a salt that is not a uint256 is named here, not at signing
        let amounts = try ClobRounding.amounts(side: side, price: price, size: size, tick: tick)
        return ClobOrder(salt: salt, maker: maker, signer: key.address, tokenID: tokenID, makerAmount: amounts.maker, takerAmount: amounts.taker,
                         side: side, signatureType: signatureType, timestamp: timestamp, metadata: try metadata(tag: tag),
                         builder: [UInt8](repeating: 0, count: 32), expiration: expiration)
    }

    /// The bytes32 metadata carrying `tag` (left-aligned, zero-padded); all zero for none.
    public static func metadata(tag: String?) throws -> [UInt8] {
        var m = [UInt8](repeating: 0, count: 32)
        guard let tag else { return m }
        let bytes = Array(tag.utf8)
        guard bytes.count <= 32, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { throw SigningError("a tag is at most 32 printable ASCII characters") }
        m.replaceSubrange(0..<bytes.count, with: bytes)
        return m
    }

    public static let typeString = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
        + "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
    static let typeHash = Keccak256.hash(typeString)

    /// hashStruct(order).
    public func structHash() throws -> [UInt8] {
        guard metadata.count == 32, builder.count == 32 else { throw SigningError("metadata and builder are 32 bytes each") }
        var encoded = Self.typeHash
        encoded.reserveCapacity(12 * 32)
        encoded += try ABIWord.uint(decimal: salt)
        encoded += ABIWord.address(maker) + ABIWord.address(signer)
        encoded += try ABIWord.uint(decimal: tokenID)
        encoded += ABIWord.uint(makerAmount) + ABIWord.uint(takerAmount)
        encoded += ABIWord.uint(side.code) + ABIWord.uint(UInt64(signatureType.rawValue)) + ABIWord.uint(timestamp)
        encoded += metadata + builder
        return Keccak256.hash(encoded)
    }

    /// keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct): what is signed.
    public func digest(_ domain: ExchangeDomain) throws -> [UInt8] {
        Keccak256.hash([0x19, 0x01] + domain.separator + (try structHash()))
    }
}

/// Prices and sizes to amounts by the market's tick: the price on the tick, the size down to hundredths of a share,
/// the amounts exact (a size of hundredths times a price of the tick's decimals has at most the amount's decimals).
public enum ClobRounding {
    /// The decimals of a price for each tick size the exchange uses.
    public static func priceDecimals(tick: Micros) throws -> Int {
        switch tick {
        case 100_000: return 1
        case 10_000: return 2
        case 1_000: return 3
        case 100: return 4
        default: throw SigningError("tick size \(Fixed.text(tick, decimals: 6)) is not one of 0.1, 0.01, 0.001, 0.0001")
        }
    }

    /// (maker amount, taker amount) ×10⁶ of a limit order; a price off the tick or outside [tick, 1 − tick], or a
    /// size under a hundredth of a share, is refused with what is wrong.
    public static func amounts(side: ClobSide, price: Micros, size: Micros, tick: Micros) throws -> (maker: UInt64, taker: UInt64) {
        _ = try priceDecimals(tick: tick)
        guard price % tick == 0 else {
            throw SigningError("price \(Fixed.text(price, decimals: 6)) is not on the market's tick \(Fixed.text(tick, decimals: 4))")
        }
        guard price >= tick, price <= Fixed.one - tick else {
            throw SigningError("price \(Fixed.text(price, decimals: 4)) is outside [\(Fixed.text(tick, decimals: 4)), \(Fixed.text(Fixed.one - tick, decimals: 4))]")
        }
        let shares = size - size % 10_000
        guard shares > 0 else { throw SigningError("size \(Fixed.text(size, decimals: 6)) is under 0.01 share") }
        // shares × price in micros: both are multiples of 100 micros, so the product is exact.
        let (product, overflow) = shares.multipliedReportingOverflow(by: price)
        guard !overflow else { throw SigningError("size \(Fixed.text(size)) is implausibly large") }
        let notional = UInt64(product / Fixed.one)
        return side == .buy ? (notional, UInt64(shares)) : (UInt64(shares), notional)
    }
}

/// A signed order and the body of POST /order.
public struct SignedClobOrder: Sendable, Equatable {
    public var order: ClobOrder
    /// r ‖ s ‖ v.
    public var signature: [UInt8]

    public init(order: ClobOrder, domain: ExchangeDomain, key: SigningKey) throws {
        self.order = order
        signature = try key.sign(digest: order.digest(domain))
    }

    /// The JSON body, compact, members in the official client's order (so an HMAC over it is the same).
    public func body(owner: String, orderType: ClobOrderType, postOnly: Bool = false, deferExec: Bool = false) -> String {
        let o = order
        var w = JSONText.Writer()
        w.raw(#"{"order":{"salt":"#); w.raw(o.salt)
        w.raw(#","maker":"#); w.string(o.maker.checksummed)
        w.raw(#","signer":"#); w.string(o.signer.checksummed)
        w.raw(#","tokenId":"#); w.string(o.tokenID)
        w.raw(#","makerAmount":""#); w.raw(String(o.makerAmount))
        w.raw(#"","takerAmount":""#); w.raw(String(o.takerAmount))
        w.raw(#"","side":"#); w.string(o.side.rawValue)
        w.raw(#","expiration":""#); w.raw(String(o.expiration))
        w.raw(#"","signatureType":"#); w.raw(String(o.signatureType.rawValue))
        w.raw(#","timestamp":""#); w.raw(String(o.timestamp))
        w.raw(#"","metadata":"0x"#); w.raw(Hex.string(o.metadata))
        w.raw(#"","builder":"0x"#); w.raw(Hex.string(o.builder))
        w.raw(#"","signature":"0x"#); w.raw(Hex.string(signature))
        w.raw(#""},"owner":"#); w.string(owner)
        w.raw(#","orderType":"#); w.string(orderType.rawValue)
        w.raw(#","deferExec":"#); w.raw(deferExec ? "true" : "false")
        w.raw(#","postOnly":"#); w.raw(postOnly ? "true" : "false")
        w.raw("}")
        return w.text
    }
}

/// JSON written as Python's json.dumps(separators=(",", ":"), ensure_ascii=False) writes it, into one buffer.
enum JSONText {
    struct Writer {
        var bytes: [UInt8] = []
        init() { bytes.reserveCapacity(768) }
        mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
        /// A string literal: quotes, backslashes and control characters escaped, everything else as it is.
        mutating func string(_ s: String) {
            bytes.append(UInt8(ascii: "\""))
            for b in s.utf8 {
                switch b {
                case UInt8(ascii: "\""): bytes += [92, 34]
                case 92: bytes += [92, 92]
                case 10: bytes += [92, UInt8(ascii: "n")]
                case 13: bytes += [92, UInt8(ascii: "r")]
                case 9: bytes += [92, UInt8(ascii: "t")]
                case 8: bytes += [92, UInt8(ascii: "b")]
                case 12: bytes += [92, UInt8(ascii: "f")]
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes += [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]]
                default: bytes.append(b)  // UTF-8 passes through whole (ensure_ascii=False)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    static func quote(_ s: String) -> String {
        var w = Writer()
        w.string(s)
        return w.text
    }
}
