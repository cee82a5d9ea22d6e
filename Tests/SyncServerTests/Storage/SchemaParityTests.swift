import Foundation
import TestSupport
import GRDB
import Testing
@testable import SyncServer

/// The two backends hold one schema: the same tables, the same columns, the
/// same NOT NULL constraints, so the statements written once
/// (`PushStatements`, `ServerQueries`) mean the same on both and
/// `migrate-store` can copy column by column. Types are the dialects' own
/// (SQLite's INTEGER is PostgreSQL's BIGINT).
@Suite("Schema parity: SQLite and PostgreSQL", .enabled(if: TestPostgres.shouldRun))
struct SchemaParityTests {
    /// Bookkeeping of one backend only: migrations, SQLite's AUTOINCREMENT
    /// counter, PostgreSQL's old `writer` row (kept for instances that
    /// predate the revision sequence) and its audit entries waiting to be
    /// chained (SQLite's single writer chains its own).
    static let ownTables: Set<String> = ["grdb_migrations", "sqlite_sequence", "schema_migrations", "writer", "audit_pending"]

    struct Column: Hashable, CustomStringConvertible {
        var table: String
        var name: String
        var notNull: Bool
        var description: String { "\(table).\(name)\(notNull ? " NOT NULL" : "")" }
    }

    @Test("every table and column of one backend is in the other, with the same NOT NULL")
    func schemasMatch() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parity-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let sqlite = try SQLiteStorage(path: folder.appendingPathComponent("server.sqlite").path)
        let sqliteColumns: Set<Column> = try await sqlite.pool.read { db in
            var columns = Set<Column>()
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") where !Self.ownTables.contains(table) {
                for row in try Row.fetchAll(db, sql: "SELECT name, \"notnull\", pk FROM pragma_table_info(?)", arguments: [table]) {
                    // SQLite lets a primary key column hold NULL unless told; PostgreSQL never does.
                    let notNull = (row["notnull"] as Int64) == 1 || (row["pk"] as Int64) > 0
                    columns.insert(Column(table: table, name: row["name"], notNull: notNull))
                }
            }
            return columns
        }
        // In this process the pool's lease is handed over by a task on Swift's
        // shared threads, which the other tests hold while they wait for their
        // child processes (`ChildProcess.wait`): on two busy cores this test
        // waited over 100 s for a thread (CI, 30 Nov), so the server's 10 s
        // lease timeout would fail it for a reason that is not the schema's.
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600))
        let postgresColumns: Set<Column> = try await postgres.connections.withConnection { session in
            Set(try await session.query("""
                SELECT table_name, column_name, is_nullable FROM information_schema.columns
                WHERE table_schema = 'public'
                """).compactMap { row -> Column? in
                let table = try row.text("table_name")!
                guard !Self.ownTables.contains(table) else { return nil }
                return Column(table: table, name: try row.text("column_name")!, notNull: try row.text("is_nullable") == "NO")
            })
        }
        #expect(!sqliteColumns.isEmpty && !postgresColumns.isEmpty)
        let onlySQLite = sqliteColumns.subtracting(postgresColumns).map(\.description).sorted()
        let onlyPostgres = postgresColumns.subtracting(sqliteColumns).map(\.description).sorted()
        #expect(onlySQLite.isEmpty, "only in SQLite: \(onlySQLite)")
        #expect(onlyPostgres.isEmpty, "only in PostgreSQL: \(onlyPostgres)")
    }
}
