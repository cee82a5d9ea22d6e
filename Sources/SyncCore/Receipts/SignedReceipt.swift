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

    /// The protected header, read without checking the signature (for its key id).
    /// - Throws: `ReceiptError.malformed`.
    public func header() throws -> Header {
        guard let bytes = Base64URL.decode(protected), let header = try? JSONDecoder().decode(Header.self, from: bytes) else {
            throw ReceiptError.malformed("its protected header is not base64url JSON")
        }
        return header
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
    /// one canonical encoding of its bytes (a length of 1 modulo 4, or
    /// unused low bits set), so that no two texts decode to the same
    /// signature. One pass over the UTF-8 (RFC 4648, section 5, unpadded):
    /// a device verifies its newest receipt, tens of kilobytes, at every sync.
    public static func decode(_ text: String) -> Data? {
        var text = text
        return text.withUTF8 { decode(bytes: $0) }
    }

    /// Each byte of the alphabet's value (0–63), 0xFF for any other byte.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    private static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> Data? {
        let rest = input.count % 4
        guard rest != 1 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(input.count / 4 * 3 + 2)
        return values.withUnsafeBufferPointer { values -> Data? in
            var index = 0
            while index + 4 <= input.count {
                let a = values[Int(input[index])], b = values[Int(input[index + 1])]
                let c = values[Int(input[index + 2])], d = values[Int(input[index + 3])]
                guard (a | b | c | d) & 0xC0 == 0 else { return nil }
                let word = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                output.append(UInt8(truncatingIfNeeded: word >> 16))
                output.append(UInt8(truncatingIfNeeded: word >> 8))
                output.append(UInt8(truncatingIfNeeded: word))
                index += 4
            }
            if rest > 0 {
                let a = values[Int(input[index])], b = values[Int(input[index + 1])]
                let c = rest == 3 ? values[Int(input[index + 2])] : 0
                guard (a | b | c) & 0xC0 == 0 else { return nil }
                let word = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                // The canonical encoding leaves the bits past the last byte at zero.
                guard word & (rest == 2 ? 0xFFFF : 0xFF) == 0 else { return nil }
                output.append(UInt8(truncatingIfNeeded: word >> 16))
                if rest == 3 { output.append(UInt8(truncatingIfNeeded: word >> 8)) }
            }
            return Data(output)
        }
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
