import Foundation
import SyncCore

/// The storage both backends share: every `SyncStorage` call that is the
/// same SQL on SQLite and PostgreSQL, written once over `SQLSession` and
/// `SQLTransaction` (rows read by column name). A backend gives three ways
/// in (one snapshot, one statement's connection, a write transaction) and
/// keeps what truly differs: migrations, the push's locking and revisions,
/// the pull's visibility, backups.
protocol SQLStore: SyncStorage {
    /// `body` in one read-only snapshot.
    func reading<T>(_ body: (any SQLSession) async throws -> T) async throws -> T
    /// `body` on a connection, each statement on its own (the cheapest way
    /// to run one read).
    func connected<T>(_ body: (any SQLSession) async throws -> T) async throws -> T
    /// `body` in one write transaction, committed durably before it returns.
    func writing<T>(_ body: (any SQLTransaction) async throws -> T) async throws -> T
    /// The lowest revision a writer may still commit (everything below it is
    /// committed and visible), or nil where revisions commit in order.
    func visibilityHorizon() async throws -> Int64?
    /// Chains the audit entries writers committed and left waiting (none
    /// where each writer chains its own, in its turn, as SQLite's single
    /// writer does); `audit show` and `audit verify` call it before they read.
    func chainPendingAudit() async throws
}

extension SQLStore {
    func write<T>(_ body: (any SyncTransaction) async throws -> T) async throws -> T {
        try await writing { try await body($0) }
    }

    func chainPendingAudit() async throws {}

    // MARK: Form versions (docs/form.md)

    func publishedForms() async throws -> [PublishedForm] {
        try await connected { session in
            try await session.rows("SELECT version, document, digest, published_at, published_by FROM form_versions ORDER BY version", []).map {
                PublishedForm(
                    version: Int(try $0.int("version")!), document: try $0.text("document")!, digest: try $0.text("digest")!,
                    publishedAt: try $0.text("published_at")!, publishedBy: try $0.text("published_by")!)
            }
        }
    }

    func publishForm(_ form: PublishedForm, reason: String?) async throws {
        try await writing { transaction in
            // Publishes are taken in turn (the audit trail's turn), so two
            // operators publishing at once get a clear refusal, not a key error.
            try await transaction.takeAuditTurn()
            let latest = try await transaction.sql.rows("SELECT coalesce(max(version), 1) AS latest FROM form_versions", [])[0].int("latest") ?? 1
            guard latest + 1 == Int64(form.version) else { throw StorageError.formVersionTaken(form.version) }
            try await transaction.sql.run(
                "INSERT INTO form_versions (version, document, digest, published_at, published_by) VALUES ($1, $2, $3, $4, $5)",
                [.int(Int64(form.version)), .text(form.document), .text(form.digest), .text(form.publishedAt), .text(form.publishedBy)])
            try await transaction.audit(AuditEvent(
                at: form.publishedAt, actor: form.publishedBy, action: "form-publish", record: nil,
                detail: OperatorActor.detail("version=\(form.version) sha256=\(form.digest)", reason: reason)))
        }
    }

    // MARK: Users and devices

    /// How stale a device's recorded last sync may be before a pull records
    /// it again, in seconds (`device list` shows it to the minute).
    static var lastSyncResolution: TimeInterval { 60 }

    func addUser(name: String, role: Role, tokenHash: String, by: String, at: String) async throws -> User {
        try await writing { transaction in
            // Users are added in turn, so two operators adding one name get a
            // clear refusal, not a key error.
            try await transaction.takeAuditTurn()
            if try await !transaction.sql.rows("SELECT 1 AS found FROM users WHERE name = $1", [.text(name)]).isEmpty {
                throw StorageError.duplicateUser(name)
            }
            let id = try await transaction.sql.rows(
                "INSERT INTO users (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                [.text(name), .text(role.rawValue), .text(tokenHash), .text(at)])[0].int("id")!
            try await transaction.audit(AuditEvent(at: at, actor: by, action: "add-user", record: nil, detail: "user=\(name) role=\(role.rawValue)"))
            return User(id: id, name: name, role: role)
        }
    }

    func signIn(tokenHash: String, device: String?) async throws -> SignIn? {
        try await connected { session in
            let revocation = Self.revocation("$2")
            guard let row = try await session.rows("""
                    SELECT id AS user_id, name, role, token_hash, CAST(NULL AS TEXT) AS device, \(revocation) AS revocation, disabled_at
                    FROM users WHERE token_hash = $1
                    UNION ALL
                    SELECT u.id, u.name, u.role, d.token_hash, d.id, \(revocation), u.disabled_at
                    FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1
                    """, [.text(tokenHash), .text(device)]).first,
                Tokens.constantTimeEqual(try row.text("token_hash") ?? "", tokenHash)
            else { return nil }
            return SignIn(
                user: User(id: try row.int("user_id")!, name: try row.text("name")!, role: Role(rawValue: try row.text("role")!) ?? .practitioner),
                tokenDevice: try row.text("device"), namedDeviceRevoked: try row.text("revocation") != nil, userDisabled: try row.text("disabled_at") != nil,
                namedDeviceRevokeMode: try row.text("revocation").flatMap(RevokeMode.init(rawValue:)))
        }
    }

    func register(device: String, for user: User, at: String, deviceTokenHash: String?) async throws -> Registration {
        try await writing { transaction in
            // The first user to register a device keeps it, whichever instance sees it first.
            try await transaction.sql.run(
                "INSERT INTO devices (id, user_id, registered_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                [.text(device), .int(user.id), .text(at)])
            let row = try await transaction.sql.rows("""
                SELECT user_id, CAST(CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS revoked,
                    (SELECT max(seq) FROM applied WHERE device_id = $1) AS last_seq
                FROM devices WHERE id = $1
                """, [.text(device)])[0]
            if try row.int("revoked") == 1 { return .revoked }
            guard try row.int("user_id") == user.id else { return .otherUser }
            if let deviceTokenHash {
                try await transaction.sql.run("UPDATE devices SET token_hash = $1 WHERE id = $2", [.text(deviceTokenHash), .text(device)])
            }
            try await transaction.audit(AuditEvent(at: at, actor: user.name, action: "login", record: nil, detail: "device=\(device)"))
            return .registered(lastSeq: try row.int("last_seq"))
        }
    }

    func deviceOwner(_ device: String) async throws -> Int64? {
        try await connected { try await $0.rows("SELECT user_id FROM devices WHERE id = $1", [.text(device)]).first?.int("user_id") }
    }

    func pushPreflight(device: String) async throws -> PushPreflight {
        try await connected { session in
            let row = try await session.rows("""
                SELECT (SELECT user_id FROM devices WHERE id = $1) AS owner,
                    \(Self.revocation("$1")) AS revocation,
                    \(Self.identityColumns)
                """, [.text(device)])[0]
            return PushPreflight(
                owner: try row.int("owner"), revoked: try row.text("revocation") != nil,
                revokeMode: try row.text("revocation").flatMap(RevokeMode.init(rawValue:)), identity: try Self.identity(row))
        }
    }

    func lastSeq(of device: String) async throws -> Int64? {
        try await connected { try await $0.rows("SELECT max(seq) AS last FROM applied WHERE device_id = $1", [.text(device)]).first?.int("last") }
    }

    func revoke(device: String, by: String, reason: String?, at: String, mode: RevokeMode) async throws -> RevokeOutcome {
        try await writing { transaction in
            guard let row = try await transaction.sql.rows("SELECT revoked_at, revoked_by FROM devices WHERE id = $1", [.text(device)]).first
            else { return .noSuchDevice }
            if let revokedAt = try row.text("revoked_at") { return .alreadyRevoked(at: revokedAt, by: try row.text("revoked_by") ?? "?") }
            try await transaction.sql.run(
                "UPDATE devices SET revoked_at = $1, revoked_by = $2, revoke_mode = $3 WHERE id = $4",
                [.text(at), .text(by), .text(mode.rawValue), .text(device)])
            // Its uploads not received whole are erased with it: no referral
            // names them, and no one may finish them now (revoked to send
            // submitted work first, it still finishes those its referrals name).
            let partial = "SELECT sha256 FROM attachments WHERE offered_device = $1 AND received_at IS NULL"
            let erased = mode == .erase ? try await transaction.sql.rows(partial, [.text(device)]).count : 0
            if erased > 0 {
                try await transaction.sql.run("DELETE FROM attachment_chunks WHERE sha256 IN (\(partial))", [.text(device)])
                try await transaction.sql.run("DELETE FROM attachments WHERE offered_device = $1 AND received_at IS NULL", [.text(device)])
            }
            try await transaction.audit(AuditEvent(
                at: at, actor: by, action: "revoke", record: nil,
                detail: OperatorActor.detail("device=\(device) mode=\(mode.rawValue)" + (erased > 0 ? " partial_uploads_erased=\(erased)" : ""), reason: reason)))
            return .revoked
        }
    }

    /// A subquery of the device whose id is `parameter`: NULL when it is
    /// not revoked (or unknown), `wiped` once it has erased, else how it
    /// was revoked (`RevokeMode`, `erase` for one revoked before modes).
    static func revocation(_ parameter: String) -> String {
        """
        (SELECT CASE WHEN revoked_at IS NULL THEN NULL WHEN wiped_at IS NULL THEN coalesce(revoke_mode, 'erase') ELSE 'wiped' END \
        FROM devices WHERE id = \(parameter))
        """
    }

    func revocation(of device: String) async throws -> String? {
        try await connected { try await $0.rows("SELECT \(Self.revocation("$1")) AS revocation", [.text(device)]).first?.text("revocation") }
    }

    func isRevoked(device: String) async throws -> Bool {
        try await connected {
            try await $0.rows("SELECT CAST(CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS revoked FROM devices WHERE id = $1", [.text(device)])
                .first?.int("revoked") == 1
        }
    }

    func recordStatuses(_ records: Set<String>) async throws -> [String: String] {
        try await reading { session in
            var statuses: [String: String] = [:]
            for record in records {
                statuses[record] = try await session.rows("SELECT status FROM records WHERE id = $1", [.text(record)]).first?.text("status")
            }
            return statuses
        }
    }

    func markWiped(device: String, by user: String, at: String, report: WipeReport) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let stored = report.erased.isEmpty && report.sentFirst == 0 ? nil : String(decoding: try encoder.encode(report), as: UTF8.self)
        try await writing { transaction in
            try await transaction.sql.run(
                "UPDATE devices SET wiped_at = coalesce(wiped_at, $1), erased_unsent = coalesce(erased_unsent, $2) WHERE id = $3",
                [.text(at), .text(stored), .text(device)])
            // Ids and counts only: the audit holds no referral content.
            let submitted = report.erased.filter { $0.status == "submitted" }
            let detail = "device=\(device) erased_unsent=\(report.erased.count) submitted=\(submitted.count)"
                + " immediate_risk=\(report.erased.filter(\.immediateRisk).count) sent_first=\(report.sentFirst)"
                + (report.erased.isEmpty ? "" : " records=\(report.erased.map(\.id).joined(separator: ","))")
            try await transaction.audit(AuditEvent(at: at, actor: user, action: "wiped", record: nil, detail: detail))
        }
    }

    // MARK: The log's identity

    func identity() async throws -> ServerIdentity {
        try await reading { try await Self.identity($0) }
    }

    /// Epoch and end in one statement, in the caller's snapshot.
    static func identity(_ session: any SQLSession) async throws -> ServerIdentity {
        try identity(try await session.rows(identityQuery, [])[0])
    }

    /// The log's epoch and end, in one statement.
    static var identityQuery: String { "SELECT " + identityColumns }

    /// The identity's columns, for statements that read it with other things.
    static var identityColumns: String {
        """
        (SELECT epoch FROM server_identity WHERE id = 1) AS epoch, (SELECT coalesce(max(revision), 0) FROM change_log) AS last,
            (SELECT coalesce(max(version), 1) FROM form_versions) AS form_version,
            (SELECT digest FROM form_versions ORDER BY version DESC LIMIT 1) AS form_digest
        """
    }

    static func identity(_ row: any SQLRow) throws -> ServerIdentity {
        ServerIdentity(epoch: try row.text("epoch")!, end: try row.int("last") ?? 0, formVersion: Int(try row.int("form_version") ?? 1), formDigest: try row.text("form_digest"))
    }

    func startNewEpoch(by: String, at: String) async throws -> String {
        try await writing { transaction in
            let epoch = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try await transaction.sql.run("UPDATE server_identity SET epoch = $1, since = $2 WHERE id = 1", [.text(epoch), .text(at)])
            try await transaction.audit(AuditEvent(at: at, actor: by, action: "new-epoch", record: nil, detail: "epoch=\(epoch)"))
            return epoch
        }
    }

    // MARK: Audit

    func audit(_ event: AuditEvent) async throws {
        try await writing { try await $0.audit(event) }
    }

    func recordPull(audit: AuditEvent?, syncOf device: String?, user: Int64, at: String) async throws {
        guard audit != nil || device != nil else { return }
        // A pull that leaves no audit entry (a practitioner's, or one that
        // read nothing) writes nothing when the device's last sync is
        // already recorded within the minute before `at`
        // (its push just before, as a sync pushes then pulls): a read, where
        // a write would wait its turn for the one writer and its commit.
        if audit == nil, let device, let now = Timestamp.date(at),
            let last = try await connected({ session in
                try await session.rows("SELECT last_sync_at FROM devices WHERE id = $1 AND user_id = $2", [.text(device), .int(user)]).first?.text("last_sync_at")
            }).flatMap({ Timestamp.date($0) }),
            last >= now.addingTimeInterval(-Self.lastSyncResolution), last <= now
        {
            return
        }
        try await writing { transaction in
            if let device { try await transaction.recordSync(device: device, user: user, at: at) }
            if let audit { try await transaction.audit(audit) }
        }
    }

    func verifyAudit() async throws -> AuditTrail.Verification {
        try await chainPendingAudit()
        return try await reading { session in
            AuditTrail.verify(try await session.rows("SELECT id, at, actor, action, record_id, detail, previous_hash, hash FROM audit ORDER BY id", []).map { row in
                AuditTrail.Entry(
                    id: try row.int("id")!,
                    event: AuditEvent(
                        at: try row.text("at")!, actor: try row.text("actor")!, action: try row.text("action")!, record: try row.text("record_id"),
                        detail: try row.text("detail")!),
                    previousHash: try row.text("previous_hash")!, hash: try row.text("hash")!)
            })
        }
    }

    func auditEntries(_ filter: AuditFilter) async throws -> [AuditListing] {
        let (sql, binds) = ServerQueries.audit(filter)
        try await chainPendingAudit()
        return try await reading { session in
            try await session.rows(sql, binds.map { SQLBind.text($0) }).map {
                AuditListing(
                    id: try $0.int("id")!,
                    event: AuditEvent(
                        at: try $0.text("at")!, actor: try $0.text("actor")!, action: try $0.text("action")!, record: try $0.text("record_id"),
                        detail: try $0.text("detail")!))
            }.reversed() as [AuditListing]
        }
    }

    // MARK: Reads for the front door and operators

    func submittedReferrals() async throws -> [SubmittedReferral] {
        try await reading { session in try await session.rows(ServerQueries.allSubmittedReferrals, []).map(Self.submittedReferral) }
    }

    func submittedReferralsWithoutReference() async throws -> [String] {
        try await reading { session in
            try await session.rows("""
                SELECT r.id FROM records r WHERE r.status = 'submitted'
                AND NOT EXISTS (SELECT 1 FROM fields f WHERE f.record_id = r.id AND f.path = '@reference')
                """, []).map { try $0.text("id")! }
        }
    }

    func submittedReferrals(among ids: [String]) async throws -> [SubmittedReferral] {
        guard !ids.isEmpty else { return [] }
        var rows: [SubmittedReferral] = []
        // In slices, within every backend's limit on bound values.
        for start in stride(from: 0, to: ids.count, by: 500) {
            let slice = Array(ids[start..<min(start + 500, ids.count)])
            rows += try await reading { session in
                try await session.rows(ServerQueries.submittedReferrals(among: slice.count), slice.map { .text($0) }).map(Self.submittedReferral)
            }
        }
        return rows.sorted { $0.submittedAt < $1.submittedAt }
    }

    private static func submittedReferral(_ row: any SQLRow) throws -> SubmittedReferral {
        SubmittedReferral(
            id: try row.text("id")!, kind: try row.text("kind") ?? "social-care", submittedAt: try row.text("submitted_at")!,
            receipt: try row.text("receipt"), acknowledgedAt: try row.text("acknowledged_at"), outcome: try row.text("outcome"),
            changedAt: try row.text("changed_at"), openConflicts: Int(try row.int("open_conflicts") ?? 0),
            childName: try row.text("child_name"), children: Int(try row.int("children") ?? 0), agency: try row.text("agency"),
            immediateRisk: try row.text("immediate_risk") == "yes", rating: try row.text("rating"), ratedAt: try row.text("rated_at"),
            reference: try row.text("reference"), childSafeNow: try row.text("child_safe_now"), deadline: try row.text("deadline"),
            calledAt: try row.text("call_made") == "yes" ? try row.text("call_at") : nil, firstDecidedAt: try row.text("first_decided_at"))
    }

    func submittedReferrals(receipt reference: String?, idPrefix prefix: String?) async throws -> [String] {
        try await reading { session in
            var ids: [String] = []
            if let reference, let row = try await session.rows("SELECT records FROM receipts WHERE reference = $1", [.text(reference)]).first {
                ids += (try? JSONDecoder().decode([String].self, from: Data((try row.text("records") ?? "[]").utf8))) ?? []
            }
            if let prefix {
                ids += try await session.rows(
                    // The prefix is hex digits and hyphens only (`QueueFilter.Needle`): no LIKE wildcard in it.
                    "SELECT id FROM records WHERE status = 'submitted' AND id LIKE $1 LIMIT 1000", [.text(prefix + "%")]
                ).map { try $0.text("id")! }
            }
            return ids
        }
    }

    func exportPage(since: Int64, limit: Int) async throws -> ExportPage {
        let horizon = try await visibilityHorizon()
        let rows = try await reading { session in
            try await session.rows("""
                SELECT l.record_id, max(l.revision) AS last FROM change_log l JOIN records r ON r.id = l.record_id
                WHERE r.status = 'submitted' AND l.revision > $1 AND l.revision < $2
                GROUP BY l.record_id ORDER BY last LIMIT $3
                """, [.int(since), .int(horizon ?? Int64.max), .int(Int64(limit) + 1)]
            ).map { (record: try $0.text("record_id")!, last: try $0.int("last")!) }
        }
        let page = rows.prefix(limit)
        let submitted = Dictionary(try await submittedReferrals().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var referrals: [ExportedReferral] = []
        for row in page {
            guard let document = try await document(row.record) else { continue }
            let queued = submitted[row.record]
            referrals.append(ExportedReferral(
                document: document, receipt: queued?.receipt, submittedAt: queued?.submittedAt ?? document.createdAt, revision: row.last))
        }
        // With nothing more, the cursor stays where it was: what commits later comes next time.
        return ExportPage(referrals: referrals, cursor: page.last?.last ?? since, more: rows.count > limit)
    }

    func submittedNHSNumbers() async throws -> [(record: String, number: String)] {
        try await reading { session in
            try await session.rows("""
                SELECT f.record_id, f.value FROM fields f
                JOIN records r ON r.id = f.record_id AND r.status = 'submitted'
                JOIN fields i ON i.record_id = f.record_id AND i.path = substr(f.path, 1, length(f.path) - length('.nhs_number')) AND i.value = 'present'
                WHERE f.path LIKE 'children.%.nhs_number' AND f.value IS NOT NULL
                """, []).map { (try $0.text("record_id")!, try $0.text("value")!) }
        }
    }

    func changesSinceFrontDoor(of record: String) async throws -> [ReferralChange] {
        try await reading { session in
            try await session.rows(ServerQueries.changesSinceFrontDoor, [.text(record)]).map {
                ReferralChange(
                    path: try $0.text("path")!, at: try $0.text("at")!, by: try $0.text("author")!, kind: try $0.text("kind")!,
                    value: try $0.text("value"), previous: try $0.text("previous"))
            }
        }
    }

    func history(of record: String) async throws -> [ReferralHistoryEntry] {
        try await reading { session in
            try await session.rows(ServerQueries.history, [.text(record)]).map {
                let reason = try $0.text("resolution_reason")
                return ReferralHistoryEntry(
                    revision: try $0.int("revision")!, kind: reason != nil ? "resolution" : try $0.text("kind")!, path: try $0.text("path")!,
                    value: try $0.text("value"), by: try $0.text("author")!, device: try $0.text("device_id")!, at: try $0.text("at")!,
                    conflict: try $0.text("conflict_id"), reason: reason)
            }
        }
    }

    func searchTerms() async throws -> (terms: [SearchTerm], through: Int64) {
        // The change log's end (below the horizon) first: what commits during the read is read again from the log.
        let horizon = try await visibilityHorizon() ?? Int64.max
        let through = try await reading { session in
            try await session.rows("SELECT coalesce(max(revision), 0) AS through FROM change_log WHERE revision < $1", [.int(horizon)])[0].int("through") ?? 0
        }
        let terms = try await reading { session in
            try await session.rows(ServerQueries.searchTerms, []).flatMap { row -> [SearchTerm] in
                let record = try row.text("record_id")!
                return [SearchTerm(record: record, path: try row.text("path")!, value: try row.text("value")),
                        SearchTerm(record: record, path: RecordPath.status, value: try row.text("status"))]
            }
        }
        return (terms, through)
    }

    func searchChanges(after revision: Int64) async throws -> (changes: [SearchTerm], through: Int64) {
        let horizon = try await visibilityHorizon() ?? Int64.max
        let rows = try await reading { session in try await session.rows(ServerQueries.searchChanges, [.int(revision), .int(horizon)]) }
        var changes: [SearchTerm] = []
        var through = revision
        for row in rows {
            guard let record = try row.text("record_id") else {
                through = max(through, try row.int("revision") ?? revision)
                continue
            }
            changes.append(SearchTerm(record: record, path: try row.text("path")!, value: try row.text("value")))
        }
        return (changes, through)
    }

    func document(_ record: String) async throws -> ReferralDocument? {
        try await reading { session in
            guard let row = try await session.rows(
                "SELECT u.name, r.created_at FROM records r JOIN users u ON u.id = r.owner_id WHERE r.id = $1", [.text(record)]).first
            else { return nil }
            let fields = Dictionary(uniqueKeysWithValues: try await session.rows(
                "SELECT path, value FROM fields WHERE record_id = $1 AND value IS NOT NULL", [.text(record)]
            ).map { (try $0.text("path")!, try $0.text("value")!) })
            return ReferralDocument(id: record, owner: try row.text("name")!, createdAt: try row.text("created_at")!, fields: fields)
        }
    }

    /// Two statements, whatever the number of conflicts: the conflicts, then
    /// their candidates. A conflict opened between the two is left for the
    /// next listing; candidates are only ever added, so none is missed.
    func conflicts(all: Bool) async throws -> [ConflictSummary] {
        let which = all ? "" : "WHERE status = 'open'"
        return try await reading { session in
            let rows = try await session.rows("""
                SELECT id, record_id, path, status, resolved_by, resolution, resolved_at, reason, resolution_revision
                FROM conflicts \(which) ORDER BY opened_at, id
                """, [])
            guard !rows.isEmpty else { return [] }
            var candidates: [String: [ConflictCandidate]] = [:]
            for row in try await session.rows("""
                SELECT c.conflict_id, c.value, c.author, c.device_id, c.at, c.hlc
                FROM conflict_candidates c WHERE c.conflict_id IN (SELECT id FROM conflicts \(which))
                ORDER BY c.conflict_id, c.position
                """, [])
            {
                candidates[try row.text("conflict_id")!, default: []].append(try ConflictQueries.candidate(row))
            }
            return try rows.map { row in
                let id = try row.text("id")!
                let path = try row.text("path")!
                let question = ReferralForm.standard.field(atStoredPath: path)?.1.question ?? path
                var resolution: ConflictSummary.Resolution?
                if let by = try row.text("resolved_by") {
                    resolution = .init(
                        value: try row.text("resolution"), by: by, at: try row.text("resolved_at")!, reason: try row.text("reason") ?? "",
                        revision: try row.int("resolution_revision") ?? 0)
                }
                return ConflictSummary(
                    id: id, record: try row.text("record_id")!, path: path, question: question, status: try row.text("status")!,
                    candidates: candidates[id] ?? [], resolution: resolution)
            }
        }
    }

    func users() async throws -> [UserSummary] {
        try await reading { session in
            try await session.rows(ServerQueries.users, []).map {
                UserSummary(
                    name: try $0.text("name")!, role: try $0.text("role")!, createdAt: try $0.text("created_at")!,
                    disabledAt: try $0.text("disabled_at"), disabledBy: try $0.text("disabled_by"))
            }
        }
    }

    func devices(user: String?) async throws -> [DeviceSummary] {
        try await reading { session in
            try await session.rows(ServerQueries.devices, [.text(user)]).map {
                DeviceSummary(
                    id: try $0.text("id")!, user: try $0.text("name")!, registeredAt: try $0.text("registered_at")!,
                    lastSyncAt: try $0.text("last_sync_at"), revokedAt: try $0.text("revoked_at"), revokedBy: try $0.text("revoked_by"),
                    wipedAt: try $0.text("wiped_at"), revokeMode: try $0.text("revoke_mode").flatMap(RevokeMode.init(rawValue:)),
                    erasedUnsent: try $0.text("erased_unsent").flatMap { try? JSONDecoder().decode(WipeReport.self, from: Data($0.utf8)) })
            }
        }
    }

    func deviceIDs(startingWith prefix: String) async throws -> [String] {
        try await reading { session in try await session.rows(ServerQueries.devicesByPrefix, [.text(prefix)]).map { try $0.text("id")! } }
    }
}

// MARK: The web console's sign-in

extension SQLStore {
    func setPassword(of name: String, hash: String) async throws -> Bool {
        try await writing { transaction in
            guard let id = try await transaction.sql.rows(
                "UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING id", [.text(hash), .text(name)]).first?.int("id")
            else { return false }
            try await transaction.sql.run("DELETE FROM console_sessions WHERE user_id = $1", [.int(id)])
            return true
        }
    }

    func setTOTPSecret(of name: String, secret: String?) async throws -> Bool {
        try await writing { transaction in
            guard let id = try await transaction.sql.rows(
                "UPDATE users SET totp_secret = $1 WHERE name = $2 RETURNING id", [.text(secret), .text(name)]).first?.int("id")
            else { return false }
            try await transaction.sql.run("DELETE FROM console_sessions WHERE user_id = $1", [.int(id)])
            return true
        }
    }

    func consoleCredential(name: String) async throws -> ConsoleCredential? {
        try await connected { session in
            guard let row = try await session.rows(
                "SELECT id, name, role, password_hash, totp_secret, disabled_at FROM users WHERE name = $1", [.text(name)]).first
            else { return nil }
            return ConsoleCredential(
                user: User(id: try row.int("id")!, name: try row.text("name")!, role: Role(rawValue: try row.text("role")!) ?? .practitioner),
                passwordHash: try row.text("password_hash"), totpSecret: try row.text("totp_secret"), disabled: try row.text("disabled_at") != nil)
        }
    }

    func openConsoleSession(tokenHash: String, user: Int64, at: String, expiredBefore: String) async throws {
        try await writing { transaction in
            try await transaction.sql.run("DELETE FROM console_sessions WHERE last_seen_at < $1", [.text(expiredBefore)])
            try await transaction.sql.run(
                "INSERT INTO console_sessions (token_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
                [.text(tokenHash), .int(user), .text(at)])
        }
    }

    func touchConsoleSession(tokenHash: String, at: String, notBefore: String) async throws -> User? {
        try await writing { transaction in
            let rows = try await transaction.sql.rows("""
                SELECT s.last_seen_at, u.id, u.name, u.role FROM console_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = $1 AND u.disabled_at IS NULL
                """, [.text(tokenHash)])
            guard let row = rows.first else { return nil }
            guard try row.text("last_seen_at")! >= notBefore else {
                try await transaction.sql.run("DELETE FROM console_sessions WHERE token_hash = $1", [.text(tokenHash)])
                return nil
            }
            try await transaction.sql.run("UPDATE console_sessions SET last_seen_at = $1 WHERE token_hash = $2", [.text(at), .text(tokenHash)])
            return User(id: try row.int("id")!, name: try row.text("name")!, role: Role(rawValue: try row.text("role")!) ?? .practitioner)
        }
    }

    func closeConsoleSession(tokenHash: String) async throws {
        try await writing { try await $0.sql.run("DELETE FROM console_sessions WHERE token_hash = $1", [.text(tokenHash)]) }
    }
}

/// A conflict as devices and admins see it: its status, candidates in
/// order and resolution.
enum ConflictQueries {
    /// `$1`: a conflict's id. Its status and resolution.
    static let conflict = "SELECT status, resolved_by, resolved_at, reason FROM conflicts WHERE id = $1"
    /// `$1`: a conflict's id. Its candidates, in the order they arrived.
    static let candidates = "SELECT value, author, device_id, at, hlc FROM conflict_candidates WHERE conflict_id = $1 ORDER BY position"

    static func state(_ id: String, in session: any SQLSession) async throws -> ConflictState? {
        guard let row = try await session.rows(conflict, [.text(id)]).first else { return nil }
        return try state(id, row, candidates: try await session.rows(candidates, [.text(id)]))
    }

    /// The state from the rows of `conflict` and `candidates`.
    static func state(_ id: String, _ row: any SQLRow, candidates: [any SQLRow]) throws -> ConflictState? {
        guard let status = try row.text("status") else { return nil }
        let resolution = try row.text("resolved_by").map {
            ConflictState.Resolution(by: $0, at: try row.text("resolved_at") ?? "", reason: try row.text("reason") ?? "")
        }
        return ConflictState(id: id, status: status, candidates: try candidates.map(candidate), resolution: resolution)
    }

    /// A candidate from a row with `value`, `author`, `device_id`, `at` and `hlc`.
    static func candidate(_ row: any SQLRow) throws -> ConflictCandidate {
        ConflictCandidate(
            value: try row.text("value"), author: try row.text("author")!, device: try row.text("device_id")!, time: try row.text("at")!,
            hlc: try row.text("hlc")!)
    }
}
