import Foundation
import SyncCore

// The values `SyncStorage` takes and hands back: users, devices, fields,
// the change log, sign-ins, revocations, registrations, published forms,
// stored outcomes and the front door's search terms. Plain data, no I/O.

/// A user as the server knows them.
struct User: Sendable, Equatable {
    let id: Int64
    let name: String
    let role: Role
}

/// A field's current state on the server.
struct ServerField: Sendable, Equatable {
    var value: String?
    var revision: Int64
    var hlc: String
    var device: String
    var author: String
    var at: String
    var conflict: String?
}

/// One line of the server's change log. Every accepted value, every losing
/// candidate and every conflict-state change gets one, with a revision.
struct LogEntry: Sendable {
    enum Kind: String, Sendable {
        /// The field took this value.
        case write
        /// A value that did not become current (a conflict candidate, an
        /// `lww` loser, an input to a merge): history only, never pulled.
        case candidate
        /// The field's conflict state changed; `value` is its current value.
        case conflict
    }

    var kind: Kind
    var record: String
    var path: String
    var value: String?
    var author: String
    var device: String
    var seq: Int64?
    var hlc: String
    var at: String
    var conflict: String?
    /// The stamp the device sent, when the server bounded it to its own time
    /// (a device clock ahead of the server's): kept for the history; `hlc`
    /// is what orders `lww` and `append`.
    var sentHLC: String? = nil
}

/// Which log the server holds, and how far it goes.
struct ServerIdentity: Sendable, Equatable {
    /// Changes when the store is created or restored (`sync-server restore`).
    var epoch: String
    /// The highest revision in the change log (0 when empty).
    var end: Int64
    /// The newest published form version (1, the built-in form, when none is).
    var formVersion: Int = 1
    /// The SHA-256 of the newest published version's document; nil while
    /// only the built-in form exists.
    var formDigest: String? = nil
}

/// Who a bearer token signs in, read by `SyncStorage.signIn` in one statement.
struct SignIn: Sendable, Equatable {
    var user: User
    /// The device the token was issued to; nil for a user's own token.
    var tokenDevice: String?
    /// Whether the device the request names (`Field-Device`) is revoked;
    /// false when it names none, or one the server does not know.
    var namedDeviceRevoked: Bool
    /// Whether the operator disabled the user (`sync-server user disable`).
    var userDisabled = false
    /// How the named device was revoked while it has not yet erased its
    /// data (`RevokeMode`); nil when it is not revoked, or has erased.
    var namedDeviceRevokeMode: RevokeMode? = nil
}

/// How a device is revoked.
enum RevokeMode: String, Sendable, Equatable, CaseIterable {
    /// Lost or stolen: every call is refused and the device erases its data.
    case erase
    /// A leaver's laptop in its owner's hands: the server still takes the
    /// changes of the device's submitted referrals, then it erases.
    case sendSubmitted = "send-submitted"
}

/// What `SyncStorage.revoke` did.
enum RevokeOutcome: Sendable, Equatable {
    case noSuchDevice
    /// Revoked before, at `at` by `by`: nothing changed.
    case alreadyRevoked(at: String, by: String)
    case revoked
}

/// What changing a user's access did (`sync-server user disable|enable|set-role`).
enum AccessChange: Sendable, Equatable {
    case noSuchUser
    /// The user already was so: nothing changed, nothing audited.
    case unchanged
    /// Changed; `previous` is what it was (a role's name, or the time the user was disabled).
    case changed(previous: String?)
}

/// What `SyncStorage.register` did.
enum Registration: Sendable, Equatable {
    /// The device is the user's; the highest seq applied from it (nil if none).
    case registered(lastSeq: Int64?)
    case revoked
    /// Registered to another user: nothing was stored.
    case otherUser
}

/// What `SyncStorage.pushPreflight` reads.
struct PushPreflight: Sendable, Equatable {
    /// The user the device is registered to; nil for an unknown device.
    var owner: Int64?
    var revoked: Bool
    /// How it was revoked, while it has not yet erased its data.
    var revokeMode: RevokeMode? = nil
    var identity: ServerIdentity
}

/// One published form version as stored: its JSON document (`FormDocument`,
/// keys sorted) and that text's SHA-256 in hex.
struct PublishedForm: Sendable, Equatable {
    var version: Int
    var document: String
    var digest: String
    var publishedAt: String
    var publishedBy: String
}

/// What a push stored for one (device, seq), returned again on a retry.
struct StoredOutcome: Sendable, Equatable {
    var outcome: Outcome
    var revision: Int64?
    var conflict: String?
    var receipt: String?
    /// What the change carried (record, path, value), to tell a retry from a reused seq.
    var fingerprint: String? = nil
}

/// What signing in to the console checks.
struct ConsoleCredential: Sendable {
    var user: User
    /// bcrypt (`$2b$…`), or nil if no password was ever set.
    var passwordHash: String?
    /// The TOTP secret, or nil if the user has no second factor.
    var totpSecret: String?
    /// Whether the operator disabled the user.
    var disabled = false
}

/// One searchable value (`ServerQueries.searchable`), or a referral's
/// status (`path` `@status`); `value` nil when it was cleared.
struct SearchTerm: Sendable, Equatable {
    var record: String
    var path: String
    var value: String?
}

/// A submitted referral as the queue needs it.
struct SubmittedReferral: Sendable {
    var id: String
    var kind: String
    var submittedAt: String
    var receipt: String?
    var acknowledgedAt: String?
    var outcome: String?
    /// When the latest change after the front door's last acknowledgement or decision arrived.
    var changedAt: String?
    var openConflicts: Int
    var childName: String?
    var children: Int
    var agency: String?
    var immediateRisk: Bool
    /// The front door's RAG rating (`RAGRating`), if it rated the referral, and when.
    var rating: String? = nil
    var ratedAt: String? = nil
    /// The referral's own reference (`IntakePath.reference`).
    var reference: String? = nil
    var childSafeNow: String? = nil
    /// The referrer's own deadline, as written.
    var deadline: String? = nil
    /// When the referrer phoned, if they say they did.
    var calledAt: String? = nil
    /// When the first decision was recorded.
    var firstDecidedAt: String? = nil
}
