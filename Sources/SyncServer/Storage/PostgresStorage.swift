import Foundation
import Logging
import PostgresNIO
import SyncCore

/// The same store in PostgreSQL, for a front door that runs several server
/// instances on one database its operators already back up and replicate.
///
/// Every write transaction starts by locking the one row of `writer`
/// (`SELECT … FOR UPDATE`). Writers, on every instance, therefore take turns
/// as they do on SQLite's single writer, and everything the engine reads and
/// decides inside a transaction stays true until it commits:
/// - revisions come from `writer.revision`, advanced inside the transaction
///   that holds the lock, so they commit in revision order and a pull (one
///   snapshot, `REPEATABLE READ`) always sees a prefix of the log: a write
///   that commits late can never be skipped;
/// - two instances pushing the same field meet in turn: the second sees the
///   first's revision and makes exactly one conflict;
/// - `(device, seq)` is looked up under the lock, so a retry sent to another
///   instance gets `duplicate`;
/// - the audit trail's head is read under the lock: one chain for all instances.
final class PostgresStorage: SyncStorage {
    let connections: PostgresConnections

    init(url: PostgresURL, logger: Logger = Logger(label: "sync-server.postgres")) throws {
        var logger = logger
        logger.logLevel = .warning
        connections = PostgresConnections(url: url, logger: logger)
        try migrate()
    }

    // MARK: Migrations

    /// Applied in order, each once, in its own transaction; a released one is never edited.
    static let migrations: [(name: String, sql: String)] = [
        ("v1", """
            CREATE TABLE users (
                id BIGSERIAL PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE TABLE devices (
                id TEXT PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES users(id),
                registered_at TEXT NOT NULL,
                revoked_at TEXT,
                revoked_by TEXT,
                wiped_at TEXT
            );
            CREATE TABLE records (
                id TEXT PRIMARY KEY,
                owner_id BIGINT NOT NULL REFERENCES users(id),
                status TEXT NOT NULL DEFAULT 'draft',
                created_at TEXT NOT NULL
            );
            CREATE INDEX records_by_status ON records(status);
            CREATE TABLE fields (
                record_id TEXT NOT NULL,
                path TEXT NOT NULL,
                value TEXT,
                revision BIGINT NOT NULL,
                hlc TEXT NOT NULL,
                device_id TEXT NOT NULL,
                author TEXT NOT NULL,
                at TEXT NOT NULL,
                conflict_id TEXT,
                PRIMARY KEY (record_id, path)
            );
            -- One row: the last revision given out. Every write transaction
            -- locks it first, so writers on every instance take turns and
            -- revisions commit in order.
            CREATE TABLE writer (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                revision BIGINT NOT NULL
            );
            INSERT INTO writer (id, revision) VALUES (1, 0);
            CREATE TABLE change_log (
                revision BIGINT PRIMARY KEY,
                kind TEXT NOT NULL,
                record_id TEXT NOT NULL,
                path TEXT NOT NULL,
                value TEXT,
                author TEXT NOT NULL,
                device_id TEXT NOT NULL,
                seq BIGINT,
                hlc TEXT NOT NULL,
                at TEXT NOT NULL,
                conflict_id TEXT
            );
            CREATE INDEX change_log_by_field ON change_log(record_id, path, revision);
            CREATE TABLE applied (
                device_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                outcome TEXT NOT NULL,
                revision BIGINT,
                conflict_id TEXT,
                receipt TEXT,
                fingerprint TEXT,
                PRIMARY KEY (device_id, seq)
            );
            CREATE TABLE conflicts (
                id TEXT PRIMARY KEY,
                record_id TEXT NOT NULL,
                path TEXT NOT NULL,
                status TEXT NOT NULL,
                opened_at TEXT NOT NULL,
                resolved_by TEXT,
                resolved_at TEXT,
                resolution TEXT,
                reason TEXT,
                resolution_revision BIGINT
            );
            CREATE TABLE conflict_candidates (
                conflict_id TEXT NOT NULL REFERENCES conflicts(id),
                position INTEGER NOT NULL,
                value TEXT,
                author TEXT NOT NULL,
                device_id TEXT NOT NULL,
                at TEXT NOT NULL,
                hlc TEXT NOT NULL,
                PRIMARY KEY (conflict_id, position)
            );
            CREATE TABLE receipts (
                reference TEXT PRIMARY KEY,
                device_id TEXT NOT NULL,
                user_id BIGINT NOT NULL,
                at TEXT NOT NULL,
                records TEXT NOT NULL,
                changes BIGINT NOT NULL
            );
            CREATE TABLE audit (
                id BIGINT PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                record_id TEXT,
                detail TEXT NOT NULL,
                previous_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            );
            """),
        // Each device signs in with its own token (SHA-256 kept), issued at
        // registration: revoking the device ends it.
        ("v2-device-token", """
            ALTER TABLE devices ADD COLUMN token_hash TEXT;
            CREATE UNIQUE INDEX devices_by_token ON devices(token_hash) WHERE token_hash IS NOT NULL;
            """),
        // The log's identity: a new epoch when the store is created or
        // restored, so devices notice a server that went back in time; and a
        // device's own stamp, when the server bounded it to its time.
        ("v3-recovery", """
            CREATE TABLE server_identity (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                epoch TEXT NOT NULL,
                since TEXT NOT NULL
            );
            INSERT INTO server_identity (id, epoch, since)
                VALUES (1, md5(random()::text || clock_timestamp()::text), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
            ALTER TABLE change_log ADD COLUMN sent_hlc TEXT;
            """),
        // When each device last pushed or pulled, for `sync-server device list`.
        ("v4-last-sync", "ALTER TABLE devices ADD COLUMN last_sync_at TEXT"),
    ]

    /// Instances started together migrate one at a time (an advisory lock), each migration once.
    private func migrate() throws {
        try connections.withConnection { session in
            try session.execute("SELECT pg_advisory_lock(7245518)")
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(7245518)") }
            try session.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            let done = Set(try session.query("SELECT name FROM schema_migrations").map { try $0.text(0) ?? "" })
            for migration in Self.migrations where !done.contains(migration.name) {
                try session.execute("BEGIN")
                do {
                    // One statement at a time (no migration has a `;` inside a statement).
                    for statement in migration.sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                        try session.execute(String(statement))
                    }
                    try session.query("INSERT INTO schema_migrations (name) VALUES ($1)", .text(migration.name))
                    try session.execute("COMMIT")
                } catch {
                    try? session.execute("ROLLBACK")
                    throw error
                }
            }
        }
    }

    // MARK: Transactions

    /// A write transaction: the writer lock first, then `body`.
    private func writing<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try connections.transaction { session in
            try session.execute("SELECT revision FROM writer WHERE id = 1 FOR UPDATE")
            return try body(session)
        }
    }

    /// A read: one snapshot for every statement in it.
    private func reading<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try connections.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    func write<T>(_ body: (any SyncTransaction) throws -> T) throws -> T {
        try writing { session in try body(PostgresTransaction(session: session)) }
    }

    // MARK: Users and devices

    func addUser(name: String, role: Role, tokenHash: String, at: String) throws -> User {
        try writing { session in
            if try !session.query("SELECT 1 FROM users WHERE name = $1", .text(name)).isEmpty {
                throw StorageError.duplicateUser(name)
            }
            let id = try session.query(
                "INSERT INTO users (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                .text(name), .text(role.rawValue), .text(tokenHash), .text(at))[0].int(0)!
            return User(id: id, name: name, role: role)
        }
    }

    func user(tokenHash: String) throws -> User? {
        try connections.withConnection { session in
            guard let row = try session.query("SELECT id, name, role, token_hash FROM users WHERE token_hash = $1", .text(tokenHash)).first,
                Tokens.constantTimeEqual(try row.text(3) ?? "", tokenHash)
            else { return nil }
            return User(id: try row.int(0)!, name: try row.text(1)!, role: Role(rawValue: try row.text(2)!) ?? .practitioner)
        }
    }

    func setDeviceToken(device: String, tokenHash: String) throws {
        try connections.withConnection { session in
            try session.query("UPDATE devices SET token_hash = $1 WHERE id = $2", .text(tokenHash), .text(device))
        }
    }

    func deviceCredential(tokenHash: String) throws -> (user: User, device: String)? {
        try connections.withConnection { session in
            guard let row = try session.query("""
                    SELECT d.id, d.token_hash, u.id, u.name, u.role FROM devices d JOIN users u ON u.id = d.user_id
                    WHERE d.token_hash = $1
                    """, .text(tokenHash)).first,
                Tokens.constantTimeEqual(try row.text(1) ?? "", tokenHash)
            else { return nil }
            return (User(id: try row.int(2)!, name: try row.text(3)!, role: Role(rawValue: try row.text(4)!) ?? .practitioner), try row.text(0)!)
        }
    }

    func register(device: String, for user: User, at: String) throws -> Bool {
        try connections.withConnection { session in
            // The first user to register a device keeps it, whichever instance sees it first.
            try session.query(
                "INSERT INTO devices (id, user_id, registered_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                .text(device), .int(user.id), .text(at))
            return try session.query("SELECT user_id FROM devices WHERE id = $1", .text(device)).first?.int(0) == user.id
        }
    }

    func deviceOwner(_ device: String) throws -> Int64? {
        try connections.withConnection { session in
            try session.query("SELECT user_id FROM devices WHERE id = $1", .text(device)).first?.int(0)
        }
    }

    func identity() throws -> ServerIdentity {
        try reading(Self.identity)
    }

    /// Epoch and end in one statement, in the caller's snapshot.
    static func identity(_ session: PostgresSession) throws -> ServerIdentity {
        let row = try session.query("SELECT (SELECT epoch FROM server_identity WHERE id = 1), (SELECT coalesce(max(revision), 0) FROM change_log)")[0]
        return ServerIdentity(epoch: try row.text(0)!, end: try row.int(1) ?? 0)
    }

    func startNewEpoch(at: String) throws -> String {
        try writing { session in
            let epoch = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try session.query("UPDATE server_identity SET epoch = $1, since = $2 WHERE id = 1", .text(epoch), .text(at))
            try PostgresTransaction(session: session).audit(AuditEvent(at: at, actor: "operator", action: "new-epoch", record: nil, detail: "epoch=\(epoch)"))
            return epoch
        }
    }

    func lastSeq(of device: String) throws -> Int64? {
        try connections.withConnection { session in
            try session.query("SELECT max(seq) FROM applied WHERE device_id = $1", .text(device)).first?.int(0)
        }
    }

    func revoke(device: String, by: String, at: String) throws -> Bool {
        try writing { session in
            let changed = try session.query(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, $1), revoked_by = coalesce(revoked_by, $2) WHERE id = $3 RETURNING id",
                .text(at), .text(by), .text(device))
            guard !changed.isEmpty else { return false }
            try PostgresTransaction(session: session).audit(AuditEvent(at: at, actor: by, action: "revoke", record: nil, detail: "device=\(device)"))
            return true
        }
    }

    func isRevoked(device: String) throws -> Bool {
        try connections.withConnection { session in
            try session.query("SELECT revoked_at IS NOT NULL FROM devices WHERE id = $1", .text(device)).first?.bool(0) ?? false
        }
    }

    func markWiped(device: String, at: String) throws {
        try connections.withConnection { session in
            try session.query("UPDATE devices SET wiped_at = coalesce(wiped_at, $1) WHERE id = $2", .text(at), .text(device))
        }
    }

    func replaceToken(of name: String, tokenHash: String) throws -> Bool {
        try connections.withConnection { session in
            try !session.query("UPDATE users SET token_hash = $1 WHERE name = $2 RETURNING id", .text(tokenHash), .text(name)).isEmpty
        }
    }

    // MARK: Audit

    func audit(_ event: AuditEvent) throws {
        try writing { session in try PostgresTransaction(session: session).audit(event) }
    }

    func verifyAudit() throws -> AuditTrail.Verification {
        try reading { session in
            let rows = try session.query("SELECT id, at, actor, action, record_id, detail, previous_hash, hash FROM audit ORDER BY id")
            return try AuditTrail.verify(try rows.map { row in
                AuditTrail.Entry(
                    id: try row.int(0)!,
                    event: AuditEvent(at: try row.text(1)!, actor: try row.text(2)!, action: try row.text(3)!, record: try row.text(4), detail: try row.text(5)!),
                    previousHash: try row.text(6)!, hash: try row.text(7)!)
            })
        }
    }

    // MARK: Reads

    func submittedReferrals() throws -> [SubmittedReferral] {
        try reading { session in
            try session.query(ServerQueries.submittedReferrals).map {
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
            try session.query(ServerQueries.changesSinceFrontDoor, .text(record)).map {
                ReferralChange(path: try $0.text("path")!, at: try $0.text("at")!, by: try $0.text("author")!, kind: try $0.text("kind")!)
            }
        }
    }

    func document(_ record: String) throws -> ReferralDocument? {
        try reading { session in
            guard let row = try session.query("SELECT u.name, r.created_at FROM records r JOIN users u ON u.id = r.owner_id WHERE r.id = $1", .text(record)).first
            else { return nil }
            let fields = Dictionary(uniqueKeysWithValues: try session.query(
                "SELECT path, value FROM fields WHERE record_id = $1 AND value IS NOT NULL", .text(record)
            ).map { (try $0.text(0)!, try $0.text(1)!) })
            return ReferralDocument(id: record, owner: try row.text(0)!, createdAt: try row.text(1)!, fields: fields)
        }
    }

    func conflicts(all: Bool) throws -> [ConflictSummary] {
        try reading { session in
            let transaction = PostgresTransaction(session: session)
            return try session.query("""
                SELECT id, record_id, path, status, resolved_by, resolution, resolved_at, reason, resolution_revision
                FROM conflicts \(all ? "" : "WHERE status = 'open'") ORDER BY opened_at, id
                """).map { row in
                let id = try row.text(0)!
                let path = try row.text(2)!
                let question = ReferralForm.standard.field(atStoredPath: path)?.1.question ?? path
                let state = try transaction.conflict(id)
                var resolution: ConflictSummary.Resolution?
                if let by = try row.text(4) {
                    resolution = .init(value: try row.text(5), by: by, at: try row.text(6)!, reason: try row.text(7) ?? "", revision: try row.int(8) ?? 0)
                }
                return ConflictSummary(
                    id: id, record: try row.text(1)!, path: path, question: question, status: try row.text(3)!,
                    candidates: state?.candidates ?? [], resolution: resolution)
            }
        }
    }

    func pull(since: Int64, limit: Int, for user: User) throws -> PullResponse {
        // One snapshot: writers commit in revision order (the writer lock), so
        // it holds every revision up to some point and none after it, and the
        // end of the log read below is the end of this same prefix.
        try reading { session in
            let visibility: String
            switch user.role {
            case .practitioner: visibility = "r.owner_id = \(user.id)"
            case .intake: visibility = "r.status = 'submitted'"
            case .admin: visibility = "TRUE"
            }
            let rows = try session.query("""
                SELECT l.revision, l.record_id, l.path, l.value, l.author, l.device_id, l.hlc, l.at, l.conflict_id
                FROM change_log l JOIN records r ON r.id = l.record_id
                WHERE l.revision > $1 AND l.kind IN ('write', 'conflict') AND \(visibility)
                ORDER BY l.revision LIMIT $2
                """, .int(since), .int(Int64(limit) + 1))
            let page = rows.prefix(limit)
            var conflicts: [String: ConflictState] = [:]
            let transaction = PostgresTransaction(session: session)
            var changes: [PulledChange] = []
            changes.reserveCapacity(page.count)
            for row in page {
                var conflict: ConflictState?
                if let conflictID = try row.text(8) {
                    if conflicts[conflictID] == nil { conflicts[conflictID] = try transaction.conflict(conflictID) }
                    conflict = conflicts[conflictID]
                }
                changes.append(PulledChange(
                    revision: try row.int(0)!, record: try row.text(1)!, path: try row.text(2)!, value: try row.text(3),
                    author: try row.text(4)!, device: try row.text(5)!, hlc: try row.text(6)!, at: try row.text(7)!, conflict: conflict))
            }
            let more = rows.count > limit
            let identity = try Self.identity(session)
            let cursor = more || !changes.isEmpty ? (changes.last?.revision ?? since) : max(since, identity.end)
            return PullResponse(changes: changes, cursor: cursor, more: more, epoch: identity.epoch, end: identity.end)
        }
    }
}

/// The engine's view of one PostgreSQL write transaction, which holds the writer lock.
struct PostgresTransaction: SyncTransaction {
    let session: PostgresSession

    func storedOutcomes(device: String, seqs: ClosedRange<Int64>) throws -> [Int64: StoredOutcome] {
        var outcomes: [Int64: StoredOutcome] = [:]
        for row in try session.query(
            "SELECT seq, outcome, revision, conflict_id, receipt, fingerprint FROM applied WHERE device_id = $1 AND seq BETWEEN $2 AND $3",
            .text(device), .int(seqs.lowerBound), .int(seqs.upperBound))
        {
            outcomes[try row.int(0)!] = StoredOutcome(
                outcome: Outcome(rawValue: try row.text(1)!) ?? .applied, revision: try row.int(2), conflict: try row.text(3),
                receipt: try row.text(4), fingerprint: try row.text(5))
        }
        return outcomes
    }

    func storeOutcome(_ outcome: StoredOutcome, device: String, seq: Int64) throws {
        try session.query(
            "INSERT INTO applied (device_id, seq, outcome, revision, conflict_id, receipt, fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            .text(device), .int(seq), .text(outcome.outcome.rawValue), .int(outcome.revision), .text(outcome.conflict),
            .text(outcome.receipt), .text(outcome.fingerprint))
    }

    func recordOwner(_ record: String) throws -> Int64? {
        try session.query("SELECT owner_id FROM records WHERE id = $1", .text(record)).first?.int(0)
    }

    func createRecord(_ record: String, owner: Int64, at: String) throws {
        try session.query("INSERT INTO records (id, owner_id, created_at) VALUES ($1, $2, $3)", .text(record), .int(owner), .text(at))
    }

    func setRecordStatus(_ record: String, status: String) throws {
        try session.query("UPDATE records SET status = $1 WHERE id = $2", .text(status), .text(record))
    }

    func field(record: String, path: String) throws -> ServerField? {
        try session.query(
            "SELECT value, revision, hlc, device_id, author, at, conflict_id FROM fields WHERE record_id = $1 AND path = $2",
            .text(record), .text(path)
        ).first.map {
            ServerField(
                value: try $0.text(0), revision: try $0.int(1)!, hlc: try $0.text(2)!, device: try $0.text(3)!, author: try $0.text(4)!,
                at: try $0.text(5)!, conflict: try $0.text(6))
        }
    }

    func setField(record: String, path: String, _ field: ServerField) throws {
        try session.query("""
            INSERT INTO fields (record_id, path, value, revision, hlc, device_id, author, at, conflict_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (record_id, path) DO UPDATE SET value = excluded.value, revision = excluded.revision, hlc = excluded.hlc,
                device_id = excluded.device_id, author = excluded.author, at = excluded.at, conflict_id = excluded.conflict_id
            """, .text(record), .text(path), .text(field.value), .int(field.revision), .text(field.hlc), .text(field.device),
            .text(field.author), .text(field.at), .text(field.conflict))
    }

    func value(record: String, path: String, atRevision revision: Int64) throws -> String? {
        guard revision > 0 else { return nil }
        return try session.query(
            "SELECT value FROM change_log WHERE record_id = $1 AND path = $2 AND revision <= $3 AND kind IN ('write', 'conflict') ORDER BY revision DESC LIMIT 1",
            .text(record), .text(path), .int(revision)
        ).first?.text(0)
    }

    func otherDeviceWrote(record: String, path: String, after revision: Int64, device: String) throws -> Bool {
        try !session.query(
            "SELECT 1 FROM change_log WHERE record_id = $1 AND path = $2 AND revision > $3 AND device_id <> $4 AND kind IN ('write', 'conflict') LIMIT 1",
            .text(record), .text(path), .int(revision), .text(device)
        ).isEmpty
    }

    /// The next revision comes from the writer row this transaction has locked.
    func append(_ entry: LogEntry) throws -> Int64 {
        try session.query("""
            WITH next AS (UPDATE writer SET revision = revision + 1 WHERE id = 1 RETURNING revision)
            INSERT INTO change_log (revision, kind, record_id, path, value, author, device_id, seq, hlc, at, conflict_id, sent_hlc)
            SELECT next.revision, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM next
            RETURNING revision
            """, .text(entry.kind.rawValue), .text(entry.record), .text(entry.path), .text(entry.value), .text(entry.author),
            .text(entry.device), .int(entry.seq), .text(entry.hlc), .text(entry.at), .text(entry.conflict), .text(entry.sentHLC))[0].int(0)!
    }

    func conflict(_ id: String) throws -> ConflictState? {
        guard let row = try session.query("SELECT status, resolved_by, resolved_at, reason FROM conflicts WHERE id = $1", .text(id)).first,
            let status = try row.text(0)
        else { return nil }
        let resolution = try row.text(1).map { ConflictState.Resolution(by: $0, at: try row.text(2) ?? "", reason: try row.text(3) ?? "") }
        let candidates = try session.query(
            "SELECT value, author, device_id, at, hlc FROM conflict_candidates WHERE conflict_id = $1 ORDER BY position", .text(id)
        ).map {
            ConflictCandidate(value: try $0.text(0), author: try $0.text(1)!, device: try $0.text(2)!, time: try $0.text(3)!, hlc: try $0.text(4)!)
        }
        return ConflictState(id: id, status: status, candidates: candidates, resolution: resolution)
    }

    func openConflict(_ id: String, record: String, path: String, candidates: [ConflictCandidate], at: String) throws {
        try session.query(
            "INSERT INTO conflicts (id, record_id, path, status, opened_at) VALUES ($1, $2, $3, 'open', $4)",
            .text(id), .text(record), .text(path), .text(at))
        for candidate in candidates { try addCandidate(candidate, to: id) }
    }

    func addCandidate(_ candidate: ConflictCandidate, to conflict: String) throws {
        try session.query("""
            INSERT INTO conflict_candidates (conflict_id, position, value, author, device_id, at, hlc)
            VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM conflict_candidates WHERE conflict_id = $1), $2, $3, $4, $5, $6)
            """, .text(conflict), .text(candidate.value), .text(candidate.author), .text(candidate.device), .text(candidate.time), .text(candidate.hlc))
    }

    func storeReceipt(_ receipt: Receipt, device: String, user: Int64) throws {
        let records = String(decoding: try JSONEncoder().encode(receipt.records), as: UTF8.self)
        try session.query(
            "INSERT INTO receipts (reference, device_id, user_id, at, records, changes) VALUES ($1, $2, $3, $4, $5, $6)",
            .text(receipt.reference), .text(device), .int(user), .text(receipt.serverTime), .text(records), .int(Int64(receipt.changes)))
    }

    func receipt(_ reference: String) throws -> Receipt? {
        try session.query("SELECT reference, at, records, changes FROM receipts WHERE reference = $1", .text(reference)).first.map {
            let records = (try? JSONDecoder().decode([String].self, from: Data((try $0.text(2) ?? "[]").utf8))) ?? []
            return Receipt(reference: try $0.text(0)!, serverTime: try $0.text(1)!, records: records, changes: Int(try $0.int(3)!))
        }
    }

    func recordStatus(_ record: String) throws -> String? {
        try session.query("SELECT status FROM records WHERE id = $1", .text(record)).first?.text(0)
    }

    func conflictPlace(_ id: String) throws -> (record: String, path: String, open: Bool)? {
        try session.query("SELECT record_id, path, status FROM conflicts WHERE id = $1", .text(id)).first.map {
            (try $0.text(0)!, try $0.text(1)!, try $0.text(2) == "open")
        }
    }

    func markResolved(_ id: String, value: String?, by: String, at: String, reason: String, revision: Int64) throws {
        try session.query("""
            UPDATE conflicts SET status = 'resolved', resolution = $1, resolved_by = $2, resolved_at = $3, reason = $4, resolution_revision = $5
            WHERE id = $6
            """, .text(value), .text(by), .text(at), .text(reason), .int(revision), .text(id))
    }

    func recordSync(device: String, user: Int64, at: String) throws {
        try session.query(ServerQueries.recordSync, .text(device), .int(user), .text(at))
    }

    /// Inside a transaction holding the writer lock, so the chain's head cannot move under it.
    func audit(_ event: AuditEvent) throws {
        let last = try session.query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").first
        let id = (try last?.int(0) ?? 0) + 1
        let previous = try last?.text(1) ?? AuditTrail.genesis
        try session.query(
            "INSERT INTO audit (id, at, actor, action, record_id, detail, previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            .int(id), .text(event.at), .text(event.actor), .text(event.action), .text(event.record), .text(event.detail), .text(previous),
            .text(AuditTrail.hash(previous: previous, id: id, event)))
    }
}
