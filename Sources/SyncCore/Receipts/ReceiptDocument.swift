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

        public init(id: String, reference: String?, changes: [ChangeHash]) {
            self.id = id
            self.reference = reference
            self.changes = changes
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

    /// The canonical bytes: JSON, keys sorted, no spaces, `/` unescaped.
    public func encoded() throws -> Data {
        try JSONEncoder.sorted.encode(self)
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
        var text = "field-sync/change/1"
        for field in [device, String(seq), record, path, hlc] {
            text += "\(field.utf8.count):\(field)"
        }
        text += value.map { "=\($0.utf8.count):\($0)" } ?? "-"
        return Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    /// The digest of `change` as `device` sent it.
    public static func sha256(device: String, _ change: WireChange) -> String {
        sha256(device: device, seq: change.seq, record: change.record, path: change.path, hlc: change.hlc, value: change.value)
    }
}
