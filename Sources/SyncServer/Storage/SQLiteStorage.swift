import Foundation
import GRDB
import SyncCore

/// The embedded default: one SQLite file in WAL mode. Every push is one
/// transaction committed with `synchronous = FULL` before the reply, so an
/// acknowledged change survives a crash straight after.
///
/// SQLite has one writer at a time, so revisions are assigned in commit order
/// and a pull never sees a later revision before an earlier one.
final class SQLiteStorage: SQLStore {
    let pool: DatabasePool

    init(path: String) throws {
        try Self.prepareFolderAndFile(path)
        try Self.narrowModes(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        try Self.narrowModes(path)  // the WAL and shared-memory files exist now
    }

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
        return migrator
    }

    func reading<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.read { db in try body(SQLiteSession(db: db)) }
    }

    func connected<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try reading(body)
    }

    func writing<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try pool.write { db in try body(SQLiteTransaction(db: db)) }
    }

    /// SQLite's single writer is the lock: the batch's revisions follow the
    /// log's last one and commit in order.
    func push(_ needs: PushNeeds, decide: (PushSnapshot, any SyncTransaction) throws -> WritePlan) throws -> PlannedRevisions {
        try pool.write { db in
            let session = SQLiteSession(db: db)
            let snapshot = try PushStatements.load(needs, in: session)
            let plan = try decide(snapshot, SQLiteTransaction(db: db))
            let last = try Int64.fetchOne(db, sql: "SELECT coalesce(max(revision), 0) FROM change_log") ?? 0
            let revisions = PlannedRevisions(allocated: (0..<Int64(plan.log.count)).map { last + 1 + $0 })
            try PushStatements.write(revisions.resolve(plan), revisions: revisions.allocated, in: session)
            if let audit = plan.audit { try AuditTrail.append(audit, db: db) }
            return revisions
        }
    }

    func pull(since: Int64, limit: Int, for user: User) throws -> PullResponse {
        try pool.read { db in
            // What each role may see: a practitioner their own referrals,
            // intake submitted referrals only (never drafts), an admin all.
            let visibility: String
            switch user.role {
            case .practitioner: visibility = "r.owner_id = \(user.id)"
            case .intake: visibility = "r.status = 'submitted'"
            case .admin: visibility = "1"
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT l.revision, l.record_id, l.path, l.value, l.author, l.device_id, l.hlc, l.at, l.conflict_id
                FROM change_log l JOIN records r ON r.id = l.record_id
                WHERE l.revision > ? AND l.kind IN ('write', 'conflict') AND \(visibility)
                ORDER BY l.revision LIMIT ?
                """, arguments: [since, limit + 1])
            let page = rows.prefix(limit)
            var conflicts: [String: ConflictState] = [:]
            let transaction = SQLiteTransaction(db: db)
            var changes: [PulledChange] = []
            changes.reserveCapacity(page.count)
            for row in page {
                let conflictID: String? = row["conflict_id"]
                var conflict: ConflictState?
                if let conflictID {
                    if conflicts[conflictID] == nil { conflicts[conflictID] = try transaction.conflict(conflictID) }
                    conflict = conflicts[conflictID]
                }
                changes.append(PulledChange(
                    revision: row["revision"], record: row["record_id"], path: row["path"], value: row["value"],
                    author: row["author"], device: row["device_id"], hlc: row["hlc"], at: row["at"], conflict: conflict))
            }
            let more = rows.count > limit
            // With nothing visible left, jump to the end of the log so the
            // next pull does not scan invisible entries again.
            let identity = try Self.identity(SQLiteSession(db: db))
            let cursor = more || !changes.isEmpty ? (changes.last?.revision ?? since) : max(since, identity.end)
            return PullResponse(changes: changes, cursor: cursor, more: more, epoch: identity.epoch, end: identity.end)
        }
    }
}

enum StorageError: Error, CustomStringConvertible {
    case duplicateUser(String)
    /// Text PostgreSQL cannot store (U+0000); it names nothing stored, so the request is refused.
    case unstorableText
    /// A database file others can read, which the server cannot make `0600`.
    case notPrivate(String)
    /// A backup that was not made: the file, and why.
    case backupRefused(String, String)

    var description: String {
        switch self {
        case .duplicateUser(let name): "A user named '\(name)' already exists."
        case .unstorableText: "The request holds a NUL character, which no id, name or value may contain."
        case .notPrivate(let file): "The database file '\(file)' holds referral content and cannot be made private (0600); run the server as the file's owner or fix its mode."
        case .backupRefused(let file, let why): "No backup was written to '\(file)': \(why)."
        }
    }
}

/// The engine's view of one GRDB write transaction: the shared statements
/// (`SQLTransaction`); SQLite's single writer is the lock, and a log entry
/// takes the next row id as its revision.
struct SQLiteTransaction: SQLTransaction {
    let db: Database
    var sql: any SQLSession { SQLiteSession(db: db) }

    func lock(_ record: String) throws {}

    func takeAuditTurn() throws {}

    func append(_ entry: LogEntry) throws -> Int64 {
        try db.cachedStatement(sql: """
            INSERT INTO change_log (kind, record_id, path, value, author, device_id, seq, hlc, at, conflict_id, sent_hlc)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [entry.kind.rawValue, entry.record, entry.path, entry.value, entry.author, entry.device, entry.seq, entry.hlc, entry.at, entry.conflict, entry.sentHLC])
        return db.lastInsertedRowID
    }

    func audit(_ event: AuditEvent) throws {
        try AuditTrail.append(event, db: db)
    }
}
