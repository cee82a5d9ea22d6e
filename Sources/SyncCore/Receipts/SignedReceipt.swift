import Crypto
import Foundation

/// A receipt as the server signs it: a JWS in its flattened JSON
/// serialization (RFC 7515 §7.2.2) with the EdDSA algorithm over Ed25519
/// (RFC 8037), so that any JOSE library can check it as well as `field` and
/// `sync-server` can:
///
///     {"protected": base64url({"alg":"EdDSA","kid":…,"typ":"field-sync-receipt+json"}),
///      "payload": base64url(ReceiptDocument.encoded()),
///      "signature": base64url(Ed25519 signature of "protected.payload")}
///
/// The signature covers the bytes as sent: a verifier decodes the payload
/// only after checking it.
public struct SignedReceipt: Codable, Sendable, Equatable {
    public var protected: String
    public var payload: String
    public var signature: String

    public init(protected: String, payload: String, signature: String) {
        self.protected = protected
        self.payload = payload
        self.signature = signature
    }

    /// The JWS protected header.
    public struct Header: Codable, Sendable, Equatable {
        public var alg: String
        public var kid: String
        public var typ: String?
    }

    public static let mediaType = "field-sync-receipt+json"

    /// Signs `document` with `key` (the server's current signing key).
    /// - Throws: an encoding or signing error (neither happens with a valid key).
    public static func sign(_ document: ReceiptDocument, with key: ReceiptSigningKey) throws -> SignedReceipt {
        let header = try JSONEncoder.sorted.encode(Header(alg: "EdDSA", kid: key.id, typ: mediaType))
        let protected = Base64URL.encode(header)
        let payload = Base64URL.encode(try document.encoded())
        let signature = try key.privateKey.signature(for: Data("\(protected).\(payload)".utf8))
        return SignedReceipt(protected: protected, payload: payload, signature: Base64URL.encode(signature))
    }

    /// The protected header, read without checking the signature (for its key id).
    /// - Throws: `ReceiptError.malformed`.
    public func header() throws -> Header {
        guard let bytes = Base64URL.decode(protected), let header = try? JSONDecoder().decode(Header.self, from: bytes) else {
            throw ReceiptError.malformed("its protected header is not base64url JSON")
        }
        return header
    }

    /// The document, read without checking the signature (to show a receipt
    /// that failed; never to trust one).
    /// - Throws: `ReceiptError.malformed`.
    public func unverifiedDocument() throws -> ReceiptDocument {
        guard let bytes = Base64URL.decode(payload) else { throw ReceiptError.malformed("its payload is not base64url") }
        do {
            return try JSONDecoder().decode(ReceiptDocument.self, from: bytes)
        } catch {
            throw ReceiptError.malformed("its payload is not a receipt document")
        }
    }

    /// Checks the signature against `keys` and returns the document.
    /// - Throws: `ReceiptError`: `.malformed` (not a JWS, or not EdDSA),
    ///   `.unknownKey` (its key id is none of `keys`), `.badSignature` (any
    ///   byte of the header, payload or signature changed).
    public func verify(with keys: [ReceiptPublicKey]) throws -> (document: ReceiptDocument, key: ReceiptPublicKey) {
        let header = try header()
        guard header.alg == "EdDSA" else { throw ReceiptError.malformed("it is signed with \(header.alg.prefix(20)), not EdDSA") }
        guard let key = keys.first(where: { $0.id == header.kid }) else { throw ReceiptError.unknownKey(header.kid) }
        let publicKey = try key.publicKey
        guard let signature = Base64URL.decode(self.signature),
              publicKey.isValidSignature(signature, for: Data("\(protected).\(payload)".utf8))
        else { throw ReceiptError.badSignature(key.id) }
        let document = try unverifiedDocument()
        guard document.type == ReceiptDocument.typeName else { throw ReceiptError.malformed("its payload is a \(document.type.prefix(40)), not a receipt") }
        return (document, key)
    }

    /// This receipt as one line of JSON (what `field receipt export` writes).
    public func encoded() throws -> Data { try JSONEncoder.sorted.encode(self) }
}

/// Why a receipt does not verify, in one sentence each (`description`).
public enum ReceiptError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case unknownKey(String)
    case badSignature(String)
    /// The server no longer holds a change the receipt names (checked where the store is).
    case changeMissing(receipt: String, seq: Int64, record: String)
    /// A receipt kept without a signature (from a server before signed receipts).
    case unsigned(receipt: String)
    /// A genuine signature over a receipt that is not the one this device
    /// was given for what it sent: the sentence says how.
    case mismatch(String)
    /// The server's audit chain does not hold the receipt's position.
    case chainMissing(receipt: String, serverTime: String, position: Int64, detail: String)

    public var description: String {
        switch self {
        case .malformed(let why):
            "This is not a signed receipt: \(why)."
        case .unknownKey(let id):
            "The receipt is signed by key \(id.prefix(60)), which is not one of the server's keys given to check it."
        case .badSignature(let id):
            "The receipt's signature does not match its content under key \(id.prefix(60)): it was altered after signing."
        case .unsigned(let receipt):
            "Receipt \(receipt) came from a server before signed receipts: there is no signature to check."
        case .mismatch(let sentence):
            sentence
        case .changeMissing(let receipt, let seq, let record):
            "Receipt \(receipt) names change \(seq) of referral \(record), which the server no longer holds as acknowledged."
        case .chainMissing(let receipt, let serverTime, let position, let detail):
            "The server's audit trail no longer contains receipt \(receipt) of \(Self.day(serverTime)) at entry \(position): \(detail)."
        }
    }

    /// `2026-12-03T…` as `3 Dec 2026`; anything else as it is.
    static func day(_ time: String) -> String {
        let parts = time.prefix(10).split(separator: "-")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 3, let month = Int(parts[1]), (1...12).contains(month), let day = Int(parts[2]) else { return String(time.prefix(10)) }
        return "\(day) \(months[month - 1]) \(parts[0])"
    }
}

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

/// Base64url without padding (RFC 4648 §5), as JOSE uses it.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// One pass over the bytes (a receipt's payload is tens of kilobytes for a large push).
    public static func encode<D: DataProtocol>(_ bytes: D) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index + 2 < input.count {
            let word = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(word >> 18 & 63)])
            output.append(alphabet[Int(word >> 12 & 63)])
            output.append(alphabet[Int(word >> 6 & 63)])
            output.append(alphabet[Int(word & 63)])
            index += 3
        }
        let rest = input.count - index
        if rest > 0 {
            let word = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
            output.append(alphabet[Int(word >> 18 & 63)])
            output.append(alphabet[Int(word >> 12 & 63)])
            if rest == 2 { output.append(alphabet[Int(word >> 6 & 63)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// nil when `text` holds a character outside the alphabet, or is not the
    /// one canonical encoding of its bytes (unused low bits set), so that no
    /// two texts decode to the same signature.
    public static func decode(_ text: String) -> Data? {
        guard let data = decodeLoosely(text), encode(data) == text else { return nil }
        return data
    }

    private static func decodeLoosely(_ text: String) -> Data? {
        guard text.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

extension JSONEncoder {
    /// Sorted keys, no spaces, `/` unescaped: the same value, the same bytes.
    public static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
