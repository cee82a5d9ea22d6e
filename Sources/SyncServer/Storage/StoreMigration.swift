import Crypto
import Foundation
import GRDB
import SyncCore

/// Copies a SQLite store into an empty PostgreSQL store (`sync-server migrate-store`).
///
/// Shape of the copy:
/// - the source is read in one deferred SQLite transaction, a consistent
///   snapshot even if a server is still writing to it (whatever it writes
///   later is not copied), held open across GRDB accesses while the
///   PostgreSQL side runs its async statements; tables are read in pages in
///   primary-key order;
/// - the target is written in one PostgreSQL transaction that first takes
///   the audit chain's lock and the `writer` row (users added and entries
///   chained on the target meanwhile wait), refuses a target that holds data, copies
///   table by table in batched `INSERT`s (each batch's rows one JSON
///   parameter, cast to the columns' types), moves the revision counter and
///   serial sequences past what was copied, verifies, appends one audit
///   entry, and only then commits;
/// - tables and columns are matched by name: a table or column only one
///   backend has is left out and named in `Report.notes`; integer columns
///   are sent as JSON numbers, everything else as JSON strings, each cast to
///   the PostgreSQL column's type.
///
/// Throws `OperatorError` (one sentence) for every refusal and for a copy
/// that does not verify; the PostgreSQL transaction is then rolled back.
struct StoreMigration {
    /// The tables in an order that satisfies the foreign keys; tables both
    /// stores have beyond these (added later) are copied after them.
    static let orderedTables = [
        "users", "devices", "records", "fields", "change_log", "applied", "conflicts", "conflict_candidates", "receipts", "audit",
        "server_identity",
    ]
    /// Each store's own bookkeeping, never copied.
    static let bookkeeping: Set<String> = ["writer", "schema_migrations", "grdb_migrations"]
    /// Tables a new PostgreSQL store already fills (its migrations insert the
    /// row; a server started on it records its receipt key): their rows are
    /// replaced by the source's. A server's own receipt key is recorded
    /// again at its next start.
    static let seeded: Set<String> = ["server_identity", "receipt_keys"]
    /// Named first when a target is refused.
    static let named = ["users", "records", "change_log", "audit"]

    let source: DatabaseQueue
    let sourcePath: String
    let target: PostgresStorage
    /// The target's address without its password, for messages.
    let targetName: String

    /// What was copied and checked.
    struct Report {
        var counts: [(table: String, count: Int)]
        /// SHA-256 (hex) of the change log, the same on both sides.
        var checksum: String
        var auditEntries: Int
        var end: Int64
        var epoch: String?
        /// Whether the epoch is the SQLite store's (false for a store from before epochs).
        var keptEpoch: Bool
        /// Tables or columns left out, one sentence each.
        var notes: [String]
    }

    /// One column the copy writes: its name and how it is bound.
    struct Column {
        var name: String
        /// PostgreSQL's type name (`information_schema.columns.data_type`), used as the cast.
        var type: String
        var isInteger: Bool { ["bigint", "integer", "smallint"].contains(type) }
        /// Bytes (an attachment's chunk): sent as hex, which JSON can hold.
        var isBytes: Bool { type == "bytea" }
        var quoted: String { StoreMigration.quote(name) }
    }

    /// Opens `path` read-only, never creating it, and checks that it is a
    /// sync-server store (it has `users` and `change_log`).
    static func openSource(_ path: String) throws -> DatabaseQueue {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw OperatorError("There is no SQLite database '\(path)'; give the server's database file with --from.")
        }
        guard !isFolder.boolValue else { throw OperatorError("'\(path)' is a folder, not the server's SQLite database file.") }
        var configuration = Configuration()
        configuration.readonly = true
        // The snapshot is one transaction held across several accesses (`run`).
        configuration.allowsUnsafeTransactions = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            let tables = try queue.read { db in try Set(String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")) }
            guard tables.isSuperset(of: ["users", "change_log"]) else {
                throw OperatorError("'\(path)' is a SQLite database but not a sync-server store (it has no users or change log).")
            }
            return queue
        } catch let error as OperatorError {
            throw error
        } catch {
            throw OperatorError("'\(path)' is not a SQLite database sync-server can read: \(error).")
        }
    }

    /// Copies, verifies and commits; `at` stamps the audit entry.
    func run(at: String) async throws -> Report {
        // The snapshot starts with the first read and lasts until the rollback.
        try source.inDatabase { db in
            try db.execute(sql: "BEGIN DEFERRED")
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
        }
        defer {
            try? source.inDatabase { db in if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") } }
        }
        return try await target.connections.transaction { session in try await copy(to: session, at: at) }
    }

    /// A read of the source, in the snapshot `run` opened.
    private func sqlite<T>(_ body: (Database) throws -> T) throws -> T {
        try source.inDatabase(body)
    }

    private func copy(to session: PostgresSession, at: String) async throws -> Report {
        // Tables and their columns on both sides.
        let sqliteTables = try sqlite { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .filter { !Self.bookkeeping.contains($0) } }
        let pgTables = Set(try await session.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).map { try $0.text("table_name")! }).subtracting(Self.bookkeeping)
        // Adding users and appending to the audit chain take this lock
        // (PostgresStorage): an operator or a server busy on the target early
        // waits for the copy, and a refused copy has raced nothing.
        try await session.execute(PostgresTransaction.auditTurn)
        // Older instances took turns on the writer row instead.
        if try await !session.query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'writer'").isEmpty {
            try await session.execute("SELECT revision FROM writer WHERE id = 1 FOR UPDATE")
        }
        let common = Self.orderedTables.filter { sqliteTables.contains($0) && pgTables.contains($0) }
            + sqliteTables.filter { pgTables.contains($0) && !Self.orderedTables.contains($0) }.sorted()
        var notes: [String] = []
        for table in sqliteTables where !pgTables.contains(table) {
            let rows = try sqlite { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.quote(table))") ?? 0 }
            notes.append("the table \(table) (\(rows) rows) exists only in SQLite and was not copied.")
        }
        var plans: [(table: String, columns: [Column])] = []
        for table in common {
            let sqliteColumns = try sqlite { db in try Row.fetchAll(db, sql: "PRAGMA table_info(\(Self.quote(table)))").map { $0["name"] as String } }
            let pgColumns = try await session.query("""
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position
                """, .text(table)).map { Column(name: try $0.text("column_name")!, type: try $0.text("data_type")!) }
            let columns = pgColumns.filter { sqliteColumns.contains($0.name) }
            for name in sqliteColumns where !pgColumns.contains(where: { $0.name == name }) {
                notes.append("the column \(table).\(name) exists only in SQLite and was not copied.")
            }
            for column in pgColumns where !sqliteColumns.contains(column.name) {
                notes.append("the column \(table).\(column.name) exists only in PostgreSQL and was given its default.")
            }
            plans.append((table, columns))
        }
        if !sqliteTables.contains("server_identity") {
            notes.append("the SQLite store is from before server epochs, so PostgreSQL's new epoch stands: each device reconciles once, as after a restore.")
        }
        // A chain already broken in SQLite is named as such, not blamed on the copy.
        if sqliteTables.contains("audit"), case .broken(_, let description) = try sqlite(AuditTrail.verify) {
            throw OperatorError("The audit trail of '\(sourcePath)' is already broken at \(description), so nothing was copied; `sync-server audit verify --db \(sourcePath)` shows it.")
        }

        // An empty target only: what a new server has after its migrations.
        var held: [(String, Int)] = []
        for (table, _) in plans where !Self.seeded.contains(table) {
            let count = try await session.query("SELECT count(*) AS n FROM \(Self.quote(table))")[0].int("n") ?? 0
            if count > 0 { held.append((table, Int(count))) }
        }
        guard held.isEmpty else {
            let ordered = held.filter { Self.named.contains($0.0) } + held.filter { !Self.named.contains($0.0) }
            throw OperatorError("The PostgreSQL database \(targetName) already holds a store (\(ordered.map { "\($0.1) \($0.0)" }.joined(separator: ", "))), so nothing was copied: give migrate-store an empty database.")
        }

        // Copy, table by table.
        var counts: [(table: String, count: Int)] = []
        for (table, columns) in plans {
            if Self.seeded.contains(table) { try await session.execute("DELETE FROM \(Self.quote(table))") }
            let copied = try await copyTable(table, columns: columns, to: session)
            counts.append((table, copied))
        }

        // Revisions and serial numbers carry on after what was copied.
        let end = try await session.query("SELECT coalesce(max(revision), 0) AS last FROM change_log")[0].int("last") ?? 0
        if try await !session.query("""
            SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'writer' AND column_name = 'revision'
            """).isEmpty
        {
            try await session.query("UPDATE writer SET revision = $1", .int(end))
        }
        var moved: Set<String> = []
        for (table, columns) in plans {
            for column in columns where column.isInteger {
                guard let sequence = try await session.query("SELECT pg_get_serial_sequence($1, $2) AS sequence", .text(Self.quote(table)), .text(column.name))[0].text("sequence")
                else { continue }
                try await session.query("SELECT setval($1::regclass, coalesce(max(\(column.quoted)), 0) + 1, false) FROM \(Self.quote(table))", .text(sequence))
                moved.insert(sequence)
            }
        }
        // A sequence that gives out revisions without being owned by a column.
        for sequence in try await session.query("""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS sequence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname LIKE '%revision%'
            """).map({ try $0.text("sequence")! }) where !moved.contains(sequence) {
            try await session.query("SELECT setval($1::regclass, $2, false)", .text(sequence), .int(end + 1))
        }

        // Verify before committing.
        var differences: [String] = []
        for (table, copied) in counts {
            let inSource = try sqlite { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.quote(table))") ?? 0 }
            let inTarget = Int(try await session.query("SELECT count(*) AS n FROM \(Self.quote(table))")[0].int("n") ?? 0)
            if inSource != inTarget || copied != inSource {
                differences.append("\(table) has \(inSource) rows in SQLite but \(inTarget) in PostgreSQL")
            }
        }
        var checksum = ""
        if let log = plans.first(where: { $0.table == "change_log" }) {
            let sourceSum = try sqlite { db in try Self.sourceChecksum(log.columns, db: db) }
            let targetSum = try await Self.targetChecksum(log.columns, session: session)
            if sourceSum != targetSum {
                differences.append("the change log's checksum is \(sourceSum.prefix(16))… in SQLite but \(targetSum.prefix(16))… in PostgreSQL")
            }
            checksum = sourceSum
        }
        var auditEntries = 0
        if plans.contains(where: { $0.table == "audit" }) {
            switch try await Self.verifyAudit(session) {
            case .intact(let entries): auditEntries = entries
            case .broken(_, let description): differences.append("the audit trail copied to PostgreSQL is broken at \(description)")
            }
        }
        guard differences.isEmpty else {
            throw OperatorError("The copy did not verify, so nothing was written to \(targetName): \(differences.joined(separator: "; ")).")
        }

        // The move itself is audited, on the target, without referral content.
        let epoch = try await session.query("SELECT epoch FROM server_identity WHERE id = 1").first?.text("epoch")
        let summary = counts.filter { Self.named.contains($0.table) }.map { "\($0.table)=\($0.count)" }.joined(separator: " ")
        try await PostgresTransaction(session: session).appendChained(AuditEvent(
            at: at, actor: OperatorActor.current, action: "migrate-store", record: nil,
            detail: "store migrated from SQLite: \(summary) end=\(end) checksum=\(checksum.prefix(16))"))
        guard case .intact(let entries) = try await Self.verifyAudit(session) else {
            throw OperatorError("The audit trail of \(targetName) did not verify after its migrate-store entry, so nothing was written.")
        }
        auditEntries = entries
        return Report(
            counts: counts, checksum: checksum, auditEntries: auditEntries, end: end, epoch: epoch,
            keptEpoch: plans.contains { $0.table == "server_identity" }, notes: notes)
    }

    /// Rows per `INSERT`: each statement carries its rows as one JSON
    /// parameter (a few megabytes), which PostgreSQL unpacks and casts to
    /// each column's type; one parameter per value would cost far more.
    static let batchRows = 10_000

    /// Copies every row of `table` in `INSERT … SELECT … FROM jsonb_array_elements($1)`
    /// statements of `batchRows` rows; how many rows. SQLite writes each row
    /// as a JSON array (`json_array`: integers as numbers, text escaped, NULL
    /// as null), so values are never re-encoded one by one here. Pages are
    /// read in primary-key order (`rowid` for a table without one), each
    /// after the last key of the one before.
    private func copyTable(_ table: String, columns: [Column], to session: PostgresSession) async throws -> Int {
        guard !columns.isEmpty else { return 0 }
        let names = columns.map(\.quoted).joined(separator: ", ")
        let values = columns.enumerated().map { index, column in
            column.isBytes ? "decode(r->>\(index), 'hex')" : "(r->>\(index))::\(column.type)"
        }.joined(separator: ", ")
        // JSON holds no blobs: bytes go as hex, and in small batches (a chunk is up to 512 KiB).
        let selected = columns.map { $0.isBytes ? "CASE WHEN \($0.quoted) IS NULL THEN NULL ELSE hex(\($0.quoted)) END" : $0.quoted }.joined(separator: ", ")
        let batchRows = columns.contains(where: \.isBytes) ? 8 : Self.batchRows
        let insert = "INSERT INTO \(Self.quote(table)) (\(names)) OVERRIDING SYSTEM VALUE SELECT \(values) FROM jsonb_array_elements($1::jsonb) AS e(r)"
        let key = try sqlite { db in
            try Row.fetchAll(db, sql: "PRAGMA table_info(\(Self.quote(table)))")
                .filter { ($0["pk"] as Int? ?? 0) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { Self.quote($0["name"]) }
        }
        let keys = key.isEmpty ? ["rowid"] : key
        let keyList = keys.joined(separator: ", ")
        let page = "SELECT json_array(\(selected)) AS row, \(keyList) FROM \(Self.quote(table))"
        var after: [DatabaseValue]?
        var total = 0
        while true {
            let (batch, count, last): (String, Int, [DatabaseValue]?) = try sqlite { db in
                let rows: [Row]
                do {
                    if let after {
                        let marks = Array(repeating: "?", count: after.count).joined(separator: ", ")
                        rows = try Row.fetchAll(
                            db, sql: "\(page) WHERE (\(keyList)) > (\(marks)) ORDER BY \(keyList) LIMIT \(batchRows)",
                            arguments: StatementArguments(after))
                    } else {
                        rows = try Row.fetchAll(db, sql: "\(page) ORDER BY \(keyList) LIMIT \(batchRows)")
                    }
                } catch let error as DatabaseError {
                    throw OperatorError("The table \(table) cannot be read from SQLite as JSON: \(error.message ?? "\(error)").")
                }
                let batch = "[" + rows.map { $0["row"] as String }.joined(separator: ",") + "]"
                return (batch, rows.count, rows.last.map { row in (1...keys.count).map { row[$0] as DatabaseValue } })
            }
            guard count > 0 else { break }
            try await session.query(insert, .text(batch))
            total += count
            after = last
            if count < batchRows { break }
        }
        return total
    }

    // MARK: Checks

    /// Rows per page of the change log's checksum.
    static let checksumPage = 50_000

    /// The change log's checksum: its rows in revision order, each value as
    /// text (integers in decimal) written `S<bytes>:<text>|` or `N|` for NULL,
    /// a line per row; SHA-256 of each page of `checksumPage` rows, and
    /// SHA-256 of those pages' hex digests: the same on either side.
    struct Checksum {
        private var page = SHA256()
        private var rows = 0
        private var pages = SHA256()

        /// A row's line: each value `S<bytes>:<text>|`, or `N|` for NULL.
        mutating func add(line: String) {
            page.update(data: Data((line + "\n").utf8))
            rows += 1
            if rows == StoreMigration.checksumPage { endPage() }
        }

        private mutating func endPage() {
            pages.update(data: Data(Self.hex(page.finalize()).utf8))
            page = SHA256()
            rows = 0
        }

        mutating func finalize() -> String {
            if rows > 0 { endPage() }
            return Self.hex(pages.finalize())
        }

        static func hex(_ digest: SHA256.Digest) -> String { Hex.string(digest) }
    }

    /// The checksum of the SQLite change log, read in this snapshot (SQLite
    /// writes each row's line: integers in decimal, lengths in bytes).
    static func sourceChecksum(_ columns: [Column], db: Database) throws -> String {
        let line = columns.map { column in
            "CASE WHEN \(column.quoted) IS NULL THEN 'N|' ELSE 'S' || length(CAST(\(column.quoted) AS BLOB)) || ':' || \(column.quoted) || '|' END"
        }.joined(separator: " || ")
        var checksum = Checksum()
        let rows = try String.fetchCursor(db, sql: "SELECT \(line) FROM change_log ORDER BY revision")
        while let row = try rows.next() { checksum.add(line: row) }
        return checksum.finalize()
    }

    /// The same checksum of what this transaction wrote, computed by
    /// PostgreSQL from the rows it holds, a page at a time.
    static func targetChecksum(_ columns: [Column], session: PostgresSession) async throws -> String {
        let line = columns.map { column in
            "CASE WHEN \(column.quoted) IS NULL THEN 'N|' ELSE 'S' || octet_length(\(column.quoted)::text) || ':' || \(column.quoted)::text || '|' END"
        }.joined(separator: " || ") + " || E'\\n'"
        var pages = SHA256()
        var after: Int64 = .min
        while true {
            let row = try await session.query("""
                SELECT encode(sha256(convert_to(string_agg(line, '' ORDER BY revision), 'UTF8')), 'hex') AS digest, max(revision) AS last, count(*) AS n
                FROM (SELECT revision, \(line) AS line FROM change_log WHERE revision > $1 ORDER BY revision LIMIT \(checksumPage)) page
                """, .int(after))[0]
            guard let digest = try row.text("digest"), let last = try row.int("last"), try row.int("n") ?? 0 > 0 else { break }
            pages.update(data: Data(digest.utf8))
            after = last
        }
        return Checksum.hex(pages.finalize())
    }

    /// The audit chain as this transaction sees it (as `audit verify` checks it).
    static func verifyAudit(_ session: PostgresSession) async throws -> AuditTrail.Verification {
        let rows = try await session.query("SELECT id, at, actor, action, record_id, detail, previous_hash, hash FROM audit ORDER BY id")
        return AuditTrail.verify(try rows.map { row in
            AuditTrail.Entry(
                id: try row.int("id")!,
                event: AuditEvent(
                    at: try row.text("at")!, actor: try row.text("actor")!, action: try row.text("action")!, record: try row.text("record_id"),
                    detail: try row.text("detail")!),
                previousHash: try row.text("previous_hash")!, hash: try row.text("hash")!)
        })
    }

    /// An identifier quoted for either database.
    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
