import Foundation
import GRDB
import SyncCore

/// The embedded default: one SQLite file in WAL mode. Every push is one
/// savepoint, committed with `synchronous = FULL` (alone, or with the writes
/// queued behind it: group commit, `writing`) before the reply, so an
/// acknowledged change survives a crash or a power cut straight after.
///
/// SQLite has one writer at a time, so revisions are assigned in commit order
/// and a pull never sees a later revision before an earlier one.
///
/// A read is GRDB's async access: it runs on a reader connection's queue
/// while the caller's task waits without a thread. A write transaction
/// spans several statements, so it takes the writer's turn (`WriterTurn`,
/// in this process) and holds the pool's writer connection from `BEGIN
/// IMMEDIATE` to `COMMIT` (GRDB's `allowsUnsafeTransactions`: the
/// transaction is ours, not GRDB's), on the writer's own thread
/// (`WriterThread`), where its statements are synchronous calls.
final class SQLiteStorage: SQLStore {
    let pool: DatabasePool
    private let turn = WriterTurn()
    private let writer = WriterThread()
    /// The writes sharing the open transaction (group commit, `writing`).
    private let group = CommitGroup()

    init(path: String) throws {
        try Self.prepareFolderAndFile(path)
        try Self.narrowModes(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // Write transactions span several async accesses (`writing`).
        configuration.allowsUnsafeTransactions = true
        configuration.prepareDatabase { db in
            // Reads map the file instead of copying each page with pread: in
            // WAL mode a connection's page cache is dropped whenever another
            // commits, so under load most pages were read again that way (6 %
            // of a loaded server's time in pread, measured with perf). Writes
            // still go through write() and fsync, unchanged.
            try db.execute(sql: "PRAGMA mmap_size = \(Self.mappedBytes)")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB sets up WAL mode after `prepareDatabase`, and with it
        // `synchronous = NORMAL` on the writer: a commit then reaches the
        // WAL file but not the disk, and an acknowledged push could be lost
        // to a power cut. The writer, the only connection that commits, is
        // set back to FULL here (`SQLiteDurabilityTests`).
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
        try Self.narrowModes(path)  // the WAL and shared-memory files exist now
    }

    /// How much of the database file reads may map, in bytes (256 MiB;
    /// beyond it, pages are read with pread as before).
    static let mappedBytes = 256 << 20

    /// The files SQLite keeps next to the database: write-ahead log, shared memory, rollback journal.
    static let companionSuffixes = ["-wal", "-shm", "-journal"]

    /// The database holds referral content: its folder, when the server makes
    /// it, is `0700`, and a new database file is made empty and `0600` before
    /// SQLite opens it (SQLite gives its WAL and shared-memory files the
    /// database's mode), so that it is never readable by others, not even
    /// for a moment.
    /// - warning: Call before SQLite opens the file: closing a descriptor of
    ///   an open database would drop SQLite's locks on it.
    static func prepareFolderAndFile(_ path: String) throws {
        let files = FileManager.default
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !files.fileExists(atPath: folder) {
            try files.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
        }
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if descriptor >= 0 { close(descriptor) }  // EEXIST: an existing database; otherwise SQLite says why it cannot open it
    }

    /// Narrows the database and its companions, as they exist, to `0600`
    /// (an existing database from before, or copied in, may be `0644`).
    static func narrowModes(_ path: String) throws {
        for file in [path] + companionSuffixes.map({ path + $0 }) where FileManager.default.fileExists(atPath: file) {
            do {
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
            } catch {
                throw StorageError.notPrivate(file)
            }
        }
    }

    /// Copies the live database to a new file, `0600`, with SQLite's online
    /// backup (consistent while the server runs). Refuses to overwrite.
    func backup(to destination: String) throws {
        let descriptor = open(destination, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StorageError.backupRefused(destination, errno == EEXIST ? "it already exists; give a new name" : String(cString: strerror(errno)))
        }
        close(descriptor)
        let copy = try DatabaseQueue(path: destination)
        try pool.backup(to: copy)
        try copy.close()
        for file in [destination] + Self.companionSuffixes.map({ destination + $0 }) where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES users(id),
                    registered_at TEXT NOT NULL
                );
                CREATE TABLE records (
                    id TEXT PRIMARY KEY,
                    owner_id INTEGER NOT NULL REFERENCES users(id),
                    status TEXT NOT NULL DEFAULT 'draft',
                    created_at TEXT NOT NULL
                );
                CREATE TABLE fields (
                    record_id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    value TEXT,
                    revision INTEGER NOT NULL,
                    hlc TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    author TEXT NOT NULL,
                    at TEXT NOT NULL,
                    conflict_id TEXT,
                    PRIMARY KEY (record_id, path)
                ) WITHOUT ROWID;
                -- The change log: its rowid is the global revision.
                CREATE TABLE change_log (
                    revision INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    value TEXT,
                    author TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    seq INTEGER,
                    hlc TEXT NOT NULL,
                    at TEXT NOT NULL,
                    conflict_id TEXT
                );
                CREATE INDEX change_log_by_field ON change_log(record_id, path, revision);
                CREATE TABLE applied (
                    device_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    revision INTEGER,
                    conflict_id TEXT,
                    receipt TEXT,
                    PRIMARY KEY (device_id, seq)
                ) WITHOUT ROWID;
                CREATE TABLE conflicts (
                    id TEXT PRIMARY KEY,
                    record_id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    status TEXT NOT NULL,
                    opened_at TEXT NOT NULL
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
                ) WITHOUT ROWID;
                CREATE TABLE receipts (
                    reference TEXT PRIMARY KEY,
                    device_id TEXT NOT NULL,
                    user_id INTEGER NOT NULL,
                    at TEXT NOT NULL,
                    records TEXT NOT NULL,
                    changes INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-resolution") { db in
            // An admin's decision stays with the conflict: who, when, why, what.
            try db.execute(sql: """
                ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
                ALTER TABLE conflicts ADD COLUMN resolved_at TEXT;
                ALTER TABLE conflicts ADD COLUMN resolution TEXT;
                ALTER TABLE conflicts ADD COLUMN reason TEXT;
                ALTER TABLE conflicts ADD COLUMN resolution_revision INTEGER;
                CREATE INDEX records_by_status ON records(status);
                """)
        }
        migrator.registerMigration("v3-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    record_id TEXT,
                    detail TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4-fingerprint") { db in
            try db.execute(sql: "ALTER TABLE applied ADD COLUMN fingerprint TEXT")
        }
        migrator.registerMigration("v5-revocation") { db in
            try db.execute(sql: """
                ALTER TABLE devices ADD COLUMN revoked_at TEXT;
                ALTER TABLE devices ADD COLUMN revoked_by TEXT;
                ALTER TABLE devices ADD COLUMN wiped_at TEXT;
                """)
        }
        migrator.registerMigration("v6-device-token") { db in
            // Each device signs in with its own token (SHA-256 kept), issued at
            // registration: revoking the device ends it.
            try db.execute(sql: """
                ALTER TABLE devices ADD COLUMN token_hash TEXT;
                CREATE UNIQUE INDEX devices_by_token ON devices(token_hash) WHERE token_hash IS NOT NULL;
                """)
        }
        migrator.registerMigration("v7-recovery") { db in
            // The log's identity: a new epoch when the store is created or
            // restored, so devices notice a server that went back in time.
            // A device's own stamp, when the server bounded it to its time.
            try db.execute(sql: """
                CREATE TABLE server_identity (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    epoch TEXT NOT NULL,
                    since TEXT NOT NULL
                );
                INSERT INTO server_identity (id, epoch, since) VALUES (1, lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
                ALTER TABLE change_log ADD COLUMN sent_hlc TEXT;
                """)
        }
        migrator.registerMigration("v8-last-sync") { db in
            // When each device last pushed or pulled, for `sync-server device list`.
            try db.execute(sql: "ALTER TABLE devices ADD COLUMN last_sync_at TEXT")
        }
        for migration in SharedSchema.migrations {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        if let probe = TestHooks.migrationProbe {
            migrator.registerMigration(probe.name) { db in
                try db.execute(sql: probe.sql)
                TestHooks.stopInsideMigration(probe.name)
            }
        }
        return migrator
    }

    /// Each statement in its own snapshot on a reader connection: the shared
    /// reads that hold several statements are written not to need one
    /// snapshot (`SQLStore.conflicts`); the pull, which does, is one access.
    func reading<T>(_ body: (any SQLSession) async throws -> T) async throws -> T {
        try await body(SQLiteSession(pool: pool, writer: nil))
    }

    func connected<T>(_ body: (any SQLSession) async throws -> T) async throws -> T {
        try await reading(body)
    }

    /// SQLite's one writer commits revisions in order: nothing is in flight below a visible one.
    func visibilityHorizon() async throws -> Int64? { nil }

    /// One write, in its own savepoint of a transaction it may share with the
    /// writes queued behind it (group commit): the writer's turn, `BEGIN
    /// IMMEDIATE` unless the group's transaction is open (which also waits,
    /// up to the busy timeout, for a writer in another process, such as an
    /// operator's `sync-server user add`), `SAVEPOINT`, `body`'s statements,
    /// `RELEASE`. Then, while other writes wait for the turn (and the group
    /// holds fewer than `CommitGroup.largest`), this one hands the turn on
    /// and waits; the last of the group `COMMIT`s with `synchronous = FULL`
    /// (one fsync for all of them) and every write of the group returns
    /// after that commit, never before, so nothing is answered that a crash
    /// could still take back.
    ///
    /// If anything in `body` throws (an async read of a cancelled task
    /// included), its savepoint is rolled back and only that write fails;
    /// should SQLite have rolled back the whole transaction (a full disk, an
    /// I/O error), every write of the group fails with it and none was
    /// answered. A cancellation alone does not stop the synchronous
    /// statements, so the write then commits and the device's retry is
    /// answered from what it stored.
    func writing<T>(_ body: (any SQLTransaction) async throws -> T) async throws -> T {
        // The transaction runs on the writer's own thread, and its statements
        // are plain calls on the writer connection there (`SQLiteSession`):
        // no hop to GRDB's queue and back to the shared pool between them,
        // where each hop waited behind every other request's work while the
        // one writer's turn was held (docs/performance.md). The turn is taken
        // and given there too, so the next writer resumes on that thread.
        try await withTaskExecutorPreference(writer) {
            await turn.take()
            var handedOn = false
            defer { if !handedOn { turn.give() } }
            if !group.open {
                try writer.execute(pool, "BEGIN IMMEDIATE", rollingBackFirst: true)
                group.open = true
            }
            let result: T
            do {
                try writer.execute(pool, "SAVEPOINT write")
                result = try await body(SQLiteTransaction(pool: pool, writer: writer))
                try writer.execute(pool, "RELEASE write")
            } catch {
                if (try? writer.isInsideTransaction(pool)) == true {
                    try? writer.execute(pool, "ROLLBACK TO write")
                    try? writer.execute(pool, "RELEASE write")
                    if !turn.hasWaiters { try? commitGroup() }
                } else {
                    // SQLite rolled the whole transaction back: the group's writes go with it.
                    group.finish(.failure(error))
                }
                throw error
            }
            if turn.hasWaiters, group.pending.count + 1 < CommitGroup.largest {
                handedOn = true
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    group.pending.append(continuation)
                    turn.give()
                }
                return result
            }
            try commitGroup()
            return result
        }
    }

    /// Commits the group's transaction and answers the writes waiting on it
    /// (with the commit's error if it failed, after rolling back). Called by
    /// the turn's holder.
    private func commitGroup() throws {
        do {
            try writer.execute(pool, "COMMIT")
            group.finish(.success(()))
        } catch {
            try? writer.execute(pool, "ROLLBACK", onlyInsideTransaction: true)
            group.finish(.failure(error))
            throw error
        }
    }

    /// SQLite's single writer is the lock: the batch's revisions follow the
    /// log's last one and commit in order.
    func push(_ needs: PushNeeds, seal: ReceiptSeal?, decide: (PushSnapshot) throws -> WritePlan) async throws -> PushCommit {
        try await writing { transaction in
            let plan = try await PushStatements.decide(needs, in: transaction.sql, decide)
            let last = try await transaction.sql.rows("SELECT coalesce(max(revision), 0) AS last FROM change_log", [])[0].int("last") ?? 0
            let revisions = PlannedRevisions(allocated: (0..<Int64(plan.log.count)).map { last + 1 + $0 })
            try await PushStatements.write(revisions.resolve(plan), revisions: revisions.allocated, in: transaction.sql)
            // Tests only (SYNC_TEST_HOLD_PUSH_FIFO): the convergence property kills the server here.
            await TestHooks.holdPushBeforeCommit()
            // The push's entry is the chain's head at its commit: its receipt names it.
            var head: AuditHead?
            if let audit = plan.audit { head = try await transaction.auditReturningHead(audit) }
            var receipt: SignedReceipt?
            if let document = plan.receiptDocument {
                receipt = try await ReceiptStatements.seal(document, head: head, with: seal, in: transaction.sql)
            }
            return PushCommit(revisions: revisions, receipt: receipt)
        }
    }

    /// Whether a practitioner's pull reads their referrals' entries first
    /// (all of them, then sorted) rather than the log's tail from `since`
    /// (in order, until a page of theirs): the former when its estimate is
    /// under half the latter's. Their entries are estimated as their share
    /// of the referrals times the log's length; the tail scan reads at most
    /// `end - since` entries and, their entries spread evenly, about a page
    /// over their share. Two index look-ups, and only when the pull is more
    /// than two pages behind the end.
    static func readsOwnerFirst(_ db: Database, owner: Int64, since: Int64, end: Int64, limit: Int) throws -> Bool {
        let behind = end - since
        guard behind > 2 * Int64(limit) else { return false }
        let referrals = max(1, try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM records") ?? 1)
        let theirs = try Int64.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM records WHERE owner_id = ?"), arguments: [owner]) ?? 0
        guard theirs > 0 else { return true }
        let theirEntries = theirs * end / referrals
        let tail = min(behind, Int64(limit) * referrals / theirs)
        return 2 * theirEntries < tail
    }

    /// One access, so one snapshot: the page, its conflicts and the log's end agree.
    func pull(since: Int64, limit: Int, for user: User, presenting head: AuditHead?) async throws -> PullResponse {
        try await pool.read { db in
            // What each role may see: a practitioner their own referrals,
            // intake submitted referrals only (never drafts), an admin all.
            let identity = try Self.identity(try Row.fetchOne(db, sql: Self.identityQuery)!)
            let visible: (records: String, entries: String)
            switch user.role {
            case .practitioner: visible = ("r.owner_id = ?", "l.path NOT IN (\(ServerQueries.internalPaths))")
            case .intake: visible = ("r.status = 'submitted'", "1")
            case .admin: visible = ("1", "1")
            }
            // A practitioner's entries may be few and far between in the
            // log: a long way behind its end (a new device's first pull),
            // reading their referrals' entries and sorting them can be far
            // less than scanning the log's tail for them (`ownerFirst`).
            let ownerFirst = try user.role == .practitioner && Self.readsOwnerFirst(db, owner: user.id, since: since, end: identity.end, limit: limit)
            // `CROSS JOIN` fixes SQLite's join order either way (with
            // `records_by_owner` it would otherwise read the referrals first
            // even where the tail is the shorter read).
            let join = ownerFirst
                ? "records r CROSS JOIN change_log l ON l.record_id = r.id"
                : "change_log l CROSS JOIN records r ON r.id = l.record_id"
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT l.revision, l.record_id, l.path, l.value, l.author, l.device_id, l.hlc, l.at, l.conflict_id
                FROM \(join)
                WHERE l.revision > ? AND l.kind IN ('write', 'conflict') AND \(visible.records) AND \(visible.entries)
                ORDER BY l.revision LIMIT ?
                """), arguments: StatementArguments([since] + (user.role == .practitioner ? [user.id] : []) + [Int64(limit + 1)]))
            let page = rows.prefix(limit)
            var conflicts: [String: ConflictState] = [:]
            func fetch(_ sql: String, _ id: String) throws -> [Row] {
                try Row.fetchAll(db.cachedStatement(sql: SQLDialect.sqlite.statement(sql)), arguments: [id])
            }
            var changes: [PulledChange] = []
            changes.reserveCapacity(page.count)
            for row in page {
                let conflictID: String? = row["conflict_id"]
                var conflict: ConflictState?
                if let conflictID {
                    if conflicts[conflictID] == nil, let row = try fetch(ConflictQueries.conflict, conflictID).first {
                        conflicts[conflictID] = try ConflictQueries.state(conflictID, row, candidates: try fetch(ConflictQueries.candidates, conflictID))
                    }
                    conflict = conflicts[conflictID]
                }
                changes.append(PulledChange(
                    revision: row["revision"], record: row["record_id"], path: row["path"], value: row["value"],
                    author: row["author"], device: row["device_id"], hlc: row["hlc"], at: row["at"], conflict: conflict))
            }
            let more = rows.count > limit
            // With nothing visible left, jump to the end of the log so the
            // next pull does not scan invisible entries again.
            let cursor = more || !changes.isEmpty ? (changes.last?.revision ?? since) : max(since, identity.end)
            var response = PullResponse(changes: changes, cursor: cursor, more: more, epoch: identity.epoch, end: identity.end, formVersion: identity.formVersion, formDigest: identity.formDigest)
            if let head {
                let row = try Row.fetchOne(db.cachedStatement(sql: SQLDialect.sqlite.statement(ReceiptStatements.headCheck)), arguments: [head.position])
                response.auditCheck = ReceiptStatements.check(head, length: row?["length"] ?? 0, hash: row?["hash"])
            }
            return response
        }
    }
}

/// The engine's view of one SQLite write transaction (`SQLiteStorage.writing`):
/// the shared statements (`SQLTransaction`) on the writer connection.
/// SQLite's single writer is the lock, and a log entry takes the next row
/// id as its revision.
struct SQLiteTransaction: SQLTransaction {
    let pool: DatabasePool
    let writer: WriterThread
    var sql: any SQLSession { SQLiteSession(pool: pool, writer: writer) }

    func lock(_ record: String) async throws {}

    func takeAuditTurn() async throws {}

    func append(_ entry: LogEntry) async throws -> Int64 {
        try await sql.rows("""
            INSERT INTO change_log (kind, record_id, path, value, author, device_id, seq, hlc, at, conflict_id, sent_hlc)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING revision
            """, [.text(entry.kind.rawValue), .text(entry.record), .text(entry.path), .text(entry.value), .text(entry.author), .text(entry.device),
                  .int(entry.seq), .text(entry.hlc), .text(entry.at), .text(entry.conflict), .text(entry.sentHLC)])[0].int("revision")!
    }
}

/// Where a SQLite write transaction runs: a serial queue of its own, as a
/// task executor (`withTaskExecutorPreference`), on which the transaction's
/// statements are synchronous calls on GRDB's writer connection. Only the
/// transaction holding the writer's turn runs here, so a statement that
/// blocks this thread (a `COMMIT`'s fsync) blocks no one else.
final class WriterThread: TaskExecutor, @unchecked Sendable {
    private let queue = DispatchQueue(label: "sync-server.sqlite-writer")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    /// `body` on the writer connection, synchronously, on this executor's
    /// thread (checked: anywhere else it would block a shared thread through
    /// a commit's fsync or the busy timeout).
    func write<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        dispatchPrecondition(condition: .onQueue(queue))
        return try pool.writeWithoutTransaction(body)
    }

    /// Whether the writer connection is inside a transaction.
    func isInsideTransaction(_ pool: DatabasePool) throws -> Bool {
        try write(pool) { $0.isInsideTransaction }
    }

    /// Runs a transaction-control statement on the writer connection.
    /// `rollingBackFirst`: a transaction a failed rollback left open is rolled
    /// back first; `onlyInsideTransaction`: nothing is run outside one.
    func execute(_ pool: DatabasePool, _ sql: String, rollingBackFirst: Bool = false, onlyInsideTransaction: Bool = false) throws {
        try write(pool) { db in
            if rollingBackFirst, db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
            if onlyInsideTransaction, !db.isInsideTransaction { return }
            try db.execute(sql: sql)
        }
    }
}

/// Writers in this process take turns (SQLite has one writer): a
/// transaction that spans several async accesses holds the turn from its
/// `BEGIN` to its `COMMIT`, and the next waits without a thread, in arrival order.
final class WriterTurn: @unchecked Sendable {
    private let lock = NSLock()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func take() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if busy {
                waiting.append(continuation)
                lock.unlock()
            } else {
                busy = true
                lock.unlock()
                continuation.resume()
            }
        }
    }

    /// Whether writers are waiting for the turn (read by its holder, to
    /// leave the group's transaction open for them).
    var hasWaiters: Bool {
        lock.lock()
        defer { lock.unlock() }
        return !waiting.isEmpty
    }

    func give() {
        lock.lock()
        guard !waiting.isEmpty else {
            busy = false
            lock.unlock()
            return
        }
        let next = waiting.removeFirst()
        lock.unlock()
        next.resume()
    }
}

/// The writes that share one SQLite transaction and one commit (group
/// commit: `SQLiteStorage.writing`). Only the writer turn's holder touches
/// it, so it needs no lock of its own.
final class CommitGroup: @unchecked Sendable {
    /// The most writes one commit answers: a bound on how long the first of
    /// them waits for the group (each write is a millisecond or two of work).
    static let largest = 64
    /// Whether the group's transaction is open on the writer connection.
    var open = false
    /// Writes whose savepoints were released into the open transaction,
    /// each waiting for its commit.
    var pending: [CheckedContinuation<Void, any Error>] = []

    /// Ends the group: its transaction is no longer open, and every write
    /// waiting on it returns `result` (the commit, or why there was none).
    func finish(_ result: Result<Void, any Error>) {
        let waiting = pending
        pending = []
        open = false
        for continuation in waiting { continuation.resume(with: result) }
    }
}
