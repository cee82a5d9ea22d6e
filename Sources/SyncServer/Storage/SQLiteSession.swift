import Foundation
import GRDB
import Synchronization

/// Statements on a GRDB database. A read is an async access of its own
/// (GRDB runs it on a reader connection's queue, in a snapshot of its own;
/// the caller's task waits without holding a thread). Inside a write
/// transaction `writer` is the writer's thread and every statement is a
/// synchronous call on the pool's one writer connection, made on that
/// thread (`WriterThread`), which the transaction holds (`SQLiteStorage.writing`).
struct SQLiteSession: SQLSession {
    let pool: DatabasePool
    /// The writer's thread, inside a write transaction; nil for reads.
    let writer: WriterThread?
    var dialect: SQLDialect { .sqlite }

    func rows(_ sql: String, _ binds: [SQLBind]) async throws -> [any SQLRow] {
        let statement = dialect.statement(sql)
        let arguments = try Self.arguments(binds)
        let fetch: @Sendable (Database) throws -> FetchedRows = { db in
            FetchedRows(rows: try Row.fetchAll(Self.prepared(statement, in: db), arguments: arguments))
        }
        // In a write transaction: a plain call on the writer's thread (`WriterThread`).
        if let writer { return try writer.write(pool, fetch).rows }
        return try await pool.read(fetch).rows
    }

    /// A hand-written statement: prepared once per connection and kept
    /// (GRDB's statement cache), as `rows` does.
    func run(_ sql: String, _ binds: [SQLBind]) async throws {
        guard let writer else { preconditionFailure("a statement for its effect runs in a write transaction") }
        let statement = dialect.statement(sql)
        let arguments = try Self.arguments(binds)
        try writer.write(pool) { db in try Self.prepared(statement, in: db).execute(arguments: arguments) }
    }

    /// A statement already in SQLite's placeholders. One with few binds (a
    /// hand-written one, a one-row insert) is prepared once and kept in
    /// GRDB's cache; a multi-row one, whose text varies with its rows, is
    /// prepared each time, so that the cache does not fill with them.
    func run(native sql: String, _ binds: [SQLBind]) async throws {
        guard let writer else { preconditionFailure("a statement for its effect runs in a write transaction") }
        let arguments = try Self.arguments(binds)
        try writer.write(pool) { db in
            let statement = binds.count <= Self.fewestBindsBuilt ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
            try statement.execute(arguments: arguments)
        }
    }

    /// `writes` in order, in one access to the writer connection on the
    /// writer's thread; each statement prepared once and kept when it is
    /// short (every one of a write phase's, one row each: `inserts`).
    func perform(_ writes: [SQLWrite]) async throws {
        guard let writer else { preconditionFailure("a statement for its effect runs in a write transaction") }
        let prepared = try writes.map { ($0.sql, $0.binds.count <= Self.fewestBindsBuilt, try Self.arguments($0.binds)) }
        try writer.write(pool) { db in
            for (sql, kept, arguments) in prepared {
                let statement = kept ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
                try statement.execute(arguments: arguments)
            }
        }
    }

    /// More binds than this: a statement built with several rows (the widest
    /// one-row insert, `change_log`'s, has 12).
    static let fewestBindsBuilt = 16

    /// A statement prepared from GRDB's cache when it is short, as every
    /// hand-written one is; a long one is built (`PushStatements.load`'s
    /// key lists, whose text varies with the push) and prepared afresh, so
    /// that it neither fills the connection's cache nor stays in it.
    static func prepared(_ sql: String, in db: Database) throws -> Statement {
        sql.utf8.count <= SQLDialect.longestKept ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }

    /// The binds as GRDB's arguments.
    /// - Throws: `StorageError.unstorableText` for text holding U+0000, as
    ///   PostgreSQL does: SQLite would cut it there, so `ivy\0x` would find `ivy`.
    static func arguments(_ binds: [SQLBind]) throws -> StatementArguments {
        StatementArguments(try binds.map { bind -> (any DatabaseValueConvertible)? in
            switch bind {
            case .text(let text?):
                guard !text.utf8.contains(0) else { throw StorageError.unstorableText }
                return text
            case .text(nil): return nil as String?
            case .int(let number): return number
            case .blob(let bytes): return bytes
            }
        })
    }

    /// Rows `Row.fetchAll` copied out of SQLite: immutable, so they may
    /// leave GRDB's queue.
    struct FetchedRows: @unchecked Sendable {
        let rows: [Row]
    }
}

extension Row: SQLRow {
    func text(_ column: String) throws -> String? { self[column] }
    func int(_ column: String) throws -> Int64? { self[column] }
    func blob(_ column: String) throws -> Data? { self[column] }
}

// MARK: PostgreSQL
