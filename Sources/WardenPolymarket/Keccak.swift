// Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not SHA3-256's 0x06): the hash of EIP-712
// type strings, domains, structs and digests, and of public keys for addresses. Written from the Keccak reference
// (the permutation Keccak-f[1600], rate 1088 bits); checked against published vectors and, at test time, against
// the official client's own hash.

/// Keccak-256 of bytes.
public enum Keccak256 {
    /// The 24 round constants of the iota step.
    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]
    /// Rotation of each lane in the rho step, indexed x + 5y.
    private static let rotations: [UInt64] = [
        0, 1, 62, 28, 27,
        36, 44, 6, 55, 20,
        3, 10, 43, 25, 39,
        41, 45, 15, 21, 8,
        18, 2, 61, 56, 14,
    ]
    static let rate = 136

    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var state = State()
        var block = [UInt8](repeating: 0, count: rate)
        var filled = 0
        for byte in bytes {
            block[filled] = byte
            filled += 1
            if filled == rate {
                state.absorb(block)
                filled = 0
            }
        }
        // Padding: 0x01 after the message, 0x80 in the last byte of the block (the same byte when only one is left).
        for i in filled..<rate { block[i] = 0 }
        block[filled] ^= 0x01
        block[rate - 1] ^= 0x80
        state.absorb(block)
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 { out[i] = UInt8(truncatingIfNeeded: state.lanes[i / 8] >> (8 * UInt64(i % 8))) }
        return out
    }

    public static func hash(_ text: String) -> [UInt8] { hash(Array(text.utf8)) }

    /// The 25 lanes (index x + 5y), in one allocation per hash.
    struct State {
        var lanes = [UInt64](repeating: 0, count: 25)

        mutating func absorb(_ block: [UInt8]) {
            for i in 0..<(Keccak256.rate / 8) {
                var lane: UInt64 = 0
                for k in 0..<8 { lane |= UInt64(block[8 * i + k]) << (8 * UInt64(k)) }
                lanes[i] ^= lane
            }
            lanes.withUnsafeMutableBufferPointer { Keccak256.permute($0.baseAddress!) }
        }
    }

    /// Where rho and pi send each lane (index x + 5y goes to y + 5((2x + 3y) mod 5)), and by how much it turns.
    private static let piTarget: [Int] = (0..<25).map { i in let (x, y) = (i % 5, i / 5); return y + 5 * ((2 * x + 3 * y) % 5) }

    @inline(__always) private static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { n == 0 ? x : (x << n) | (x >> (64 - n)) }

    /// Keccak-f[1600]: 24 rounds of theta, rho and pi, chi, iota.
    private static func permute(_ a: UnsafeMutablePointer<UInt64>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { bBuffer in
            let b = bBuffer.baseAddress!
            rotations.withUnsafeBufferPointer { rot in
                piTarget.withUnsafeBufferPointer { pi in
                    for round in 0..<24 {
                        // theta: each lane takes the parity of two columns.
                        let c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20], c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
                        let c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22], c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
                        let c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
                        let d0 = c4 ^ rotl(c1, 1), d1 = c0 ^ rotl(c2, 1), d2 = c1 ^ rotl(c3, 1), d3 = c2 ^ rotl(c4, 1), d4 = c3 ^ rotl(c0, 1)
                        for y in stride(from: 0, to: 25, by: 5) {
                            a[y] ^= d0; a[y + 1] ^= d1; a[y + 2] ^= d2; a[y + 3] ^= d3; a[y + 4] ^= d4
                        }
                        // rho and pi.
                        for i in 0..<25 { b[pi[i]] = rotl(a[i], rot[i]) }
                        // chi: each lane with the two to its right in its row.
                        for y in stride(from: 0, to: 25, by: 5) {
                            let b0 = b[y], b1 = b[y + 1], b2 = b[y + 2], b3 = b[y + 3], b4 = b[y + 4]
                            a[y] = b0 ^ (~b1 & b2); a[y + 1] = b1 ^ (~b2 & b3); a[y + 2] = b2 ^ (~b3 & b4)
                            a[y + 3] = b3 ^ (~b4 & b0); a[y + 4] = b4 ^ (~b0 & b1)
                        }
                        // iota
                        a[0] ^= roundConstants[round]
                    }
                }
            }
        }
    }
}
