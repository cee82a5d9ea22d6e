import Foundation
import Logging
import PostgresNIO
import SyncCore

/// The same store in PostgreSQL, for a front door that runs several server
/// instances on one database its operators already back up and replicate.
///
/// There is no global write lock: writers on every instance run side by side
/// unless they touch the same referral (docs/protocol.md, "The server's write
/// path"):
/// - a writer locks each referral it touches (`pg_advisory_xact_lock(1, k)`,
///   `k` from the referral id; a push takes all of its batch's at once, in
///   key order, so two pushes cannot deadlock). Two pushes of the same
///   field meet in turn, and the second sees the first's revision: exactly
///   one conflict, holding every candidate. `(device, seq)` belongs to one
///   device, whose pushes touch its own referrals, so a retry sent to another
///   instance waits for the first and gets `duplicate`;
/// - revisions come from the sequence `change_log_revision`, so they no
///   longer commit in order. `allocate_revisions(n)` marks each allocation
///   with a lock on its first revision, held until the transaction ends, and
///   `pull_horizon()` returns the lowest revision still marked (or the next
///   one to be given out): a pull reads below it only, so a write that
///   commits late is never skipped. Both take a short gate lock so that a
///   horizon never sees a revision given out without its mark;
/// - the audit trail is one hash chain, but writers do not take its turn: a
///   writer leaves its entry in `audit_pending`, committed with its change,
///   and the instance's `AuditSequencer` chains what is waiting after the
///   commit, many entries in one transaction of its own
///   (`audit_chain(n)` under `pg_advisory_xact_lock(2, 2)`). Held by every
///   writer through its commit, that turn had made each commit wait for the
///   one before it to reach the disk (docs/reliability.md, "Why PostgreSQL
///   stalls"). Whatever lists or verifies the chain chains first
///   (`chainPendingAudit`), and so does every start.
final class PostgresStorage: SQLStore {
    let connections: PostgresConnections
    private let logger: Logger
    /// When the entries this instance's writers commit are chained.
    let chaining: AuditChaining
    /// Chains waiting audit entries after writers commit (`AuditChaining.sequencer`).
    private let sequencer: AuditSequencer?

    /// Connects, brings the schema up to date (`migrations`) and chains the
    /// audit entries a stopped instance left waiting.
    /// - Parameters:
    ///   - maximumConnections: the pool's bound (`PostgresConnections`).
    ///   - leaseTimeout: how long a request waits for a connection (`PostgresConnections`).
    ///   - chaining: when audit entries are chained after their commits:
    ///     by a sequencer (a server), by each write before it returns (a
    ///     one-shot command), or only by the next start or listing.
    /// - Throws: `PSQLError` when PostgreSQL cannot be reached or a migration fails.
    init(
        url: PostgresURL, maximumConnections: Int = PostgresConnections.defaultMaximum,
        leaseTimeout: Duration = PostgresConnections.defaultLeaseTimeout, chaining: AuditChaining = .sequencer,
        applicationName: String = "sync-server", logger: Logger = Logger(label: "sync-server.postgres")
    ) async throws {
        var logger = logger
        logger.logLevel = .warning
        let connections = try await PostgresConnections(
            url: url, logger: logger, maximumConnections: maximumConnections, leaseTimeout: leaseTimeout, applicationName: applicationName)
        self.connections = connections
        self.chaining = chaining
        self.logger = logger
        sequencer = chaining == .sequencer ? AuditSequencer(logger: logger) { try await Self.chainPendingAudit(connections) } : nil
        try await migrate()
        try await chainPendingAudit()
    }

    /// How many other sessions on this database belong to a serving
    /// instance (`ServingLock.applicationName`).
    func servingSessions() async throws -> Int {
        try await connections.withConnection { session in
            try await session.query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()",
                [.text(ServingLock.applicationName)]
            ).first?.int("n").map(Int.init) ?? 0
        }
    }

    // MARK: The audit chain

    /// Waiting entries chained per transaction: a short turn for `addUser`
    /// and `publishForm`, which wait for it, and a round trip per thousand.
    static let auditChainBatch = 1000

    /// Chains every audit entry committed so far and still waiting, in
    /// batches of `auditChainBatch`, each in its own transaction. On a
    /// database this connection may only read (a standby, a read-only
    /// role: SQLSTATE 25006), it chains nothing, so `audit show` and
    /// `audit verify` read the chain as it stands there.
    /// - Throws: `PSQLError` when PostgreSQL cannot be reached; what was not
    ///   chained stays waiting, whole, for the next try.
    func chainPendingAudit() async throws {
        do {
            try await Self.chainPendingAudit(connections)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "25006" {
            logger.warning("the database is read-only here: audit entries still waiting are not chained, and not shown")
        }
    }

    /// Returns once this instance's sequencer has chained every entry its
    /// writers committed so far (or has given up on PostgreSQL until the
    /// next write), or after `limit`: a graceful stop waits for it.
    func auditSettled(within limit: Duration? = nil) async {
        await sequencer?.settled(within: limit)
    }

    /// After a transaction has committed: its audit entry is chained as
    /// `chaining` says. A failure here leaves the entry waiting, committed,
    /// and is not the write's: the write is not reported failed for it.
    /// Returns the sequencer's ticket for the run that chains it, if one does.
    @discardableResult
    private func chained(_ transaction: PostgresTransaction.State) async -> AuditSequencer.Ticket? {
        guard transaction.audited else { return nil }
        switch chaining {
        case .sequencer:
            return sequencer?.wake()
        case .beforeReturning:
            do { try await chainPendingAudit() } catch {
                logger.warning("an audit entry waits to be chained: \(String(reflecting: error))")
            }
        case .deferred:
            break
        }
        return nil
    }

    /// Each batch in a `READ COMMITTED` transaction of its own, whatever the
    /// cluster's default: `audit_chain` reads the head after it has the turn.
    private static func chainPendingAudit(_ connections: PostgresConnections) async throws {
        while try await connections.transaction(PostgresConnections.readCommitted, { session in
            try await session.query("SELECT audit_chain($1) AS chained", .int(Int64(auditChainBatch)))[0].int("chained") ?? 0
        }) == auditChainBatch {}
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
        // No global write lock: revisions from a sequence, each allocation
        // marked until its transaction ends, and pulls read below the lowest
        // mark (the class comment). `writer` stays, unused, for older instances.
        ("v5-revision-sequence", """
            CREATE SEQUENCE change_log_revision AS BIGINT MINVALUE 1 START 1;
            SELECT setval('change_log_revision', greatest(revision, 1), revision > 0) FROM writer WHERE id = 1
            """),
        ("v5-allocate-revisions", """
            CREATE FUNCTION allocate_revisions(n bigint) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
            DECLARE
                first bigint;
            BEGIN
                PERFORM pg_advisory_lock(2, 1);
                BEGIN
                    first := nextval('change_log_revision');
                    IF n > 1 THEN
                        PERFORM setval('change_log_revision', first + n - 1);
                    END IF;
                    PERFORM pg_advisory_xact_lock(first);
                EXCEPTION WHEN OTHERS THEN
                    PERFORM pg_advisory_unlock(2, 1);
                    RAISE;
                END;
                PERFORM pg_advisory_unlock(2, 1);
                RETURN QUERY SELECT generate_series(first, first + n - 1);
            END
            $$
            """),
        ("v5-pull-horizon", """
            CREATE FUNCTION pull_horizon() RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE
                horizon bigint;
            BEGIN
                PERFORM pg_advisory_lock(2, 1);
                BEGIN
                    SELECT min((l.classid::bigint << 32) | l.objid::bigint) INTO horizon
                        FROM pg_locks l
                        WHERE l.locktype = 'advisory' AND l.objsubid = 1
                            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
                    IF horizon IS NULL THEN
                        SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO horizon FROM change_log_revision;
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    PERFORM pg_advisory_unlock(2, 1);
                    RAISE;
                END;
                PERFORM pg_advisory_unlock(2, 1);
                RETURN horizon;
            END
            $$
            """),
        // The audit append in one statement (`PostgresTransaction.audit`): the
        // chain's turn, its head and the new entry, hashed as
        // `AuditTrail.hash` does, so the turn is held one round trip and the
        // commit. Each statement of a PL/pgSQL function reads committed rows
        // afresh, so the head is read after the turn is taken.
        ("v6-audit-append", """
            CREATE FUNCTION audit_append(p_at text, p_actor text, p_action text, p_record text, p_detail text)
            RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE
                head_id bigint;
                head_hash text;
                entry_id bigint;
            BEGIN
                PERFORM pg_advisory_xact_lock(2, 2);
                SELECT id, hash INTO head_id, head_hash FROM audit ORDER BY id DESC LIMIT 1;
                entry_id := coalesce(head_id, 0) + 1;
                head_hash := coalesce(head_hash, repeat('0', 64));
                INSERT INTO audit (id, at, actor, action, record_id, detail, previous_hash, hash)
                VALUES (entry_id, p_at, p_actor, p_action, p_record, p_detail, head_hash,
                    encode(sha256(convert_to(concat_ws(chr(31), head_hash, entry_id::text, p_at, p_actor, p_action,
                        coalesce(p_record, ''), p_detail), 'UTF8')), 'hex'));
                RETURN entry_id;
            END
            $$
            """),
        // Writers no longer take the chain's turn (`AuditSequencer`): each
        // leaves its entry here, in its own transaction, so the entry commits
        // with the change it records and no writer waits for another's commit.
        ("v7-audit-pending", """
            CREATE TABLE audit_pending (
                id BIGSERIAL PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                record_id TEXT,
                detail TEXT NOT NULL
            )
            """),
        // Chains up to `p_limit` waiting entries in their order (`audit_pending.id`)
        // in the chain's turn, hashed as `audit_append` and `AuditTrail.hash`
        // do, and removes them from the waiting table in the same transaction:
        // an entry is waiting or chained, never both, never neither.
        ("v7-audit-chain", """
            CREATE FUNCTION audit_chain(p_limit bigint) RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE
                head_id bigint;
                head_hash text;
                entry_hash text;
                waiting record;
                chained bigint := 0;
            BEGIN
                PERFORM pg_advisory_xact_lock(2, 2);
                SELECT id, hash INTO head_id, head_hash FROM audit ORDER BY id DESC LIMIT 1;
                head_id := coalesce(head_id, 0);
                head_hash := coalesce(head_hash, repeat('0', 64));
                FOR waiting IN SELECT id, at, actor, action, record_id, detail FROM audit_pending ORDER BY id LIMIT p_limit LOOP
                    head_id := head_id + 1;
                    entry_hash := encode(sha256(convert_to(concat_ws(chr(31), head_hash, head_id::text, waiting.at, waiting.actor,
                        waiting.action, coalesce(waiting.record_id, ''), waiting.detail), 'UTF8')), 'hex');
                    INSERT INTO audit (id, at, actor, action, record_id, detail, previous_hash, hash)
                    VALUES (head_id, waiting.at, waiting.actor, waiting.action, waiting.record_id, waiting.detail, head_hash, entry_hash);
                    DELETE FROM audit_pending WHERE id = waiting.id;
                    head_hash := entry_hash;
                    chained := chained + 1;
                END LOOP;
                RETURN chained;
            END
            $$
            """),
        // `audit_append` (`migrate-store`, and instances of the build before
        // the sequencer during a rolling upgrade, which still append inside
        // their writes) now leaves its entry waiting and chains everything
        // waiting, its own entry last among what it can see, in the turn it
        // holds until its commit: its entry never overtakes one committed
        // before it, and `audit_chain` stays the one place entries are
        // hashed. Returns the chain's head id (the entry's, unless an entry
        // committed meanwhile was stored after it).
        ("v7-audit-append-after-waiting", """
            CREATE OR REPLACE FUNCTION audit_append(p_at text, p_actor text, p_action text, p_record text, p_detail text)
            RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO audit_pending (at, actor, action, record_id, detail) VALUES (p_at, p_actor, p_action, p_record, p_detail);
                PERFORM audit_chain(9223372036854775807);
                RETURN (SELECT max(id) FROM audit);
            END
            $$
            """),
    ]

    /// Instances started together migrate one at a time (an advisory lock), each migration once.
    private func migrate() async throws {
        try await connections.withConnection { session in
            // A two-key lock: single-key (bigint) advisory locks mark revisions (`pull_horizon`).
            try await session.execute("SELECT pg_advisory_lock(2, 0)")
            do {
                try await Self.migrate(session)
            } catch {
                try? await session.execute("SELECT pg_advisory_unlock(2, 0)")
                throw error
            }
            try await session.execute("SELECT pg_advisory_unlock(2, 0)")
        }
    }

    private static func migrate(_ session: PostgresSession) async throws {
        try await session.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        let done = Set(try await session.query("SELECT name FROM schema_migrations").map { try $0.text("name") ?? "" })
        let probe = TestHooks.migrationProbe.map { [$0] } ?? []
        for migration in migrations + SharedSchema.migrations + probe where !done.contains(migration.name) {
            try await session.execute("BEGIN")
            do {
                // One statement at a time; a function (`$$` body) is one statement.
                let statements = migration.sql.contains("$$") ? [Substring(migration.sql)] : migration.sql.split(separator: ";")
                for statement in statements where !statement.allSatisfy(\.isWhitespace) {
                    try await session.execute(String(statement))
                }
                TestHooks.stopInsideMigration(migration.name)
                try await session.query("INSERT INTO schema_migrations (name) VALUES ($1)", .text(migration.name))
                try await session.execute("COMMIT")
            } catch {
                try? await session.execute("ROLLBACK")
                throw error
            }
        }
    }

    // MARK: Transactions

    /// A read: one snapshot for every statement in it.
    func reading<T>(_ body: (any SQLSession) async throws -> T) async throws -> T {
        try await connections.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { try await body($0) }
    }

    func connected<T>(_ body: (any SQLSession) async throws -> T) async throws -> T {
        try await connections.withConnection { try await body($0) }
    }

    /// The lowest revision still held by a writer (`pull_horizon()`).
    func visibilityHorizon() async throws -> Int64? {
        try await connections.withConnection { session in
            try await session.query("SELECT pull_horizon() AS horizon")[0].int("horizon") ?? 1
        }
    }

    /// A write transaction. It takes no lock of its own: the referrals it
    /// touches are locked as it touches them. Once it has committed an audit
    /// entry, the sequencer is woken to chain it.
    func writing<T>(_ body: (any SQLTransaction) async throws -> T) async throws -> T {
        let state = PostgresTransaction.State()
        let result = try await connections.transaction { session in try await body(PostgresTransaction(session: session, state: state)) }
        await chained(state)
        return result
    }

    func push(_ needs: PushNeeds, seal: ReceiptSeal?, decide: (PushSnapshot) throws -> WritePlan) async throws -> PushCommit {
        let state = PostgresTransaction.State()
        var document: ReceiptDocument?
        let revisions = try await connections.transaction { session in
            let transaction = PostgresTransaction(session: session, state: state)
            try await transaction.lock(records: needs.records)
            let plan = try await PushStatements.decide(needs, in: session, decide)
            let revisions = PlannedRevisions(allocated: try await transaction.allocateRevisions(plan.log.count))
            try await PushStatements.write(revisions.resolve(plan), revisions: revisions.allocated, in: session)
            await TestHooks.holdPushBeforeCommit()
            if let audit = plan.audit { try await transaction.audit(audit) }
            document = plan.receiptDocument
            return revisions
        }
        let ticket = await chained(state)
        guard let document else { return PushCommit(revisions: revisions, receipt: nil) }
        // The receipt names the chain's head once the push's own entry is on
        // it: the sequencer's run after this commit (batched with others').
        let chained = await isChained(after: ticket)
        // The head read and the signed receipt stored on one connection.
        let receipt = try await connections.withConnection { session in
            try await ReceiptStatements.seal(document, head: chained ? try await ReceiptStatements.head(in: session) : nil, with: seal, in: session)
        }
        return PushCommit(revisions: revisions, receipt: receipt)
    }

    /// Whether the entries committed before `ticket` are on the chain; false
    /// when they are not chained within a few seconds (PostgreSQL
    /// unreachable, or chaining deferred): the receipt then names no head
    /// (docs/security.md).
    private func isChained(after ticket: AuditSequencer.Ticket?) async -> Bool {
        switch chaining {
        case .sequencer:
            guard let ticket, await sequencer?.chained(ticket, within: .seconds(5)) == true else {
                logger.warning("a push's audit entry was not chained within 5 seconds: its receipt is signed without the chain's head")
                return false
            }
            return true
        case .beforeReturning:
            return true
        case .deferred:
            return false
        }
    }

    // MARK: Reads

    /// A page of the log `user` may see, after `since`, below the horizon.
    ///
    /// One connection, two round trips in the common case: the horizon, then
    /// the page and the log's identity in one statement (one statement is
    /// one snapshot, so no transaction is needed). A page that names a
    /// conflict is read again in a `REPEATABLE READ` transaction with each
    /// conflict's state, so that every state comes from the page's snapshot.
    func pull(since: Int64, limit: Int, for user: User, presenting head: AuditHead?) async throws -> PullResponse {
        let visibility: String
        switch user.role {
        case .practitioner: visibility = "r.owner_id = \(user.id) AND l.path NOT IN (\(ServerQueries.internalPaths))"
        case .intake: visibility = "r.status = 'submitted'"
        case .admin: visibility = "TRUE"
        }
        let page = """
            SELECT l.revision, l.record_id, l.path, l.value, l.author, l.device_id, l.hlc, l.at, l.conflict_id
            FROM change_log l JOIN records r ON r.id = l.record_id
            WHERE l.revision > $1 AND l.revision < $3 AND l.kind IN ('write', 'conflict') AND \(visibility)
            ORDER BY l.revision LIMIT $2
            """
        return try await connections.withConnection { session in
            var response = try await Self.pullPage(page, since: since, limit: limit, in: session, connections: connections)
            if let head {
                // On the same connection: the chain's entries are never rewritten by a writer, so no shared snapshot is needed.
                let row = try await session.query(ReceiptStatements.headCheck, .int(head.position)).first
                response.auditCheck = ReceiptStatements.check(head, length: try row?.int("length") ?? 0, hash: try row?.text("hash"))
            }
            return response
        }
    }

    /// The page itself, on `session` (see `pull`).
    private static func pullPage(_ page: String, since: Int64, limit: Int, in session: PostgresSession, connections: PostgresConnections) async throws -> PullResponse {
        // Revisions no longer commit in order: read only below the horizon
        // (the lowest revision a writer still holds), taken before the
        // read's snapshot so that everything below it has committed and is
        // in the snapshot. A write that commits late is read by a later pull.
        let horizon = try await session.query("SELECT pull_horizon() AS horizon")[0].int("horizon") ?? 1
        let binds: [SQLBind] = [.int(since), .int(Int64(limit) + 1), .int(horizon)]
        // The identity's one row, with the page's rows beside it (none: one row of NULLs).
        let rows = try await session.query(
            "SELECT i.*, p.* FROM (SELECT \(Self.identityColumns)) i LEFT JOIN LATERAL (\(page)) p ON TRUE ORDER BY p.revision", binds)
        let changes = rows.filter { (try? $0.int("revision")) != nil }
        if try changes.prefix(limit).allSatisfy({ try $0.text("conflict_id") == nil }) {
            return try Self.pullResponse(changes, identity: Self.identity(rows[0]), since: since, limit: limit, horizon: horizon, conflicts: [:])
        }
        return try await connections.transaction(on: session, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { session in
            let changes = try await session.query(page, binds)
            let identity = try await Self.identity(session)
            var conflicts: [String: ConflictState] = [:]
            for row in changes.prefix(limit) {
                if let id = try row.text("conflict_id"), conflicts[id] == nil { conflicts[id] = try await ConflictQueries.state(id, in: session) }
            }
            return try Self.pullResponse(changes, identity: identity, since: since, limit: limit, horizon: horizon, conflicts: conflicts)
        }
    }

    /// A pull's answer from its page's rows (up to `limit + 1`: one more
    /// says there is more) and what was read with them.
    private static func pullResponse(
        _ rows: [PostgresRandomAccessRow], identity: ServerIdentity, since: Int64, limit: Int, horizon: Int64, conflicts: [String: ConflictState]
    ) throws -> PullResponse {
        var changes: [PulledChange] = []
        changes.reserveCapacity(min(rows.count, limit))
        for row in rows.prefix(limit) {
            changes.append(PulledChange(
                revision: try row.int("revision")!, record: try row.text("record_id")!, path: try row.text("path")!,
                value: try row.text("value"), author: try row.text("author")!, device: try row.text("device_id")!,
                hlc: try row.text("hlc")!, at: try row.text("at")!, conflict: try row.text("conflict_id").flatMap { conflicts[$0] }))
        }
        let more = rows.count > limit
        // With nothing more to read, the cursor moves to the end of what
        // this role may see, but never past a revision still in flight.
        let cursor = more || !changes.isEmpty ? (changes.last?.revision ?? since) : max(since, min(identity.end, horizon - 1))
        return PullResponse(changes: changes, cursor: cursor, more: more, epoch: identity.epoch, end: identity.end, formVersion: identity.formVersion, formDigest: identity.formDigest)
    }
}

/// The engine's view of one PostgreSQL write transaction: the shared
/// statements (`SQLTransaction`), with each referral locked the first time
/// the transaction touches it (the front door's writes touch one), or all of
/// a push batch's at once (`lock(records:)`), revisions from the sequence,
/// and its audit entry left waiting for the sequencer (`audit(_:)`).
struct PostgresTransaction: SQLTransaction {
    let session: PostgresSession
    private let state: State
    var sql: any SQLSession { session }

    /// - Parameter state: what the transaction has done so far; the caller
    ///   reads it once the transaction has ended.
    init(session: PostgresSession, state: State = State()) {
        self.session = session
        self.state = state
    }

    /// The referrals this transaction has locked, and whether it left an
    /// audit entry waiting (its caller then wakes the `AuditSequencer`).
    final class State: @unchecked Sendable {
        fileprivate(set) var keys = Set<Int32>()
        fileprivate(set) var audited = false
    }

    func lock(_ record: String) async throws { try await lock(records: [record]) }

    /// The advisory lock key of a referral: the last 32 bits of its id (a
    /// UUID v7's random bits). Two referrals may share a key: their writers
    /// then take turns, which costs time, never correctness.
    /// Any other id (a mistyped one in a URL) gets a stable FNV-1a hash, the
    /// same on every instance.
    static func lockKey(_ record: String) -> Int32 {
        let hex = record.replacingOccurrences(of: "-", with: "").suffix(8)
        if hex.count == 8, let bits = UInt32(hex, radix: 16) { return Int32(bitPattern: bits) }
        var hash: UInt32 = 2_166_136_261
        for byte in record.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(bitPattern: hash)
    }

    /// Locks `records` until the transaction ends, in key order, in one statement.
    func lock(records: [String]) async throws {
        let keys = Set(records.map(Self.lockKey)).subtracting(state.keys).sorted()
        guard !keys.isEmpty else { return }
        try await session.query(
            "SELECT count(pg_advisory_xact_lock(1, k)) AS locked FROM unnest(CAST($1 AS INT4[])) AS k",
            .text("{" + keys.map(String.init).joined(separator: ",") + "}"))
        state.keys.formUnion(keys)
    }

    /// `count` new revisions, ascending, marked as in flight until the transaction ends.
    func allocateRevisions(_ count: Int) async throws -> [Int64] {
        guard count > 0 else { return [] }
        return try await session.query("SELECT allocate_revisions($1) AS revision", .int(Int64(count))).map { try $0.int("revision")! }.sorted()
    }

    /// The entry's revision comes from the sequence, marked as in flight.
    func append(_ entry: LogEntry) async throws -> Int64 {
        try await lock(entry.record)
        let revision = try await allocateRevisions(1)[0]
        try await session.query("""
            INSERT INTO change_log (revision, kind, record_id, path, value, author, device_id, seq, hlc, at, conflict_id, sent_hlc)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """, .int(revision), .text(entry.kind.rawValue), .text(entry.record), .text(entry.path), .text(entry.value), .text(entry.author),
            .text(entry.device), .int(entry.seq), .text(entry.hlc), .text(entry.at), .text(entry.conflict), .text(entry.sentHLC))
        return revision
    }

    /// Leaves the entry waiting in `audit_pending`: it commits with the
    /// change it records, and takes no turn, so this writer's commit waits
    /// for no other's. The instance's `AuditSequencer` chains it after the
    /// commit (the migration `v7-audit-chain`); `audit show` and `audit
    /// verify` chain what is waiting before they read.
    func audit(_ event: AuditEvent) async throws {
        try await session.query(
            "INSERT INTO audit_pending (at, actor, action, record_id, detail) VALUES ($1, $2, $3, $4, $5)",
            .text(event.at), .text(event.actor), .text(event.action), .text(event.record), .text(event.detail))
        state.audited = true
    }

    /// Appends to the chain itself, in this transaction, in one round trip
    /// (`audit_append`, as the migration `v7-audit-append-after-waiting`
    /// left it): the entry is stored, then everything waiting is chained by
    /// `audit_chain`, this entry after what was there. For `migrate-store`,
    /// which verifies the chain with its entry before it commits; the
    /// chain's turn is held until then.
    func appendChained(_ event: AuditEvent) async throws {
        try await session.query(
            "SELECT audit_append($1, $2, $3, $4, $5) AS id",
            .text(event.at), .text(event.actor), .text(event.action), .text(event.record), .text(event.detail))
    }

    /// Takes the audit chain's turn until the transaction ends: the
    /// sequencer cannot chain meanwhile, and writers that must not run side
    /// by side (`addUser`, `publishForm`) take turns here.
    func takeAuditTurn() async throws {
        try await session.execute(Self.auditTurn)
    }

    /// The audit chain's lock, held until the transaction ends: whatever
    /// chains entries (`audit_chain`, `audit_append`, `migrate-store`, which
    /// fills the chain) takes it.
    static let auditTurn = "SELECT pg_advisory_xact_lock(2, 2)"
}
