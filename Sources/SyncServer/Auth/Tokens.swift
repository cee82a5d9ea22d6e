import Crypto
import Foundation
import SyncCore

/// Bearer tokens: 256 random bits, shown once when a user is added; the server
/// keeps only their SHA-256.
enum Tokens {
    /// A user's token (`fld_…`), or with `prefix: "fld_dev_"` a device's.
    static func make(prefix: String = "fld_") -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + Hex.string(bytes)
    }

    static func hash(_ token: String) -> String {
        Hex.string(SHA256.hash(data: Data(token.utf8)))
    }

    /// Whether two hashes are equal, in time that does not depend on where
    /// they differ. Tokens are looked up by their SHA-256, so a timing
    /// difference in the lookup tells an attacker about the hash of their own
    /// guess, never about a stored token; storage confirms the row it found
    /// with this comparison.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
