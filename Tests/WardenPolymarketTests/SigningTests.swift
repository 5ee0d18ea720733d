// The signing parts on their own: Keccak-256 against published vectors, EIP-55 addresses, a key's address and its
// signatures (recovered to the signer), uint256 words, and the order amounts by tick. The comparison with the
// official client is ClobSigningTests (integration), which installs it.
import Foundation
import Testing
import WardenCore
import WardenPolymarket

@Suite("Polymarket signing")
struct SigningTests {
    @Test("Keccak-256: the published vectors (empty, abc, the quick brown fox) and a message across several blocks")
    func keccak() {
        #expect(Hex.string(Keccak256.hash("")) == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(Hex.string(Keccak256.hash("abc")) == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        #expect(Hex.string(Keccak256.hash("The quick brown fox jumps over the lazy dog"))
                == "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15")
        // 135, 136 and 137 bytes: the padding in the same byte, a block exactly full, one byte into the next.
        let lengths = [135, 136, 137, 272, 1000].map { Keccak256.hash([UInt8](repeating: 0x61, count: $0)) }
        #expect(Set(lengths.map { Hex.string($0) }).count == 5 && lengths.allSatisfy { $0.count == 32 })
    }

    @Test("EIP-55: the specification's addresses read and written back; a wrong checksum or a malformed address is refused")
    func addresses() throws {
        for a in ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                  "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"] {
            #expect(try EthAddress(a).checksummed == a)
            #expect(try EthAddress(a.lowercased()).checksummed == a, "all lower case carries no checksum")
        }
        #expect(throws: SigningError.self) { try EthAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") }
        #expect(throws: SigningError.self) { try EthAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA") }
        #expect(throws: SigningError.self) { try EthAddress("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00") }
    }

    @Test("a key's address is the published one; its signatures are r‖s‖v with v 27/28, low s, deterministic, and recover to it")
    func keysAndSignatures() throws {
        let key = try SigningKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        #expect(key.address.checksummed == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
        let digest = Keccak256.hash("an order")
        let sig = try key.sign(digest: digest)
        #expect(sig.count == 65 && (sig[64] == 27 || sig[64] == 28))
        #expect(try key.sign(digest: digest) == sig, "RFC 6979: the same digest, the same signature")
        // Low s: at most half the group order (its top byte is 0x7f at most).
        #expect(sig[32] <= 0x7f)
        #expect(SigningKey.signer(of: digest, signature: sig) == key.address)
        #expect(SigningKey.signer(of: Keccak256.hash("another order"), signature: sig) != key.address)
        #expect(throws: SigningError.self) { try SigningKey(hex: String(repeating: "0", count: 64)) }
        #expect(throws: SigningError.self) { try SigningKey(hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141") }
        #expect(throws: SigningError.self) { try SigningKey(hex: "0x1234") }
    }

    @Test("uint256 from decimal: a 77-digit token id, 2^256 − 1; past it or not digits refused")
    func words() throws {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        #expect(try ABIWord.uint(decimal: max) == [UInt8](repeating: 0xff, count: 32))
        #expect(try ABIWord.uint(decimal: "258") == [UInt8](repeating: 0, count: 30) + [1, 2])
        #expect(throws: SigningError.self) { try ABIWord.uint(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936") }
        #expect(throws: SigningError.self) { try ABIWord.uint(decimal: "12a") }
        #expect(throws: SigningError.self) { try ABIWord.uint(decimal: "") }
    }

    @Test("amounts by tick: a buy gives pUSD for shares, a sell the reverse; sizes down to hundredths; off-tick and out-of-range prices refused")
    func amounts() throws {
        // 10.567 shares at 0.55 (tick 0.01): 10.56 shares, 5.808 pUSD.
        let buy = try ClobRounding.amounts(side: .buy, price: 550_000, size: 10_567_000, tick: 10_000)
        #expect(buy.maker == 5_808_000 && buy.taker == 10_560_000)
        let sell = try ClobRounding.amounts(side: .sell, price: 550_000, size: 10_567_000, tick: 10_000)
        #expect(sell.maker == 10_560_000 && sell.taker == 5_808_000)
        // Tick 0.0001: 3.33 shares at 0.1234 = 0.410922 pUSD, exact.
        #expect(try ClobRounding.amounts(side: .buy, price: 123_400, size: 3_330_000, tick: 100) == (410_922, 3_330_000))
        #expect(throws: SigningError.self) { try ClobRounding.amounts(side: .buy, price: 555_000, size: Fixed.one, tick: 10_000) }
        #expect(throws: SigningError.self) { try ClobRounding.amounts(side: .buy, price: 0, size: Fixed.one, tick: 10_000) }
        #expect(throws: SigningError.self) { try ClobRounding.amounts(side: .buy, price: Fixed.one, size: Fixed.one, tick: 10_000) }
        #expect(throws: SigningError.self) { try ClobRounding.amounts(side: .buy, price: 500_000, size: 9_999, tick: 10_000) }
        #expect(throws: SigningError.self) { try ClobRounding.amounts(side: .buy, price: 500_000, size: Fixed.one, tick: 50_000) }
    }

    @Test("the exchange is chosen per market: neg-risk or not under protocol 2, the third exchange with domain version 3")
    func exchanges() throws {
        #expect(try ExchangeDomain.forMarket(negRisk: false, protocolVersion: 2) == .ctfV2)
        #expect(try ExchangeDomain.forMarket(negRisk: true, protocolVersion: 2) == .negRiskV2)
        #expect(try ExchangeDomain.forMarket(negRisk: true, protocolVersion: 3).version == "3")
        #expect(ExchangeDomain.ctfV2.separator != ExchangeDomain.negRiskV2.separator)
        #expect(throws: SigningError.self) { try ExchangeDomain.forMarket(negRisk: false, protocolVersion: 1) }
    }
}
