import Foundation
import GRDB
import PostgresNIO
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

/// The two SQL dialects the server speaks. The statements the backends share
/// are written once, in PostgreSQL's form (`$1` placeholders, standard
/// `INSERT … ON CONFLICT`, `WITH k(a, b) AS (VALUES …)`); what differs is
/// here and in the backends' revision allocation and locking.
enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// `sql` as this dialect reads it. SQLite: placeholders that come in
    /// order (`$1`, `$2`, … each once, as multi-row statements have them)
    /// become plain `?`, because SQLite looks a numbered `?N` up in a list,
    /// which made a 12,000-value insert quadratic (87% of a push's time,
    /// measured with perf); others become `?N`.
    func statement(_ sql: String) -> String {
        guard self == .sqlite else { return sql }
        guard sql.utf8.count <= Self.longestKept else { return Self.positional(sql) }
        if let known = Self.translated.withLock({ $0[sql] }) { return known }
        let translated = Self.positional(sql)
        Self.translated.withLock { if $0.count < Self.translationsKept { $0[sql] = translated } }
        return translated
    }

    /// Statements already translated for SQLite: the hand-written ones are
    /// a few dozen, run thousands of times a minute (the translation was 2 %
    /// of a loaded server's time, measured with perf). Built statements
    /// whose text varies with their input (a push's key lists, multi-row
    /// inserts) are longer than `longestKept` and are translated each time,
    /// so they do not fill the table; past `translationsKept` entries
    /// nothing more is kept.
    private static let translated = Mutex<[String: String]>([:])
    private static let translationsKept = 256
    /// The longest statement kept translated and prepared, in bytes: every
    /// hand-written statement is shorter; a built one is longer as soon as
    /// it lists a few keys.
    static let longestKept = 2_048

    private static func positional(_ sql: String) -> String {
        let dollar = UInt8(ascii: "$"), question = UInt8(ascii: "?"), zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        var positional: [UInt8] = []
        positional.reserveCapacity(sql.utf8.count)
        var expected = 1
        var bytes = sql.utf8.makeIterator()
        var pending = bytes.next()
        while let byte = pending {
            pending = bytes.next()
            guard byte == dollar else {
                positional.append(byte)
                continue
            }
            var number = 0
            while let digit = pending, digit >= zero, digit <= nine {
                number = number * 10 + Int(digit - zero)
                pending = bytes.next()
            }
            guard number == expected else { return sql.replacingOccurrences(of: "$", with: "?") }
            expected += 1
            positional.append(question)
        }
        return String(decoding: positional, as: UTF8.self)
    }

    /// The most placeholders one statement may hold: SQLite's default limit
    /// is 32,766, PostgreSQL's 65,535; both are kept well under.
    static let maximumBinds = 30_000
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

extension SQLDialect {
    /// PostgreSQL: `writes` folded into data-modifying `WITH` statements
    /// (`WITH w1 AS (INSERT …), w2 AS (UPDATE …) INSERT …`), each holding at
    /// most `maximumBinds` values, with every write's `$N` renumbered after
    /// those before it. PostgreSQL runs every part of such a statement
    /// against one snapshot and checks foreign keys at its end, so the
    /// writes must touch different rows, as a write phase's do (each table's
    /// rows once; a referral inserted or updated, not both).
    static func combined(_ writes: [SQLWrite]) -> [SQLWrite] {
        var statements: [SQLWrite] = []
        var group: [SQLWrite] = []
        var count = 0
        func flush() {
            defer { group = []; count = 0 }
            guard group.count > 1 else {
                statements.append(contentsOf: group)
                return
            }
            var binds: [SQLBind] = []
            var parts: [String] = []
            for write in group {
                parts.append(renumbered(write.sql, after: binds.count))
                binds.append(contentsOf: write.binds)
            }
            let last = parts.removeLast()
            let with = parts.enumerated().map { "w\($0.offset + 1) AS (\($0.element))" }.joined(separator: ", ")
            statements.append(SQLWrite(sql: "WITH \(with) \(last)", binds: binds))
        }
        for write in writes {
            if count + write.binds.count > maximumBinds { flush() }
            group.append(write)
            count += write.binds.count
        }
        flush()
        return statements
    }

    /// `sql` with each `$N` made `$(N + offset)`. The statements folded are
    /// the server's own, with no `$` but in placeholders (checked: a
    /// programming error stops the process rather than corrupt a statement).
    static func renumbered(_ sql: String, after offset: Int) -> String {
        guard offset > 0 else { return sql }
        let dollar = UInt8(ascii: "$"), zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        var out: [UInt8] = []
        out.reserveCapacity(sql.utf8.count + sql.utf8.count / 8)
        var bytes = sql.utf8.makeIterator()
        var pending = bytes.next()
        while let byte = pending {
            pending = bytes.next()
            out.append(byte)
            guard byte == dollar else { continue }
            var number = 0
            var digits = 0
            while let digit = pending, digit >= zero, digit <= nine {
                number = number * 10 + Int(digit - zero)
                digits += 1
                pending = bytes.next()
            }
            // A `$` that is not a placeholder (a dollar-quoted string, an
            // identifier) would be corrupted: the folded statements have none.
            precondition(digits > 0, "a folded statement has a $ that is not a placeholder: \(sql.prefix(80))")
            out.append(contentsOf: String(number + offset).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: SQLite (GRDB)

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

extension PostgresSession: SQLSession {
    var dialect: SQLDialect { .postgres }

    func rows(_ sql: String, _ binds: [SQLBind]) async throws -> [any SQLRow] {
        try await query(sql, binds)
    }

    func run(_ sql: String, _ binds: [SQLBind]) async throws {
        try await query(sql, binds)
    }

    func run(native sql: String, _ binds: [SQLBind]) async throws {
        try await query(sql, binds)
    }
}

extension PostgresRandomAccessRow: SQLRow {}
