import Crypto
import Foundation

/// What a signed receipt says (docs/protocol.md, "Signed receipts"): the
/// payload of its JWS. The server signs it once the push it acknowledges
/// has committed; anyone holding the server's public key can check it,
/// offline, with `field receipt verify` or `sync-server receipt verify`.
///
/// It carries no referral content: ids, references, change numbers, and the
/// SHA-256 of each change (`ChangeDigest`). Encoded with sorted keys and no
/// spaces, so the same receipt is always the same bytes; a verifier never
/// re-encodes it: the signature covers the bytes as sent.
public struct ReceiptDocument: Codable, Sendable, Equatable {
    /// `field-sync/receipt`: what this JSON is.
    public var type = ReceiptDocument.typeName
    /// The format's version: 1.
    public var version = 1
    /// The push's receipt code, `R-XXXX-XXXX`.
    public var receipt: String
    /// The server's log this push went into (`ServerIdentity.epoch`).
    public var epoch: String
    /// The device that pushed (its id, a lowercase UUID).
    public var device: String
    /// The user signed in on it.
    public var user: String
    /// When the server committed the push: ISO 8601, UTC, milliseconds.
    public var serverTime: String
    /// Each referral the push wrote to, in the push's order.
    public var referrals: [ReferralChanges]
    /// The audit chain right after the push's commit: its last entry's
    /// position and hash. Nil only when the chain could not be reached then
    /// (the push is stored whatever; docs/security.md).
    public var audit: AuditHead?

    public static let typeName = "field-sync/receipt"

    /// One referral's part of a receipt.
    public struct ReferralChanges: Codable, Sendable, Equatable {
        /// The referral's id (a lowercase UUID).
        public var id: String
        /// Its own reference (`F-XXXX-XXXX`), once submitted; nil for a draft.
        public var reference: String?
        /// Every change of this push the server accepted for it (applied, or
        /// held as a conflict's candidate), by change number.
        public var changes: [ChangeHash]
        /// Each attachment this push's accepted changes name, received whole
        /// and checked by the server (docs/protocol.md, "Attachments"); nil
        /// (left out of the JSON) when they name none.
        public var attachments: [AttachmentHash]?

        public init(id: String, reference: String?, changes: [ChangeHash], attachments: [AttachmentHash]? = nil) {
            self.id = id
            self.reference = reference
            self.changes = changes
            self.attachments = attachments
        }
    }

    /// One attachment a receipt names: the SHA-256 of its content and its size.
    public struct AttachmentHash: Codable, Sendable, Equatable {
        /// Lowercase hex SHA-256 of the file (64 characters).
        public var sha256: String
        /// Its size in bytes.
        public var size: Int64

        public init(sha256: String, size: Int64) {
            self.sha256 = sha256
            self.size = size
        }
    }

    /// One accepted change: its number on the device and `ChangeDigest` of it.
    public struct ChangeHash: Codable, Sendable, Equatable {
        public var seq: Int64
        /// Lowercase hex SHA-256 (64 characters).
        public var sha256: String

        public init(seq: Int64, sha256: String) {
            self.seq = seq
            self.sha256 = sha256
        }
    }

    public init(receipt: String, epoch: String, device: String, user: String, serverTime: String, referrals: [ReferralChanges], audit: AuditHead?) {
        self.receipt = receipt
        self.epoch = epoch
        self.device = device
        self.user = user
        self.serverTime = serverTime
        self.referrals = referrals
        self.audit = audit
    }

    /// Every change the receipt names, across its referrals.
    public var changeCount: Int { referrals.reduce(0) { $0 + $1.changes.count } }

    enum CodingKeys: String, CodingKey {
        case type, version, receipt, epoch, device, user, serverTime = "server_time", referrals, audit
    }

    /// A document's members a sync needs (its reference, time and audit
    /// head), read without the change digests (`SignedReceipt.verifiedHead`).
    public struct Head: Decodable, Sendable, Equatable {
        public var type: String
        public var receipt: String
        public var serverTime: String
        public var audit: AuditHead?

        enum CodingKeys: String, CodingKey {
            case type, receipt, serverTime = "server_time", audit
        }
    }

    /// The canonical bytes: JSON, keys sorted, no spaces, `/` unescaped
    /// (what `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes`
    /// writes, by hand with the sync-message codec's `JSONWriter`: a large
    /// push's receipt names a thousand changes, and Foundation's encoder
    /// took a tenth of the server's time on it).
    public func encoded() throws -> Data {
        var json = JSONWriter(capacity: 1024 + changeCount * 96, escapingSlashes: false)
        json.raw("{")
        if let audit {
            json.member(#""audit":"#)
            json.raw(#"{"hash":"#); json.string(audit.hash)
            json.raw(#","position":"#); json.integer(audit.position)
            json.raw("}")
        }
        json.member(#""device":"#); json.string(device)
        json.member(#""epoch":"#); json.string(epoch)
        json.member(#""receipt":"#); json.string(receipt)
        json.member(#""referrals":"#)
        json.array(referrals) { json, referral in
            json.raw("{")
            if let attachments = referral.attachments, !attachments.isEmpty {
                json.raw(#""attachments":"#)
                json.array(attachments) { json, attachment in
                    json.raw(#"{"sha256":"#); json.string(attachment.sha256)
                    json.raw(#","size":"#); json.integer(attachment.size)
                    json.raw("}")
                }
                json.raw(",")
            }
            json.raw(#""changes":"#)
            json.array(referral.changes) { json, change in
                json.raw(#"{"seq":"#); json.integer(change.seq)
                json.raw(#","sha256":"#); json.string(change.sha256)
                json.raw("}")
            }
            json.raw(#","id":"#); json.string(referral.id)
            if let reference = referral.reference { json.raw(#","reference":"#); json.string(reference) }
            json.raw("}")
        }
        json.member(#""server_time":"#); json.string(serverTime)
        json.member(#""type":"#); json.string(type)
        json.member(#""user":"#); json.string(user)
        json.member(#""version":"#); json.integer(version)
        json.raw("}")
        return Data(json.bytes)
    }
}

/// A position in the server's hash-chained audit trail: the entry's id
/// (1, 2, …) and its hash (lowercase hex SHA-256). A device keeps the newest
/// it was given and presents it at each sync; a server whose chain no longer
/// holds it there was shortened or rewritten (docs/security.md).
public struct AuditHead: Codable, Sendable, Equatable {
    public var position: Int64
    public var hash: String

    public init(position: Int64, hash: String) {
        self.position = position
        self.hash = hash
    }
}

/// The SHA-256 that names one change in a receipt, computed the same way by
/// the device (from what it sent) and the server (from its log).
///
/// The input is the text `field-sync/change/1` followed by six fields, each
/// as its UTF-8 length in decimal, `:`, and its bytes: the device id, the
/// change number (decimal), the referral id, the path, the clock stamp as
/// the device sent it, and the value (`-` for a cleared field, with no
/// length; otherwise `=` then the length-prefixed value). Length prefixes
/// make the encoding unambiguous whatever a value holds.
public enum ChangeDigest {
    /// - Returns: lowercase hex, 64 characters.
    public static func sha256(device: String, seq: Int64, record: String, path: String, hlc: String, value: String?) -> String {
        // One buffer, one hash: a large push names a thousand changes.
        var bytes = [UInt8]()
        bytes.reserveCapacity(160 + (value?.utf8.count ?? 0))
        bytes.append(contentsOf: prefix)
        func field<S: StringProtocol>(_ text: S) {
            bytes.append(contentsOf: String(text.utf8.count).utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: text.utf8)
        }
        field(device)
        field(String(seq))
        field(record)
        field(path)
        field(hlc)
        if let value {
            bytes.append(UInt8(ascii: "="))
            field(value)
        } else {
            bytes.append(UInt8(ascii: "-"))
        }
        return Hex.string(SHA256.hash(data: bytes))
    }

    private static let prefix = Array("field-sync/change/1".utf8)

    /// The digest of `change` as `device` sent it.
    public static func sha256(device: String, _ change: WireChange) -> String {
        sha256(device: device, seq: change.seq, record: change.record, path: change.path, hlc: change.hlc, value: change.value)
    }
}
