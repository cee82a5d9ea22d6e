import Foundation
import SyncCore

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

/// Where the server keeps everything. Routes and the sync engine talk only to
/// this protocol; SQLite (`SQLiteStorage`) is the embedded default.
///
/// Every call is `async` and no backend blocks a thread while it waits:
/// SQLite's statements run on GRDB's connection queues through its async
/// access, PostgreSQL's go through postgres-nio's async queries. Errors
/// are the backend's (`DatabaseError`, `PSQLError`) or `StorageError`.
protocol SyncStorage: AttachmentStorage {
    /// Adds a user, in one transaction with its `add-user` audit entry by
    /// `by` (the operating-system user running `sync-server user add`).
    /// Throws `StorageError.duplicateUser` when the name is taken.
    func addUser(name: String, role: Role, tokenHash: String, by: String, at: String) async throws -> User
    /// The user a token hash (SHA-256 hex) belongs to, as a user's own token
    /// or as a device's, and whether `device` (the request's `Field-Device`)
    /// is revoked: what authentication needs, in one statement. Nil when no
    /// token has that hash.
    func signIn(tokenHash: String, device: String?) async throws -> SignIn?
    /// A device signing in (`/v1/register`), in one write transaction: the
    /// device is recorded for the user unless it is revoked or someone
    /// else's, given the token hash `deviceTokenHash` when there is one, and
    /// the `login` audit entry is appended.
    func register(device: String, for user: User, at: String, deviceTokenHash: String?) async throws -> Registration
    func deviceOwner(_ device: String) async throws -> Int64?
    /// What a push checks before its transaction, in one statement (one
    /// round trip, one hop to the database's thread): the device's owner,
    /// whether it is revoked, and the log's identity.
    func pushPreflight(device: String) async throws -> PushPreflight
    /// The highest seq applied from a device (nil if none).
    func lastSeq(of device: String) async throws -> Int64?
    /// The log's epoch and end, read together.
    func identity() async throws -> ServerIdentity
    /// Gives the log a new epoch (after a restore): every device reconciles
    /// on its next sync. Audited as `new-epoch` by `by`. Returns the new epoch.
    func startNewEpoch(by: String, at: String) async throws -> String
    /// Runs `body` in one write transaction, committed durably before it returns.
    func write<T>(_ body: (any SyncTransaction) async throws -> T) async throws -> T
    /// One push batch in one transaction, committed durably before it
    /// returns: the batch's referrals are locked (PostgreSQL), the read
    /// phase loads `needs` (`PushStatements.load`), `decide` plans the
    /// writes without I/O (`PushEngine.decide`; run again in the rare case
    /// a reference it picked is taken), revisions are allocated for the plan's log
    /// entries, the write phase stores the plan in bulk, and its audit entry
    /// is stored last. When the plan holds a new receipt
    /// (`WritePlan.receiptDocument`), it is given the audit chain's head
    /// after the commit, signed with `seal` and stored (SQLite: in the
    /// transaction; PostgreSQL: once the sequencer has chained the push's
    /// entry). Returns the allocated revisions, to resolve the plan's
    /// placeholders in the reply, and the signed receipt.
    func push(_ needs: PushNeeds, seal: ReceiptSeal?, decide: (PushSnapshot) throws -> WritePlan) async throws -> PushCommit

    // MARK: Signed receipts (docs/protocol.md, "Signed receipts")

    /// The public half of every receipt key the server has had, oldest first.
    func receiptKeys() async throws -> [ReceiptPublicKey]
    /// Records `key` (once; a key already recorded is left as it is) and,
    /// when `retiringOthers`, marks every other key retired at `at`; with
    /// `audit`, in one transaction with that entry.
    func addReceiptKey(_ key: ReceiptPublicKey, retiringOthers: Bool, at: String, audit: AuditEvent?) async throws
    /// Whether the audit chain holds `head`: its entry at `head.position` has `head.hash`.
    func checkAuditHead(_ head: AuditHead) async throws -> AuditHeadCheck
    /// The SHA-256 (`ChangeDigest`) of every change the log holds from
    /// `device` for `record` with one of `seqs`, by change number.
    func loggedChangeDigests(device: String, record: String, seqs: [Int64]) async throws -> [Int64: Set<String>]
    /// A push's signed receipt as it was sent, if it was signed.
    func signedReceipt(_ reference: String) async throws -> SignedReceipt?
    /// A page of the change log after `since`, as `user` may see it, with the
    /// log's epoch and end from the same snapshot, and, when the device
    /// presented an audit head, whether the chain holds it (`audit_check`).
    func pull(since: Int64, limit: Int, for user: User, presenting head: AuditHead?) async throws -> PullResponse
    /// What a pull leaves behind, in one write transaction (none when both
    /// are nil, or when only the sync is to be recorded and the device's last
    /// sync is already within the last minute): its audit entry, and the
    /// time `device` last synced when `device` is registered to `user`.
    func recordPull(audit: AuditEvent?, syncOf device: String?, user: Int64, at: String) async throws
    /// The published form versions (2 and on), oldest first.
    func publishedForms() async throws -> [PublishedForm]
    /// Stores `form` as the next version, with its audit entry
    /// (`form-publish` by `form.publishedBy`, with `reason` when given), in
    /// one transaction. Throws `StorageError.formVersionTaken` when the newest
    /// version is no longer `form.version - 1` (another publish came first).
    func publishForm(_ form: PublishedForm, reason: String?) async throws
    /// Submitted referrals, oldest submission first.
    func submittedReferrals() async throws -> [SubmittedReferral]
    /// The NHS numbers the children of submitted referrals carry (removed
    /// children left out), as typed: (referral id, number).
    func submittedNHSNumbers() async throws -> [(record: String, number: String)]
    /// Submitted referrals whose latest change has a revision after `since`,
    /// oldest latest change first, at most `limit` (docs/export.md). A
    /// referral changed again later comes again in a later page.
    func exportPage(since: Int64, limit: Int) async throws -> ExportPage
    /// A referral's current values, with its owner's name.
    func document(_ record: String) async throws -> ReferralDocument?
    /// The change-log entries of a referral's own fields (not the `@` paths)
    /// after the front door last acknowledged, decided or saw it, oldest
    /// first, each with the value the field had then.
    func changesSinceFrontDoor(of record: String) async throws -> [ReferralChange]
    /// A referral's whole change log, oldest first (`ReferralHistoryEntry`).
    func history(of record: String) async throws -> [ReferralHistoryEntry]
    /// The ids of submitted referrals that have no reference of their own
    /// (`IntakePath.reference`): submitted before references existed.
    func submittedReferralsWithoutReference() async throws -> [String]
    /// Submitted referrals among `ids` only (`submittedReferrals`' rows), oldest submission first.
    func submittedReferrals(among ids: [String]) async throws -> [SubmittedReferral]
    /// Every searchable value of every referral (`ServerQueries.searchable`:
    /// children's names, other names, NHS numbers and item markers, the
    /// agency, the reference), as typed, with the referral's status, and the
    /// revision the read is complete up to (`SearchIndex` reads the change
    /// log after it).
    func searchTerms() async throws -> (terms: [SearchTerm], through: Int64)
    /// The change log's searchable entries and status changes after
    /// `revision`, oldest first, and the revision they are complete up to
    /// (on PostgreSQL, below the horizon of writes still in flight).
    func searchChanges(after revision: Int64) async throws -> (changes: [SearchTerm], through: Int64)
    /// The submitted referrals a push with the receipt `reference` carried, or whose id starts with `prefix`.
    func submittedReferrals(receipt reference: String?, idPrefix prefix: String?) async throws -> [String]
    /// The person index (`PersonIndexing`): the indexed people of `records`.
    func people(of records: [String]) async throws -> [IndexedPerson]
    /// The people in referrals other than `record` that any of `lookups` finds (one statement).
    func people(like lookups: [PersonLookups], excluding record: String) async throws -> [IndexedPerson]
    /// Every indexed person.
    func allPeople() async throws -> [IndexedPerson]
    /// The referrals whose people may have changed after `revision`, and the revision that is complete up to.
    func peopleChanges(after revision: Int64) async throws -> (records: [String], through: Int64)
    /// Intake's decisions about pairs of people that include any of `keys` (all when nil).
    func personLinks(touching keys: [String]?) async throws -> [PersonLink]
    /// Stores a decision about `pair` (nil undoes it) in one transaction with
    /// its audit entries, once `check` accepts the pair's decision now;
    /// returns what the pair had before.
    func setPersonLink(
        pair: (a: String, b: String), check: (PersonLink?) throws -> Void, to link: PersonLink?, audit: [AuditEvent]
    ) async throws -> PersonLink?
    /// Indexes submitted referrals the person index does not hold; returns how many.
    @discardableResult func indexUnindexedReferrals() async throws -> Int
    /// The current value of `path` in each of `records` that has one.
    func values(of path: String, in records: [String]) async throws -> [String: String]
    /// Conflicts, open ones only unless `all`; each question worded by the
    /// built-in form (`FormRegistry.labelled` words it by every version).
    func conflicts(all: Bool) async throws -> [ConflictSummary]
    /// Appends to the hash-chained audit trail in a transaction of its own.
    func audit(_ event: AuditEvent) async throws
    /// Revokes a device, in one transaction with its `revoke` audit entry,
    /// the one entry the API, the console and `sync-server device revoke`
    /// all leave: `by` is its actor (the staff member, or the operating-system
    /// user for the command) and `reason` what the operator gave (`--reason`).
    /// A device revoked before is left as it was, and nothing is audited.
    func revoke(device: String, by: String, reason: String?, at: String, mode: RevokeMode) async throws -> RevokeOutcome
    func isRevoked(device: String) async throws -> Bool
    /// The device's revocation: nil when it is not revoked (or unknown),
    /// `wiped` once it has erased, else its `RevokeMode`'s raw value.
    func revocation(of device: String) async throws -> String?
    /// The status (`draft`, `submitted`…) of each of `records` the server has.
    func recordStatuses(_ records: Set<String>) async throws -> [String: String]
    /// Records that a revoked device erased its data, and what unsent work
    /// it says that destroyed, with the `wiped` audit entry (ids and counts).
    func markWiped(device: String, by user: String, at: String, report: WipeReport) async throws
    /// Replaces a user's token hash, in one transaction with what the old
    /// token gave: the user's console sessions end and their devices' own
    /// tokens stop working (each device logs in again with the new token;
    /// what it has not sent stays on it). Audited as `rotate-token` by `by`
    /// (the operating-system user), with `reason` when given. False if there is no such user.
    func replaceToken(of name: String, tokenHash: String, by: String, reason: String?, at: String) async throws -> Bool
    /// Disables (`disabled: true`) or enables the user named `name`. A
    /// disabled user's console sessions end in the same transaction, and
    /// every request with their token or their devices' is refused (403)
    /// until they are enabled. Audited as `disable-user`/`enable-user` by
    /// `by`, with `reason` when given; `by` is also the user's `disabled_by`.
    func setDisabled(_ disabled: Bool, user name: String, by: String, reason: String?, at: String) async throws -> AccessChange
    /// Gives the user named `name` another role; their console sessions end
    /// (the pages they may see change). Audited as `set-role` by `by`, with `reason` when given.
    func setRole(of name: String, to role: Role, by: String, reason: String?, at: String) async throws -> AccessChange
    /// Walks the whole audit chain, once every entry committed so far is on it.
    func verifyAudit() async throws -> AuditTrail.Verification
    /// Every user, by name (never their token hashes).
    func users() async throws -> [UserSummary]
    /// Every device, or those of the user named `user`, by user then registration.
    func devices(user: String?) async throws -> [DeviceSummary]
    /// The ids of devices that start with `prefix` (hex digits and hyphens), at most 10.
    func deviceIDs(startingWith prefix: String) async throws -> [String]
    /// The audit entries `filter` selects, oldest first, once every entry
    /// committed so far is on the chain.
    func auditEntries(_ filter: AuditFilter) async throws -> [AuditListing]

    // MARK: The web console's sign-in (docs/console.md)

    /// Sets the console password of the user named `name` (`hash`: bcrypt);
    /// false if there is no such user. Every console session of the user ends.
    func setPassword(of name: String, hash: String) async throws -> Bool
    /// Sets or clears the TOTP secret (RFC 6238) of the user named `name`;
    /// false if there is no such user.
    func setTOTPSecret(of name: String, secret: String?) async throws -> Bool
    /// What signing in as `name` needs: the user, their bcrypt hash and TOTP secret (nil if none).
    func consoleCredential(name: String) async throws -> ConsoleCredential?
    /// Opens a console session (`tokenHash`: SHA-256 hex of its cookie) for
    /// `user` at `at`, and ends the user's sessions idle since before `expiredBefore`.
    func openConsoleSession(tokenHash: String, user: Int64, at: String, expiredBefore: String) async throws
    /// The user of a session last seen at or after `notBefore`, whose last
    /// sight moves to `at`; nil (and the session ended) if it is unknown or idle too long.
    func touchConsoleSession(tokenHash: String, at: String, notBefore: String) async throws -> User?
    /// Ends a console session (signing out); nothing if there is none.
    func closeConsoleSession(tokenHash: String) async throws
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

/// The reads and writes callers make inside one transaction besides a push
/// (which reads once and writes a plan: `SyncStorage.push`): the front
/// door's writes, conflict resolution, references given at start, and
/// operator commands' audit entries.
protocol SyncTransaction {
    /// The referral's status (`draft`, `submitted`), nil if it does not exist.
    func recordStatus(_ record: String) async throws -> String?
    func field(record: String, path: String) async throws -> ServerField?
    func setField(record: String, path: String, _ field: ServerField) async throws
    /// Appends to the change log and returns the entry's revision.
    func append(_ entry: LogEntry) async throws -> Int64
    func conflict(_ id: String) async throws -> ConflictState?
    /// The referral whose own reference (`IntakePath.reference`) is `reference`, if any.
    func referral(withReference reference: String) async throws -> String?
    /// Where a conflict is, and whether it is still open.
    func conflictPlace(_ id: String) async throws -> (record: String, path: String, open: Bool)?
    func markResolved(_ id: String, value: String?, by: String, at: String, reason: String, revision: Int64) async throws
    /// Stores an audit entry inside this transaction: the entry commits with
    /// the change it records (chained in the transaction on SQLite, just
    /// after its commit on PostgreSQL: `AuditSequencer`).
    func audit(_ event: AuditEvent) async throws
    /// Records when a device of `user` last synced (no commit of its own).
    func recordSync(device: String, user: Int64, at: String) async throws
}

/// SQL both backends run as it is. Placeholders are PostgreSQL's (`$1`);
/// `ServerQueries.sqlite(_:)` turns them into SQLite's (`SQLDialect.statement`).
enum ServerQueries {
    /// A statement with `$N` placeholders as SQLite reads it (`?N`).
    static func sqlite(_ sql: String) -> String { SQLDialect.sqlite.statement(sql) }

    /// The front door's own words (`IntakePath.internalPaths`) as an SQL list:
    /// a practitioner's pull leaves them out.
    static let internalPaths = IntakePath.internalPaths.sorted().map { "'\($0)'" }.joined(separator: ", ")

    /// The revision of the front door's last acknowledgement, decision or
    /// "seen: decision stands" of referral `r.id` (NULL before it acknowledged anything).
    static let frontDoorSeen = """
        (SELECT max(revision) FROM fields WHERE record_id = r.id AND path IN ('@acknowledged_at', '@decided_at', '@seen_at'))
        """

    /// Submitted referrals, first submitted first: id, kind, when and under
    /// which receipt it was submitted, acknowledgement and outcome, when the
    /// last change after the front door's acknowledgement or decision
    /// arrived, how many conflicts are open, the first child's name (items
    /// ids are time-ordered, so by path is by when the child was added), how
    /// many children, the referrer's agency and the immediate-risk answer.
    static let submittedReferrals = """
        SELECT r.id,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@kind') AS kind,
            s.at AS submitted_at, a.receipt,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@acknowledged_at') AS acknowledged_at,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@outcome') AS outcome,
            (SELECT max(l.at) FROM change_log l
                WHERE l.record_id = r.id AND substr(l.path, 1, 1) <> '@' AND l.revision > \(frontDoorSeen)) AS changed_at,
            (SELECT count(*) FROM conflicts c WHERE c.record_id = r.id AND c.status = 'open') AS open_conflicts,
            (SELECT f.value FROM fields f
                JOIN fields i ON i.record_id = f.record_id AND i.path = substr(f.path, 1, length(f.path) - length('.full_name')) AND i.value = 'present'
                WHERE f.record_id = r.id AND f.path LIKE 'children.%.full_name' AND f.value IS NOT NULL
                ORDER BY f.path LIMIT 1) AS child_name,
            (SELECT count(*) FROM fields i
                WHERE i.record_id = r.id AND i.path LIKE 'children.%' AND i.path NOT LIKE 'children.%.%' AND i.value = 'present') AS children,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'referrer.agency') AS agency,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.immediate_risk') AS immediate_risk,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@rating') AS rating,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@rated_at') AS rated_at,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@reference') AS reference,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.child_safe_now') AS child_safe_now,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.deadline') AS deadline,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.call_made') AS call_made,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.call_at') AS call_at,
            (SELECT min(at) FROM change_log WHERE record_id = r.id AND path = '@decided_at' AND kind = 'write') AS first_decided_at
        FROM records r
        JOIN change_log s ON s.revision = (
            SELECT min(revision) FROM change_log
            WHERE record_id = r.id AND path = '@status' AND value = 'submitted' AND kind = 'write')
        LEFT JOIN applied a ON a.device_id = s.device_id AND a.seq = s.seq
        WHERE r.status = 'submitted'
        """

    /// `submittedReferrals`, first submitted first.
    static let allSubmittedReferrals = submittedReferrals + " ORDER BY s.revision"

    /// `submittedReferrals` of the referrals `$1`, `$2`… only, first submitted first.
    static func submittedReferrals(among count: Int) -> String {
        submittedReferrals + " AND r.id IN (" + (1...max(count, 1)).map { "$\($0)" }.joined(separator: ", ") + ") ORDER BY s.revision"
    }

    /// `$1`: a referral. Its change-log entries after the front door's last
    /// acknowledgement or decision, on its own fields: path, at, author, kind.
    static let changesSinceFrontDoor = """
        SELECT l.path, l.at, l.author, l.kind, l.value,
            (SELECT p.value FROM change_log p
                WHERE p.record_id = l.record_id AND p.path = l.path AND p.kind IN ('write', 'conflict') AND p.revision <= \(frontDoorSeen)
                ORDER BY p.revision DESC LIMIT 1) AS previous
        FROM change_log l JOIN records r ON r.id = l.record_id
        WHERE l.record_id = $1 AND substr(l.path, 1, 1) <> '@' AND l.revision > \(frontDoorSeen)
        ORDER BY l.revision
        """

    /// `$1`: a referral. Its whole change log, oldest first, each entry with
    /// the reason of the admin's resolution it carries out (if it does).
    static let history = """
        SELECT l.revision, l.kind, l.path, l.value, l.author, l.device_id, l.at, l.conflict_id, c.reason AS resolution_reason
        FROM change_log l LEFT JOIN conflicts c ON c.resolution_revision = l.revision AND c.record_id = l.record_id
        WHERE l.record_id = $1
        ORDER BY l.revision
        """

    /// The fields search looks in (`fields_for_search`, a partial index, and
    /// `searchTerms`, which repeats this text so that both backends see the
    /// query's condition is the index's): children's names, other names and
    /// NHS numbers, the children's item markers, the referrer's agency and
    /// the referral's own reference.
    static let searchable = """
        (path LIKE 'children.%.full_name' OR path LIKE 'children.%.aliases' OR path LIKE 'children.%.nhs_number' \
        OR (path LIKE 'children.%' AND path NOT LIKE 'children.%.%') OR path = 'referrer.agency' OR path = '@reference')
        """

    /// Every searchable value (`searchable`) of every referral, with its status: record id, path, value, status.
    static let searchTerms = """
        SELECT f.record_id, f.path, f.value, r.status FROM fields f JOIN records r ON r.id = f.record_id
        WHERE \(searchable.replacingOccurrences(of: "path", with: "f.path")) AND f.value IS NOT NULL
        """

    /// `$1`: a revision; `$2`: the horizon (no revision at or above it is
    /// read). The searchable entries and status changes after `$1`, then one
    /// row of the highest revision below `$2` (record NULL): one statement,
    /// one snapshot, so nothing committed between the two is missed.
    static let searchChanges = """
        SELECT revision, record_id, path, value FROM change_log
        WHERE revision > $1 AND revision < $2 AND kind IN ('write', 'conflict') AND (\(searchable) OR path = '@status')
        UNION ALL
        SELECT coalesce(max(revision), 0), NULL, NULL, NULL FROM change_log WHERE revision < $2
        ORDER BY 1
        """
}
