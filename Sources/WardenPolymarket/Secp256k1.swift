// Signing with the system libsecp256k1: ECDSA over secp256k1 with RFC 6979 nonces and low s (the library's
// defaults), r‖s‖v with v = 27 + the recovery id, as Ethereum wallets and the official clients sign. Also the
// other direction (who signed a digest), which the fake exchange uses to check orders as the real one does.
import CSecp256k1
import Foundation

/// One context for the process: creating one costs more than a signature, and a const context is safe to share.
private struct Context: @unchecked Sendable {
    let pointer: OpaquePointer
    static let shared = Context(pointer: warden_secp256k1_context_create())
}

/// A private key held in memory (never printed; wiped when released).
public final class SigningKey: @unchecked Sendable {
    private var secret: [UInt8]
    /// The account this key signs for.
    public let address: EthAddress

    /// From 64 hex digits (an optional 0x prefix, surrounding white space ignored); an invalid key is refused
    /// without saying the key.
    public init(hex text: String) throws {
        guard let bytes = Hex.bytes(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
            throw SigningError("the private key is not 32 bytes of hex")
        }
        guard secp256k1_ec_seckey_verify(Context.shared.pointer, bytes) == 1 else {
            throw SigningError("the private key is not a valid secp256k1 key (zero or past the group order)")
        }
        secret = bytes
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_create(Context.shared.pointer, &pubkey, bytes) == 1 else {
            throw SigningError("no public key for the private key")
        }
        address = try Self.address(of: &pubkey)
    }

    deinit { for i in secret.indices { secret[i] = 0 } }

    /// The signature of a 32-byte digest: r (32) ‖ s (32) ‖ v (27 or 28).
    public func sign(digest: [UInt8]) throws -> [UInt8] {
        guard digest.count == 32 else { throw SigningError("a digest has 32 bytes, not \(digest.count)") }
        var sig = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_sign_recoverable(Context.shared.pointer, &sig, digest, secret, nil, nil) == 1 else {
            throw SigningError("signing failed")
        }
        var compact = [UInt8](repeating: 0, count: 64)
        var recid: Int32 = 0
        _ = secp256k1_ecdsa_recoverable_signature_serialize_compact(Context.shared.pointer, &compact, &recid, &sig)
        return compact + [UInt8(27 + recid)]
    }

    /// Who signed `digest` with `signature` (r ‖ s ‖ v, v 27/28 or 0/1); nil when it recovers no key.
    public static func signer(of digest: [UInt8], signature: [UInt8]) -> EthAddress? {
        guard digest.count == 32, signature.count == 65 else { return nil }
        let v = signature[64]
        let recid = Int32(v >= 27 ? v - 27 : v)
        guard recid == 0 || recid == 1 else { return nil }
        var sig = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(Context.shared.pointer, &sig, Array(signature[0..<64]), recid) == 1 else {
            return nil
        }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(Context.shared.pointer, &pubkey, &sig, digest) == 1 else { return nil }
        return try? address(of: &pubkey)
    }

    /// The last 20 bytes of the Keccak-256 of the uncompressed public key without its 0x04 prefix.
    private static func address(of pubkey: inout secp256k1_pubkey) throws -> EthAddress {
        var out = [UInt8](repeating: 0, count: 65)
        var length = 65
        guard secp256k1_ec_pubkey_serialize(Context.shared.pointer, &out, &length, &pubkey, warden_secp256k1_uncompressed()) == 1,
              length == 65 else { throw SigningError("cannot serialize the public key") }
        return try EthAddress(bytes: Array(Keccak256.hash(out[1...]).suffix(20)))
    }
}
