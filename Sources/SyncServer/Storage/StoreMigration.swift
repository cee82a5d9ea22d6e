import Crypto
import Foundation
import GRDB
import SyncCore

/// Copies a SQLite store into an empty PostgreSQL store (`sync-server migrate-store`).
///
/// Shape of the copy:
/// - the source is read in one deferred SQLite transaction, a consistent
///   snapshot even if a server is still writing to it (whatever it writes
///   later is not copied);
/// - the target is written in one PostgreSQL transaction that first takes
///   the `writer` lock (a server started on it early waits), refuses a target
///   that holds data, copies table by table in multi-row `INSERT`s, moves the
///   revision counter and serial sequences past what was copied, verifies,
///   appends one audit entry, and only then commits;
/// - tables and columns are matched by name: a table or column only one
///   backend has is left out and named in `Report.notes`; integer columns are
///   bound as `bigint`, everything else as text cast to the column's type.
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
    /// row): their rows are replaced by the source's.
    static let seeded: Set<String> = ["server_identity"]
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
        /// Tables or columns left out, one sentence each.
        var notes: [String]
    }

    /// One column the copy writes: its name and how it is bound.
    struct Column {
        var name: String
        /// PostgreSQL's type name (`information_schema.columns.data_type`), used as the cast.
        var type: String
        var isInteger: Bool { ["bigint", "integer", "smallint"].contains(type) }
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
    func run(at: String) throws -> Report {
        try source.inDatabase { db in
            var report: Report?
            try db.inTransaction(.deferred) {
                report = try target.connections.transaction { session in try copy(from: db, to: session, at: at) }
                return .commit
            }
            return report!
        }
    }

    private func copy(from db: Database, to session: PostgresSession, at: String) throws -> Report {
        // Tables and their columns on both sides.
        let sqliteTables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .filter { !Self.bookkeeping.contains($0) }
        let pgTables = Set(try session.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).map { try $0.text(0)! }).subtracting(Self.bookkeeping)
        // A server started early on the target waits for this transaction.
        if try !session.query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'writer'").isEmpty {
            try session.execute("SELECT revision FROM writer WHERE id = 1 FOR UPDATE")
        }
        let common = Self.orderedTables.filter { sqliteTables.contains($0) && pgTables.contains($0) }
            + sqliteTables.filter { pgTables.contains($0) && !Self.orderedTables.contains($0) }.sorted()
        var notes: [String] = []
        for table in sqliteTables where !pgTables.contains(table) {
            let rows = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.quote(table))") ?? 0
            notes.append("the table \(table) (\(rows) rows) exists only in SQLite and was not copied.")
        }
        var plans: [(table: String, columns: [Column])] = []
        for table in common {
            let sqliteColumns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(Self.quote(table)))").map { $0["name"] as String }
            let pgColumns = try session.query("""
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position
                """, .text(table)).map { Column(name: try $0.text(0)!, type: try $0.text(1)!) }
            let columns = pgColumns.filter { sqliteColumns.contains($0.name) }
            for name in sqliteColumns where !pgColumns.contains(where: { $0.name == name }) {
                notes.append("the column \(table).\(name) exists only in SQLite and was not copied.")
            }
            plans.append((table, columns))
        }

        // An empty target only: what a new server has after its migrations.
        var held: [(String, Int)] = []
        for (table, _) in plans where !Self.seeded.contains(table) {
            let count = try session.query("SELECT count(*) FROM \(Self.quote(table))")[0].int(0) ?? 0
            if count > 0 { held.append((table, Int(count))) }
        }
        guard held.isEmpty else {
            let ordered = held.filter { Self.named.contains($0.0) } + held.filter { !Self.named.contains($0.0) }
            throw OperatorError("The PostgreSQL database \(targetName) already holds a store (\(ordered.map { "\($0.1) \($0.0)" }.joined(separator: ", "))), so nothing was copied: give migrate-store an empty database.")
        }

        // Copy, table by table.
        var counts: [(table: String, count: Int)] = []
        for (table, columns) in plans {
            if Self.seeded.contains(table) { try session.execute("DELETE FROM \(Self.quote(table))") }
            let copied = try copyTable(table, columns: columns, from: db, to: session)
            counts.append((table, copied))
        }

        // Revisions and serial numbers carry on after what was copied.
        let end = try session.query("SELECT coalesce(max(revision), 0) FROM change_log")[0].int(0) ?? 0
        if try !session.query("""
            SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'writer' AND column_name = 'revision'
            """).isEmpty
        {
            try session.query("UPDATE writer SET revision = $1", .int(end))
        }
        var moved: Set<String> = []
        for (table, columns) in plans {
            for column in columns where column.isInteger {
                guard let sequence = try session.query("SELECT pg_get_serial_sequence($1, $2)", .text(Self.quote(table)), .text(column.name))[0].text(0)
                else { continue }
                try session.query("SELECT setval($1::regclass, coalesce(max(\(column.quoted)), 0) + 1, false) FROM \(Self.quote(table))", .text(sequence))
                moved.insert(sequence)
            }
        }
        // A sequence that gives out revisions without being owned by a column.
        for sequence in try session.query("""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND n.nspname = current_schema() AND c.relname LIKE '%revision%'
            """).map({ try $0.text(0)! }) where !moved.contains(sequence) {
            try session.query("SELECT setval($1::regclass, $2, false)", .text(sequence), .int(end + 1))
        }

        // Verify before committing.
        var differences: [String] = []
        for (table, copied) in counts {
            let inSource = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.quote(table))") ?? 0
            let inTarget = Int(try session.query("SELECT count(*) FROM \(Self.quote(table))")[0].int(0) ?? 0)
            if inSource != inTarget || copied != inSource {
                differences.append("\(table) has \(inSource) rows in SQLite but \(inTarget) in PostgreSQL")
            }
        }
        var checksum = ""
        if let log = plans.first(where: { $0.table == "change_log" }) {
            let sourceSum = try Self.sourceChecksum(log.columns, db: db)
            let targetSum = try Self.targetChecksum(log.columns, session: session)
            if sourceSum != targetSum {
                differences.append("the change log's checksum is \(sourceSum.prefix(16))… in SQLite but \(targetSum.prefix(16))… in PostgreSQL")
            }
            checksum = sourceSum
        }
        var auditEntries = 0
        if plans.contains(where: { $0.table == "audit" }) {
            switch try Self.verifyAudit(session) {
            case .intact(let entries): auditEntries = entries
            case .broken(_, let description): differences.append("the audit trail copied to PostgreSQL is broken at \(description)")
            }
        }
        guard differences.isEmpty else {
            throw OperatorError("The copy did not verify, so nothing was written to \(targetName): \(differences.joined(separator: "; ")).")
        }

        // The move itself is audited, on the target, without referral content.
        let epoch = try session.query("SELECT epoch FROM server_identity WHERE id = 1").first?.text(0)
        let summary = counts.filter { Self.named.contains($0.table) }.map { "\($0.table)=\($0.count)" }.joined(separator: " ")
        try PostgresTransaction(session: session).audit(AuditEvent(
            at: at, actor: "operator", action: "migrate-store", record: nil,
            detail: "store migrated from SQLite: \(summary) end=\(end) checksum=\(checksum.prefix(16))"))
        guard case .intact(let entries) = try Self.verifyAudit(session) else {
            throw OperatorError("The audit trail of \(targetName) did not verify after its migrate-store entry, so nothing was written.")
        }
        auditEntries = entries
        return Report(counts: counts, checksum: checksum, auditEntries: auditEntries, end: end, epoch: epoch, notes: notes)
    }

    /// Rows per `INSERT`: PostgreSQL takes at most 65,535 parameters a statement.
    static func batchRows(columns: Int) -> Int { max(1, 60_000 / max(1, columns)) }

    /// Copies every row of `table` in multi-row `INSERT`s; how many rows.
    private func copyTable(_ table: String, columns: [Column], from db: Database, to session: PostgresSession) throws -> Int {
        guard !columns.isEmpty else { return 0 }
        let names = columns.map(\.quoted).joined(separator: ", ")
        let perStatement = Self.batchRows(columns: columns.count)
        let order = table == "change_log" ? " ORDER BY revision" : table == "audit" ? " ORDER BY id" : ""
        let rows = try Row.fetchCursor(db, sql: "SELECT \(names) FROM \(Self.quote(table))\(order)")
        var binds: [SQLBind] = []
        binds.reserveCapacity(perStatement * columns.count)
        var pending = 0
        var total = 0
        func flush() throws {
            guard pending > 0 else { return }
            var sql = "INSERT INTO \(Self.quote(table)) (\(names)) OVERRIDING SYSTEM VALUE VALUES "
            var parameter = 0
            for row in 0..<pending {
                sql += row == 0 ? "(" : ", ("
                for (index, column) in columns.enumerated() {
                    parameter += 1
                    sql += (index == 0 ? "$" : ", $") + String(parameter) + "::" + column.type
                }
                sql += ")"
            }
            try session.query(sql, binds)
            binds.removeAll(keepingCapacity: true)
            total += pending
            pending = 0
        }
        while let row = try rows.next() {
            for (index, column) in columns.enumerated() {
                binds.append(try Self.bind(row[index] as DatabaseValue, column: column, table: table))
            }
            pending += 1
            if pending == perStatement { try flush() }
        }
        try flush()
        return total
    }

    /// A SQLite value bound for a PostgreSQL column: integers as `bigint`,
    /// everything else as text (a number written as text, text written as a number).
    static func bind(_ value: DatabaseValue, column: Column, table: String) throws -> SQLBind {
        switch (value.storage, column.isInteger) {
        case (.null, true): return .int(nil)
        case (.null, false): return .text(nil)
        case (.int64(let number), true): return .int(number)
        case (.int64(let number), false): return .text(String(number))
        case (.double(let number), true) where number == number.rounded() && abs(number) < 9e18: return .int(Int64(number))
        case (.double(let number), false): return .text(String(number))
        case (.string(let text), true) where Int64(text) != nil: return .int(Int64(text))
        case (.string(let text), false): return .text(text)
        case (.blob(let data), false) where String(data: data, encoding: .utf8) != nil: return .text(String(decoding: data, as: UTF8.self))
        default:
            throw OperatorError("The column \(table).\(column.name) holds \(value) in SQLite, which its PostgreSQL type \(column.type) cannot take.")
        }
    }

    // MARK: Checks

    /// SHA-256 over the change log in revision order: each value as text
    /// (integers in decimal), length-prefixed, NULL marked apart from "".
    struct Checksum {
        private var hasher = SHA256()

        mutating func add(_ values: [String?]) {
            var line = ""
            for value in values {
                if let value { line += "S\(value.utf8.count):\(value)|" } else { line += "N|" }
            }
            hasher.update(data: Data((line + "\n").utf8))
        }

        func finalize() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
    }

    static func sourceChecksum(_ columns: [Column], db: Database) throws -> String {
        var checksum = Checksum()
        let rows = try Row.fetchCursor(db, sql: "SELECT \(columns.map(\.quoted).joined(separator: ", ")) FROM change_log ORDER BY revision")
        while let row = try rows.next() {
            checksum.add(row.databaseValues.map { value in
                switch value.storage {
                case .null: nil
                case .int64(let number): String(number)
                case .double(let number): String(number)
                case .string(let text): text
                case .blob(let data): String(decoding: data, as: UTF8.self)
                }
            })
        }
        return checksum.finalize()
    }

    /// The same checksum, reading back what this transaction wrote, a page at a time.
    static func targetChecksum(_ columns: [Column], session: PostgresSession) throws -> String {
        var checksum = Checksum()
        let selected = columns.map { $0.isInteger ? $0.quoted : "\($0.quoted)::text" }.joined(separator: ", ")
        var after: Int64 = .min
        while true {
            let rows = try session.query(
                "SELECT revision, \(selected) FROM change_log WHERE revision > $1 ORDER BY revision LIMIT 20000", .int(after))
            guard let last = rows.last else { break }
            for row in rows {
                checksum.add(try columns.indices.map { index in
                    columns[index].isInteger ? try row.int(index + 1).map { String($0) } : try row.text(index + 1)
                })
            }
            after = try last.int(0)!
        }
        return checksum.finalize()
    }

    /// The audit chain as this transaction sees it (as `audit verify` checks it).
    static func verifyAudit(_ session: PostgresSession) throws -> AuditTrail.Verification {
        let rows = try session.query("SELECT id, at, actor, action, record_id, detail, previous_hash, hash FROM audit ORDER BY id")
        return AuditTrail.verify(try rows.map { row in
            AuditTrail.Entry(
                id: try row.int(0)!,
                event: AuditEvent(at: try row.text(1)!, actor: try row.text(2)!, action: try row.text(3)!, record: try row.text(4), detail: try row.text(5)!),
                previousHash: try row.text(6)!, hash: try row.text(7)!)
        })
    }

    /// An identifier quoted for either database.
    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
