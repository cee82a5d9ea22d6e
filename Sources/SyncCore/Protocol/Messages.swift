import Foundation

/// The sync protocol's wire messages (JSON). See docs/protocol.md.
///
/// Assumptions: a star topology (devices talk only to the server); the server
/// orders every accepted write with a global, strictly increasing revision;
/// a device numbers its own changes 1, 2, 3… (`seq`) and may send a change
/// any number of times.
///
/// Flow:
/// - `POST /v1/register` once per device, with a user's bearer token;
/// - `POST /v1/push` batches of changes; the reply, sent only after the batch
///   is committed, gives each change's outcome and a receipt;
/// - `GET /v1/pull?since=<cursor>&limit=<n>` pages of what changed after the
///   cursor, in revision order, until `more` is false.
public enum SyncProtocol {
    /// Every message carries it; a server refuses versions it does not speak.
    public static let version = 1
    /// The most changes a push may carry.
    public static let maximumBatch = 1_000
    /// The largest request body the server reads, in bytes.
    public static let maximumBody = 8 * 1024 * 1024
    /// The largest page a pull returns.
    public static let maximumPage = 5_000
    /// The most bytes one value may take once encoded in a push (JSON
    /// escapes included): 256 KiB, so that at least 30 of the largest fit
    /// in one body. A field's 20,000 characters take at most 120,000 bytes
    /// unless they are long combining sequences; both the device (when the
    /// value is written) and the server (per change) refuse more.
    public static let maximumValueBytes = 256 * 1024

    /// The bytes `value` takes as a JSON string in a push, quotes included:
    /// UTF-8, plus the escapes Foundation's `JSONEncoder` writes (`\"`,
    /// `\\`, `\/`; a control character as `\u00XX`, counted at its six
    /// bytes even when it has a two-byte form). An upper bound, exact for
    /// text without control characters.
    /// `value`'s encoded size when it is over `maximumValueBytes`, else nil.
    /// Values under a sixth of the limit (nearly all) are not scanned.
    public static func oversize(_ value: String) -> Int? {
        guard value.utf8.count * 6 + 2 > maximumValueBytes else { return nil }
        let size = encodedSize(of: value)
        return size > maximumValueBytes ? size : nil
    }

    public static func encodedSize(of value: String) -> Int {
        var size = 2
        for byte in value.utf8 {
            switch byte {
            case 0x00..<0x20: size += 6
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): size += 2
            default: size += 1
            }
        }
        return size
    }
}

public enum Role: String, Codable, Sendable, CaseIterable {
    case practitioner, intake, admin
}

public struct RegisterRequest: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    /// The device's own id, if it has one; the server records it.
    public var device: String

    public init(device: String) {
        self.protocolVersion = SyncProtocol.version
        self.device = device
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", device
    }
}

public struct RegisterResponse: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var device: String
    public var user: String
    public var role: Role
    public var serverTime: String
    /// The highest change number the server has applied from this device.
    public var lastSeq: Int64?
    /// A token bound to this device, issued when the caller signed in with a
    /// user token: the device keeps it instead, and revoking the device ends it.
    public var deviceToken: String?

    public init(device: String, user: String, role: Role, serverTime: String, lastSeq: Int64? = nil, deviceToken: String? = nil) {
        self.protocolVersion = SyncProtocol.version
        self.device = device
        self.user = user
        self.role = role
        self.serverTime = serverTime
        self.lastSeq = lastSeq
        self.deviceToken = deviceToken
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", device, user, role, serverTime = "server_time", lastSeq = "last_seq"
        case deviceToken = "device_token"
    }
}

/// One field write as a device sends it.
public struct WireChange: Codable, Sendable, Equatable {
    public var seq: Int64
    public var record: String
    public var path: String
    /// nil clears the field (sent as `null`).
    @NullEncoded public var value: String?
    /// The field revision the device's edit was based on (0 if it never had one).
    public var baseRevision: Int64
    public var hlc: String

    public init(seq: Int64, record: String, path: String, value: String?, baseRevision: Int64, hlc: String) {
        self.seq = seq
        self.record = record
        self.path = path
        self.value = value
        self.baseRevision = baseRevision
        self.hlc = hlc
    }

    enum CodingKeys: String, CodingKey {
        case seq, record, path, value, baseRevision = "base_rev", hlc
    }
}

public struct PushRequest: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var device: String
    public var changes: [WireChange]
    /// The server epoch the device last synced with (nil before its first
    /// pull). A server whose epoch differs was restored or replaced: it
    /// answers 409 `server-restored` and applies nothing, so that no change
    /// is merged against revisions the server no longer has.
    public var epoch: String?
    /// The device's pull cursor: past the end of the server's log, the server
    /// lost revisions the device saw (409 `server-restored` likewise).
    public var cursor: Int64?

    public init(device: String, changes: [WireChange], epoch: String? = nil, cursor: Int64? = nil) {
        self.protocolVersion = SyncProtocol.version
        self.device = device
        self.changes = changes
        self.epoch = epoch
        self.cursor = cursor
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", device, changes, epoch, cursor
    }
}

public enum Outcome: String, Codable, Sendable {
    /// Accepted; `current` tells what the field holds now (a merge, or a later
    /// stamp's value under `lww`, may differ from what was sent).
    case applied
    /// Concurrent with a write the device had not seen, on a `manual` field:
    /// both values are kept as candidates for an admin to decide.
    case conflict
    /// Refused, with a reason a person can read; the device keeps the change.
    case rejected
    /// Already applied from an earlier send; `original` is what happened then.
    case duplicate
}

/// A field's state on the server.
public struct FieldState: Codable, Sendable, Equatable {
    @NullEncoded public var value: String?
    public var revision: Int64
    /// The open conflict on the field, if any.
    public var conflict: String?

    public init(value: String?, revision: Int64, conflict: String? = nil) {
        self.value = value
        self.revision = revision
        self.conflict = conflict
    }

    enum CodingKeys: String, CodingKey { case value, revision, conflict }
}

public struct ChangeOutcome: Codable, Sendable, Equatable {
    public var seq: Int64
    public var outcome: Outcome
    /// For a duplicate: the outcome of the first send.
    public var original: Outcome?
    /// The revision the write got (applied), if it got one.
    public var revision: Int64?
    public var conflict: String?
    public var reason: String?
    /// The field on the server once the batch was applied (absent when rejected).
    public var current: FieldState?
    /// The receipt the change was first acknowledged under.
    public var receipt: String?
    /// For a refusal: true when its cause is the device's state, not the
    /// change's content (its change number was already used for another
    /// change): the device sends it again under a new number, unasked.
    public var retry: Bool?

    public init(
        seq: Int64, outcome: Outcome, original: Outcome? = nil, revision: Int64? = nil, conflict: String? = nil,
        reason: String? = nil, current: FieldState? = nil, receipt: String? = nil, retry: Bool? = nil
    ) {
        self.seq = seq
        self.outcome = outcome
        self.original = original
        self.revision = revision
        self.conflict = conflict
        self.reason = reason
        self.current = current
        self.receipt = receipt
        self.retry = retry
    }
}

/// Proof of safe arrival: a short reference a practitioner can quote.
public struct Receipt: Codable, Sendable, Equatable {
    public var reference: String
    public var serverTime: String
    /// The referrals the push touched.
    public var records: [String]
    /// How many changes it acknowledged (applied or held as conflict candidates).
    public var changes: Int
    /// The receipt as the server signed it (docs/protocol.md, "Signed
    /// receipts"): what the device keeps and anyone can check offline. Nil
    /// from a server before signed receipts, and for a push acknowledged
    /// before them.
    public var signed: SignedReceipt?

    public init(reference: String, serverTime: String, records: [String], changes: Int, signed: SignedReceipt? = nil) {
        self.reference = reference
        self.serverTime = serverTime
        self.records = records
        self.changes = changes
        self.signed = signed
    }

    enum CodingKeys: String, CodingKey {
        case reference, serverTime = "server_time", records, changes, signed
    }
}

public struct PushResponse: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var outcomes: [ChangeOutcome]
    /// nil when nothing in the batch was acknowledged (all rejected).
    public var receipt: Receipt?
    /// The server's time when it answered (ISO 8601, UTC): the device
    /// measures its clock's offset from it.
    public var serverTime: String?
    /// When a change number was refused as already used: the highest number
    /// the server holds from this device, which the device renumbers past.
    public var lastSeq: Int64?

    public init(outcomes: [ChangeOutcome], receipt: Receipt?, serverTime: String? = nil, lastSeq: Int64? = nil) {
        self.protocolVersion = SyncProtocol.version
        self.outcomes = outcomes
        self.receipt = receipt
        self.serverTime = serverTime
        self.lastSeq = lastSeq
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", outcomes, receipt, serverTime = "server_time", lastSeq = "last_seq"
    }
}

/// One candidate value of a conflict.
public struct ConflictCandidate: Codable, Sendable, Equatable {
    @NullEncoded public var value: String?
    public var author: String
    public var device: String
    public var time: String
    public var hlc: String

    public init(value: String?, author: String, device: String, time: String, hlc: String) {
        self.value = value
        self.author = author
        self.device = device
        self.time = time
        self.hlc = hlc
    }

    enum CodingKeys: String, CodingKey { case value, author, device, time, hlc }
}

public struct ConflictState: Codable, Sendable, Equatable {
    /// Who settled a conflict, when and why: every device shows it.
    public struct Resolution: Codable, Sendable, Equatable {
        public var by: String
        public var at: String
        public var reason: String

        public init(by: String, at: String, reason: String) {
            self.by = by
            self.at = at
            self.reason = reason
        }
    }

    public var id: String
    /// `open` or `resolved`.
    public var status: String
    public var candidates: [ConflictCandidate]
    /// Set once an admin resolved it.
    public var resolution: Resolution?

    public init(id: String, status: String, candidates: [ConflictCandidate], resolution: Resolution? = nil) {
        self.id = id
        self.status = status
        self.candidates = candidates
        self.resolution = resolution
    }
}

/// One entry of the server's change log as a pull returns it: a field's new
/// value, or a change of a field's conflict state.
public struct PulledChange: Codable, Sendable, Equatable {
    public var revision: Int64
    public var record: String
    public var path: String
    @NullEncoded public var value: String?
    public var author: String
    public var device: String
    public var hlc: String
    public var at: String
    /// The field's conflict state once this entry applied (nil: none open).
    public var conflict: ConflictState?

    public init(
        revision: Int64, record: String, path: String, value: String?, author: String, device: String, hlc: String,
        at: String, conflict: ConflictState?
    ) {
        self.revision = revision
        self.record = record
        self.path = path
        self.value = value
        self.author = author
        self.device = device
        self.hlc = hlc
        self.at = at
        self.conflict = conflict
    }

    enum CodingKeys: String, CodingKey { case revision, record, path, value, author, device, hlc, at, conflict }
}

public struct PullResponse: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var changes: [PulledChange]
    /// Pass it as `since` for the next page; store it only once the page is stored.
    public var cursor: Int64
    public var more: Bool
    /// The identity of the server's log: it changes when the store is created
    /// or restored (`sync-server restore`). A device that synced under another
    /// epoch reconciles (docs/protocol.md, "Recovery").
    public var epoch: String?
    /// The highest revision in the server's log (all users'): a device whose
    /// cursor is past it saw revisions the server has lost.
    public var end: Int64?
    /// The server's time when it answered (ISO 8601, UTC).
    public var serverTime: String?
    /// The newest form version the server has published (docs/form.md): a
    /// device with an older one fetches the versions it lacks from
    /// `GET /v1/forms/{version}`. Absent from servers before form versions.
    public var formVersion: Int?
    /// The SHA-256 of that version's document (`GET /v1/forms` lists them
    /// all); absent while only the built-in form exists. A device whose copy
    /// differs (the server was restored and published again) fetches the
    /// server's versions afresh.
    public var formDigest: String?
    /// The answer to the audit head the device presented with the pull
    /// (`audit_position`, `audit_hash`): whether the server's audit chain
    /// still holds it (docs/security.md). Absent when none was presented.
    public var auditCheck: AuditHeadCheck?

    public init(
        changes: [PulledChange], cursor: Int64, more: Bool, epoch: String? = nil, end: Int64? = nil, serverTime: String? = nil,
        formVersion: Int? = nil, formDigest: String? = nil
    ) {
        self.protocolVersion = SyncProtocol.version
        self.changes = changes
        self.cursor = cursor
        self.more = more
        self.epoch = epoch
        self.end = end
        self.serverTime = serverTime
        self.formVersion = formVersion
        self.formDigest = formDigest
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", changes, cursor, more, epoch, end, serverTime = "server_time", formVersion = "form_version", formDigest = "form_digest"
        case auditCheck = "audit_check"
    }
}

/// The error body every 4xx and 5xx carries: `{"error": {"message": "…"}}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var message: String
        /// A machine-readable cause where a client acts on it:
        /// `server-restored` (409 to a push: reconcile, then push again).
        public var code: String?
    }

    public var error: Detail

    public init(message: String, code: String? = nil) {
        self.error = Detail(message: message, code: code)
    }
}

/// The `code`s of error bodies a device acts on.
public enum ErrorCode {
    /// The server's log is not the one the device synced with (restored from
    /// a backup, or replaced): the device reconciles before it pushes.
    public static let serverRestored = "server-restored"
    /// The server's disk is full (503 with `Retry-After`): nothing of the
    /// request was stored; the device keeps its changes for a later sync.
    public static let storageFull = "storage-full"
    /// The server cannot reach its database (503 with `Retry-After`):
    /// nothing of the request was stored; the device keeps its changes.
    public static let storageUnavailable = "storage-unavailable"
    /// The operator disabled the account (403): nothing is taken, and the
    /// device keeps what it has not sent.
    public static let userDisabled = "user-disabled"
    /// The device is revoked (410): it erases its referral data and reports
    /// what unsent work that destroyed (`WipeReport`).
    public static let deviceRevoked = "device-revoked"
    /// The device is revoked with "send submitted work first" (410): it
    /// pushes the changes of its submitted referrals, which the server still
    /// takes from it, then erases and reports as for `deviceRevoked`.
    public static let deviceRevokedSendSubmitted = "device-revoked-send-submitted"
    /// A chunk's bytes do not match its `Content-Digest` (422): it was not
    /// stored; the device sends it again.
    public static let chunkCorrupt = "chunk-corrupt"
    /// The chunks held do not make the offered file (422): the server drops
    /// them all, and the device sends the file again from the start.
    public static let attachmentCorrupt = "attachment-corrupt"
}

/// What a revoked device erased that had not reached the server, sent with
/// `POST /v1/devices/wiped` (ids, statuses and counts, never content), so
/// that the audit trail and the admin see unsent work destroyed.
public struct WipeReport: Codable, Sendable, Equatable {
    /// A referral with changes the server never accepted.
    public struct ErasedReferral: Codable, Sendable, Equatable {
        public var id: String
        /// `draft` or `submitted`, as the device had it.
        public var status: String
        /// Whether the referral said a child is at immediate risk (`urgency.immediate_risk`).
        public var immediateRisk: Bool
        /// How many of its changes were never accepted.
        public var unsentChanges: Int

        public init(id: String, status: String, immediateRisk: Bool, unsentChanges: Int) {
            self.id = id
            self.status = status
            self.immediateRisk = immediateRisk
            self.unsentChanges = unsentChanges
        }

        enum CodingKeys: String, CodingKey {
            case id, status, immediateRisk = "immediate_risk", unsentChanges = "unsent_changes"
        }
    }

    public var erased: [ErasedReferral]
    /// Submitted referrals the server accepted from the device just before it erased them.
    public var sentFirst: Int

    public init(erased: [ErasedReferral] = [], sentFirst: Int = 0) {
        self.erased = erased
        self.sentFirst = sentFirst
    }

    enum CodingKeys: String, CodingKey {
        case erased, sentFirst = "sent_first"
    }

    /// An older device's report (`{}`) says nothing erased.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        erased = try container.decodeIfPresent([ErasedReferral].self, forKey: .erased) ?? []
        sentFirst = try container.decodeIfPresent(Int.self, forKey: .sentFirst) ?? 0
    }

    /// One line for an operator: `2 referral(s) with unsent work erased (1 submitted, 1 at immediate risk): 01a2…, 01a3…`;
    /// nil when nothing unsent was erased.
    public var alert: String? {
        guard !erased.isEmpty else { return nil }
        let submitted = erased.filter { $0.status == ReferralStatus.submitted.rawValue }.count
        let risk = erased.filter(\.immediateRisk).count
        var parts = ["\(submitted) submitted"]
        if risk > 0 { parts.append("\(risk) at immediate risk") }
        return "\(erased.count) referral(s) with unsent work erased (\(parts.joined(separator: ", "))): \(erased.map(\.id).joined(separator: ", "))"
    }
}
