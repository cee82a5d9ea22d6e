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
    func reading<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// `body` on a connection, each statement on its own (the cheapest way
    /// to run one read).
    func connected<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// `body` in one write transaction, committed durably before it returns.
    func writing<T>(_ body: (any SQLTransaction) throws -> T) throws -> T
}

extension SQLStore {
    func write<T>(_ body: (any SyncTransaction) throws -> T) throws -> T {
        try writing { try body($0) }
    }

    // MARK: Users and devices

    func addUser(name: String, role: Role, tokenHash: String, at: String) throws -> User {
        try writing { transaction in
            // Users are added in turn, so two operators adding one name get a
            // clear refusal, not a key error.
            try transaction.takeAuditTurn()
            if try !transaction.sql.rows("SELECT 1 AS found FROM users WHERE name = $1", [.text(name)]).isEmpty {
                throw StorageError.duplicateUser(name)
            }
            let id = try transaction.sql.rows(
                "INSERT INTO users (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                [.text(name), .text(role.rawValue), .text(tokenHash), .text(at)])[0].int("id")!
            return User(id: id, name: name, role: role)
        }
    }

    func user(tokenHash: String) throws -> User? {
        try connected { session in
            guard let row = try session.rows("SELECT id, name, role, token_hash FROM users WHERE token_hash = $1", [.text(tokenHash)]).first,
                Tokens.constantTimeEqual(try row.text("token_hash") ?? "", tokenHash)
            else { return nil }
            return User(id: try row.int("id")!, name: try row.text("name")!, role: Role(rawValue: try row.text("role")!) ?? .practitioner)
        }
    }

    func replaceToken(of name: String, tokenHash: String) throws -> Bool {
        try writing { transaction in
            try !transaction.sql.rows("UPDATE users SET token_hash = $1 WHERE name = $2 RETURNING id", [.text(tokenHash), .text(name)]).isEmpty
        }
    }

    func setDeviceToken(device: String, tokenHash: String) throws {
        try writing { try $0.sql.run("UPDATE devices SET token_hash = $1 WHERE id = $2", [.text(tokenHash), .text(device)]) }
    }

    func deviceCredential(tokenHash: String) throws -> (user: User, device: String)? {
        try connected { session in
            guard let row = try session.rows("""
                    SELECT d.id AS device, d.token_hash, u.id AS user_id, u.name, u.role FROM devices d JOIN users u ON u.id = d.user_id
                    WHERE d.token_hash = $1
                    """, [.text(tokenHash)]).first,
                Tokens.constantTimeEqual(try row.text("token_hash") ?? "", tokenHash)
            else { return nil }
            let user = User(id: try row.int("user_id")!, name: try row.text("name")!, role: Role(rawValue: try row.text("role")!) ?? .practitioner)
            return (user, try row.text("device")!)
        }
    }

    func register(device: String, for user: User, at: String) throws -> Bool {
        try writing { transaction in
            // The first user to register a device keeps it, whichever instance sees it first.
            try transaction.sql.run(
                "INSERT INTO devices (id, user_id, registered_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                [.text(device), .int(user.id), .text(at)])
            return try transaction.sql.rows("SELECT user_id FROM devices WHERE id = $1", [.text(device)]).first?.int("user_id") == user.id
        }
    }

    func deviceOwner(_ device: String) throws -> Int64? {
        try connected { try $0.rows("SELECT user_id FROM devices WHERE id = $1", [.text(device)]).first?.int("user_id") }
    }

    func lastSeq(of device: String) throws -> Int64? {
        try connected { try $0.rows("SELECT max(seq) AS last FROM applied WHERE device_id = $1", [.text(device)]).first?.int("last") }
    }

    func revoke(device: String, by: String, at: String) throws -> Bool {
        try writing { transaction in
            let changed = try transaction.sql.rows(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, $1), revoked_by = coalesce(revoked_by, $2) WHERE id = $3 RETURNING id",
                [.text(at), .text(by), .text(device)])
            guard !changed.isEmpty else { return false }
            try transaction.audit(AuditEvent(at: at, actor: by, action: "revoke", record: nil, detail: "device=\(device)"))
            return true
        }
    }

    func isRevoked(device: String) throws -> Bool {
        try connected {
            try $0.rows("SELECT CAST(CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS revoked FROM devices WHERE id = $1", [.text(device)])
                .first?.int("revoked") == 1
        }
    }

    func markWiped(device: String, at: String) throws {
        try writing { try $0.sql.run("UPDATE devices SET wiped_at = coalesce(wiped_at, $1) WHERE id = $2", [.text(at), .text(device)]) }
    }

    func recordSync(device: String, user: Int64, at: String) throws {
        try writing { try $0.recordSync(device: device, user: user, at: at) }
    }

    // MARK: The log's identity

    func identity() throws -> ServerIdentity {
        try reading(Self.identity)
    }

    /// Epoch and end in one statement, in the caller's snapshot.
    static func identity(_ session: any SQLSession) throws -> ServerIdentity {
        let row = try session.rows("""
            SELECT (SELECT epoch FROM server_identity WHERE id = 1) AS epoch, (SELECT coalesce(max(revision), 0) FROM change_log) AS last
            """, [])[0]
        return ServerIdentity(epoch: try row.text("epoch")!, end: try row.int("last") ?? 0)
    }

    func startNewEpoch(at: String) throws -> String {
        try writing { transaction in
            let epoch = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try transaction.sql.run("UPDATE server_identity SET epoch = $1, since = $2 WHERE id = 1", [.text(epoch), .text(at)])
            try transaction.audit(AuditEvent(at: at, actor: "operator", action: "new-epoch", record: nil, detail: "epoch=\(epoch)"))
            return epoch
        }
    }

    // MARK: Audit

    func audit(_ event: AuditEvent) throws {
        try writing { try $0.audit(event) }
    }

    func verifyAudit() throws -> AuditTrail.Verification {
        try reading { session in
            AuditTrail.verify(try session.rows("SELECT id, at, actor, action, record_id, detail, previous_hash, hash FROM audit ORDER BY id", []).map { row in
                AuditTrail.Entry(
                    id: try row.int("id")!,
                    event: AuditEvent(
                        at: try row.text("at")!, actor: try row.text("actor")!, action: try row.text("action")!, record: try row.text("record_id"),
                        detail: try row.text("detail")!),
                    previousHash: try row.text("previous_hash")!, hash: try row.text("hash")!)
            })
        }
    }

    func auditEntries(_ filter: AuditFilter) throws -> [AuditListing] {
        let (sql, binds) = ServerQueries.audit(filter)
        return try reading { session in
            try session.rows(sql, binds.map { SQLBind.text($0) }).map {
                AuditListing(
                    id: try $0.int("id")!,
                    event: AuditEvent(
                        at: try $0.text("at")!, actor: try $0.text("actor")!, action: try $0.text("action")!, record: try $0.text("record_id"),
                        detail: try $0.text("detail")!))
            }.reversed() as [AuditListing]
        }
    }

    // MARK: Reads for the front door and operators

    func submittedReferrals() throws -> [SubmittedReferral] {
        try reading { session in
            try session.rows(ServerQueries.submittedReferrals, []).map {
                SubmittedReferral(
                    id: try $0.text("id")!, kind: try $0.text("kind") ?? "social-care", submittedAt: try $0.text("submitted_at")!,
                    receipt: try $0.text("receipt"), acknowledgedAt: try $0.text("acknowledged_at"), outcome: try $0.text("outcome"),
                    changedAt: try $0.text("changed_at"), openConflicts: Int(try $0.int("open_conflicts") ?? 0),
                    childName: try $0.text("child_name"), children: Int(try $0.int("children") ?? 0), agency: try $0.text("agency"),
                    immediateRisk: try $0.text("immediate_risk") == "yes")
            }
        }
    }

    func changesSinceFrontDoor(of record: String) throws -> [ReferralChange] {
        try reading { session in
            try session.rows(ServerQueries.changesSinceFrontDoor, [.text(record)]).map {
                ReferralChange(path: try $0.text("path")!, at: try $0.text("at")!, by: try $0.text("author")!, kind: try $0.text("kind")!)
            }
        }
    }

    func document(_ record: String) throws -> ReferralDocument? {
        try reading { session in
            guard let row = try session.rows(
                "SELECT u.name, r.created_at FROM records r JOIN users u ON u.id = r.owner_id WHERE r.id = $1", [.text(record)]).first
            else { return nil }
            let fields = Dictionary(uniqueKeysWithValues: try session.rows(
                "SELECT path, value FROM fields WHERE record_id = $1 AND value IS NOT NULL", [.text(record)]
            ).map { (try $0.text("path")!, try $0.text("value")!) })
            return ReferralDocument(id: record, owner: try row.text("name")!, createdAt: try row.text("created_at")!, fields: fields)
        }
    }

    func conflicts(all: Bool) throws -> [ConflictSummary] {
        try reading { session in
            try session.rows("""
                SELECT id, record_id, path, status, resolved_by, resolution, resolved_at, reason, resolution_revision
                FROM conflicts \(all ? "" : "WHERE status = 'open'") ORDER BY opened_at, id
                """, []).map { row in
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
                    candidates: try ConflictQueries.state(id, in: session)?.candidates ?? [], resolution: resolution)
            }
        }
    }

    func users() throws -> [UserSummary] {
        try reading { session in
            try session.rows(ServerQueries.users, []).map {
                UserSummary(name: try $0.text("name")!, role: try $0.text("role")!, createdAt: try $0.text("created_at")!)
            }
        }
    }

    func devices(user: String?) throws -> [DeviceSummary] {
        try reading { session in
            try session.rows(ServerQueries.devices, [.text(user)]).map {
                DeviceSummary(
                    id: try $0.text("id")!, user: try $0.text("name")!, registeredAt: try $0.text("registered_at")!,
                    lastSyncAt: try $0.text("last_sync_at"), revokedAt: try $0.text("revoked_at"), revokedBy: try $0.text("revoked_by"),
                    wipedAt: try $0.text("wiped_at"))
            }
        }
    }

    func deviceIDs(startingWith prefix: String) throws -> [String] {
        try reading { session in try session.rows(ServerQueries.devicesByPrefix, [.text(prefix)]).map { try $0.text("id")! } }
    }
}

/// A conflict as devices and admins see it: its status, candidates in
/// order and resolution.
enum ConflictQueries {
    static func state(_ id: String, in session: any SQLSession) throws -> ConflictState? {
        guard let row = try session.rows("SELECT status, resolved_by, resolved_at, reason FROM conflicts WHERE id = $1", [.text(id)]).first,
            let status = try row.text("status")
        else { return nil }
        let resolution = try row.text("resolved_by").map {
            ConflictState.Resolution(by: $0, at: try row.text("resolved_at") ?? "", reason: try row.text("reason") ?? "")
        }
        let candidates = try session.rows(
            "SELECT value, author, device_id, at, hlc FROM conflict_candidates WHERE conflict_id = $1 ORDER BY position", [.text(id)]
        ).map {
            ConflictCandidate(
                value: try $0.text("value"), author: try $0.text("author")!, device: try $0.text("device_id")!, time: try $0.text("at")!,
                hlc: try $0.text("hlc")!)
        }
        return ConflictState(id: id, status: status, candidates: candidates, resolution: resolution)
    }
}
