import Foundation
import SyncCore

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
