import Foundation
import Synchronization

/// A value bound to a statement (`$1`, `$2`…).
enum SQLBind: Sendable, Equatable {
    case text(String?)
    case int(Int64?)
    /// Bytes (an attachment's chunk): SQLite `BLOB`, PostgreSQL `bytea`.
    case blob(Data?)
}

/// One row of a result, read by column name.
protocol SQLRow {
    func text(_ column: String) throws -> String?
    func int(_ column: String) throws -> Int64?
    func blob(_ column: String) throws -> Data?
}

/// A connection inside a transaction, as the shared statements use it.
/// Every call is `async`: PostgreSQL's statements go out through
/// postgres-nio without blocking a thread; SQLite's reads run on GRDB's
/// reader queues through its async access, and its writes on the writer's
/// own thread (`WriterThread`).
protocol SQLSession: Sendable {
    var dialect: SQLDialect { get }
    /// Runs `sql` (written with `$N` placeholders) and returns its rows.
    func rows(_ sql: String, _ binds: [SQLBind]) async throws -> [any SQLRow]
    /// Runs `sql` for its effect.
    func run(_ sql: String, _ binds: [SQLBind]) async throws
    /// Runs `sql` already written in this dialect's placeholders (`?` for
    /// SQLite), for statements built here rather than written by hand.
    func run(native sql: String, _ binds: [SQLBind]) async throws
    /// Runs `writes` in order, for their effect (see the extension's).
    func perform(_ writes: [SQLWrite]) async throws
}

/// One statement of a write phase, in the dialect's own placeholders
/// (`SQLSession.run(native:)`): `$1`… on PostgreSQL, `?` on SQLite.
struct SQLWrite: Sendable {
    var sql: String
    var binds: [SQLBind]
}

extension SQLSession {
    /// Runs the `INSERT`s of `rows` (`inserts`): `head` is everything
    /// before `VALUES`, `tail` what follows the rows (`ON CONFLICT …`). Each
    /// row is one tuple of binds, all of the same width.
    func insert(_ head: String, rows: [[SQLBind]], tail: String = "") async throws {
        try await perform(inserts(head, rows: rows, tail: tail))
    }

    /// The `INSERT`s of `rows`, for `perform`. PostgreSQL: one multi-row
    /// statement per chunk of at most `SQLDialect.maximumBinds` values (a
    /// round trip each). SQLite: one statement a row, all of the same text,
    /// so that it is prepared once per connection and kept (GRDB's statement
    /// cache) rather than a statement of a new shape parsed for each push;
    /// SQLite has no round trip to save.
    func inserts(_ head: String, rows: [[SQLBind]], tail: String = "") -> [SQLWrite] {
        guard let width = rows.first?.count, width > 0 else { return [] }
        if dialect == .sqlite {
            let sql = "\(head) VALUES (" + Array(repeating: "?", count: width).joined(separator: ", ") + ") \(tail)"
            return rows.map { SQLWrite(sql: sql, binds: $0) }
        }
        let perStatement = max(1, SQLDialect.maximumBinds / width)
        var writes: [SQLWrite] = []
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            var binds: [SQLBind] = []
            binds.reserveCapacity(chunk.count * width)
            for row in chunk { binds.append(contentsOf: row) }
            let tuples = (0..<chunk.count).map { row in
                "(" + (1...width).map { "$\(row * width + $0)" }.joined(separator: ", ") + ")"
            }.joined(separator: ", ")
            writes.append(SQLWrite(sql: "\(head) VALUES \(tuples) \(tail)", binds: binds))
            start += perStatement
        }
        return writes
    }

    func write(_ sql: String, _ binds: [SQLBind]) -> SQLWrite {
        SQLWrite(sql: dialect.statement(sql), binds: binds)
    }

    /// Runs `writes` in order, for their effect: on PostgreSQL as few
    /// statements as the binds allow (`SQLDialect.combined`), each a round
    /// trip fewer for every write it folds in. (SQLite's session runs them
    /// in one access on the writer's thread: `SQLiteSession.perform`.)
    func perform(_ writes: [SQLWrite]) async throws {
        for write in dialect == .postgres ? SQLDialect.combined(writes) : writes { try await run(native: write.sql, write.binds) }
    }
}
