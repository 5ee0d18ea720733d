// Authentication of CLOB calls. L2 (every trading call): an HMAC-SHA256 over timestamp + method + path + body with
// the API secret (base64url), sent as POLY_SIGNATURE beside the key, passphrase, address and timestamp. L1 (creating
// or deriving the API credentials): an EIP-712 ClobAuth signature by the wallet's key.
import Crypto
import Foundation

/// API credentials (from L1: create or derive); held in memory, never logged.
public struct ClobCredentials: Sendable {
    public var apiKey: String
    public var secret: String
    public var passphrase: String
    public init(apiKey: String, secret: String, passphrase: String) {
        self.apiKey = apiKey; self.secret = secret; self.passphrase = passphrase
    }
}

public enum ClobAuth {
    /// base64url(HMAC-SHA256(base64url-decode(secret), timestamp + method + path + body)); `path` without the query.
    public static func l2Signature(secret: String, timestamp: Int, method: String, path: String, body: String) throws -> String {
        guard let key = base64URLDecode(secret) else { throw SigningError("the API secret is not base64url") }
        let message = String(timestamp) + method + path + body
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key))
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// The L2 headers of one call.
    public static func l2Headers(_ creds: ClobCredentials, address: EthAddress, timestamp: Int, method: String, path: String,
                                 body: String) throws -> [(String, String)] {
        [("POLY_ADDRESS", address.checksummed),
         ("POLY_SIGNATURE", try l2Signature(secret: creds.secret, timestamp: timestamp, method: method, path: path, body: body)),
         ("POLY_TIMESTAMP", String(timestamp)), ("POLY_API_KEY", creds.apiKey), ("POLY_PASSPHRASE", creds.passphrase)]
    }

    /// The digest a wallet signs to create or derive its API credentials (L1): EIP-712 ClobAuth on chain 137.
    public static func l1Digest(address: EthAddress, timestamp: Int, nonce: UInt64, chainID: UInt64 = 137) -> [UInt8] {
        let domain = Keccak256.hash(Keccak256.hash("EIP712Domain(string name,string version,uint256 chainId)")
            + Keccak256.hash("ClobAuthDomain") + Keccak256.hash("1") + ABIWord.uint(chainID))
        let message = Keccak256.hash(Keccak256.hash("ClobAuth(address address,string timestamp,uint256 nonce,string message)")
            + ABIWord.address(address) + Keccak256.hash(String(timestamp)) + ABIWord.uint(nonce)
            + Keccak256.hash("This message attests that I control the given wallet"))
        return Keccak256.hash([0x19, 0x01] + domain + message)
    }

    /// base64url (padding optional) to bytes.
    static func base64URLDecode(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
