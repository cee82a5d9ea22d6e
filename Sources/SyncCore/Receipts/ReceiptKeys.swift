import Crypto
import Foundation

/// One of the server's receipt keys, public half, as a JWK (RFC 8037:
/// `{"kty":"OKP","crv":"Ed25519","x":…,"kid":…}`). Its id is the key's
/// JWK thumbprint (RFC 7638): the base64url SHA-256 of
/// `{"crv":"Ed25519","kty":"OKP","x":"…"}`, so the id names the key itself.
public struct ReceiptPublicKey: Codable, Sendable, Equatable {
    public var kty = "OKP"
    public var crv = "Ed25519"
    /// The 32-byte public key, base64url.
    public var x: String
    public var kid: String
    /// When the server made it, and when it stopped signing with it (a
    /// rotation); retired keys still verify what they signed.
    public var created: String?
    public var retired: String?

    public var id: String { kid }

    /// - Throws: `ReceiptError.malformed` when `x` is not a 32-byte Ed25519 key.
    public var publicKey: Curve25519.Signing.PublicKey {
        get throws {
            guard let raw = Base64URL.decode(x), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                throw ReceiptError.malformed("key \(kid.prefix(60)) is not an Ed25519 public key")
            }
            return key
        }
    }

    /// A key as stored: `x` base64url, `kid` its thumbprint.
    public init(x: String, kid: String, created: String? = nil, retired: String? = nil) {
        self.x = x
        self.kid = kid
        self.created = created
        self.retired = retired
    }

    public init(_ key: Curve25519.Signing.PublicKey, created: String? = nil, retired: String? = nil) {
        self.x = Base64URL.encode(key.rawRepresentation)
        self.kid = Self.thumbprint(x: x)
        self.created = created
        self.retired = retired
    }

    /// RFC 7638's thumbprint of an Ed25519 JWK with public value `x`.
    public static func thumbprint(x: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data("{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"\(x)\"}".utf8))))
    }

    /// Keys read from a file: a JWK set (`{"keys":[…]}`, as `/v1/keys` and
    /// `field receipt keys` give it) or one JWK. Each key's id is checked
    /// against its thumbprint.
    /// - Throws: `ReceiptError.malformed` naming what is wrong.
    public static func keys(from data: Data) throws -> [ReceiptPublicKey] {
        struct Set: Decodable { var keys: [ReceiptPublicKey] }
        let keys: [ReceiptPublicKey]
        if let set = try? JSONDecoder().decode(Set.self, from: data) {
            keys = set.keys
        } else if let one = try? JSONDecoder().decode(ReceiptPublicKey.self, from: data) {
            keys = [one]
        } else {
            throw ReceiptError.malformed("the key file is neither a JWK set nor a JWK")
        }
        for key in keys {
            guard key.kty == "OKP", key.crv == "Ed25519" else { throw ReceiptError.malformed("key \(key.kid.prefix(60)) is not an Ed25519 key") }
            _ = try key.publicKey
            guard key.kid == thumbprint(x: key.x) else {
                throw ReceiptError.malformed("key \(key.kid.prefix(60))'s id is not its thumbprint")
            }
        }
        return keys
    }
}

/// The JWK set `/v1/keys` serves: every receipt key the server has had.
public struct ReceiptKeySet: Codable, Sendable, Equatable {
    public var keys: [ReceiptPublicKey]
    public init(keys: [ReceiptPublicKey]) { self.keys = keys }
}

/// The server's signing key: an Ed25519 private key and its public JWK's id.
/// Unchecked: swift-crypto's key is an immutable value not yet marked
/// `Sendable`; nothing here changes it after `init`.
public struct ReceiptSigningKey: @unchecked Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey
    public var id: String { publicKey.kid }
    public let publicKey: ReceiptPublicKey

    public init(_ privateKey: Curve25519.Signing.PrivateKey, created: String? = nil) {
        self.privateKey = privateKey
        self.publicKey = ReceiptPublicKey(privateKey.publicKey, created: created)
    }
}
