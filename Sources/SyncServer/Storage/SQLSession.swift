import Foundation
import GRDB
import PostgresNIO

/// A value bound to a statement (`$1`, `$2`…).
enum SQLBind: Sendable, Equatable {
    case text(String?)
    case int(Int64?)
}

/// One row of a result, read by column name.
protocol SQLRow {
    func text(_ column: String) throws -> String?
    func int(_ column: String) throws -> Int64?
}

/// The two SQL dialects the server speaks. The statements the backends share
/// are written once, in PostgreSQL's form (`$1` placeholders, standard
/// `INSERT … ON CONFLICT`, `WITH k(a, b) AS (VALUES …)`); what differs is
/// here and in the backends' revision allocation and locking.
enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// `sql` as this dialect reads it: SQLite numbers its placeholders `?1`.
    func statement(_ sql: String) -> String {
        switch self {
        case .postgres: sql
        case .sqlite: sql.replacingOccurrences(of: "$", with: "?")
        }
    }

    /// The most placeholders one statement may hold: SQLite's default limit
    /// is 32,766, PostgreSQL's 65,535; both are kept well under.
    static let maximumBinds = 30_000
}

/// A connection inside a transaction, as the shared statements use it.
protocol SQLSession {
    var dialect: SQLDialect { get }
    /// Runs `sql` (written with `$N` placeholders) and returns its rows.
    func rows(_ sql: String, _ binds: [SQLBind]) throws -> [any SQLRow]
    /// Runs `sql` for its effect.
    func run(_ sql: String, _ binds: [SQLBind]) throws
}

extension SQLSession {
    /// Runs one multi-row `INSERT` per chunk of `rows`: `head` is everything
    /// before `VALUES`, `tail` what follows the rows (`ON CONFLICT …`). Each
    /// row is one tuple of binds, all of the same width.
    func insert(_ head: String, rows: [[SQLBind]], tail: String = "") throws {
        guard let width = rows.first?.count, width > 0 else { return }
        let perStatement = max(1, SQLDialect.maximumBinds / width)
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            var binds: [SQLBind] = []
            binds.reserveCapacity(chunk.count * width)
            var tuples: [String] = []
            tuples.reserveCapacity(chunk.count)
            for row in chunk {
                let first = binds.count + 1
                tuples.append("(" + (first..<first + width).map { "$\($0)" }.joined(separator: ", ") + ")")
                binds.append(contentsOf: row)
            }
            try run("\(head) VALUES \(tuples.joined(separator: ", ")) \(tail)", binds)
            start += perStatement
        }
    }
}

// MARK: SQLite (GRDB)

/// A GRDB connection inside one of its transactions.
struct SQLiteSession: SQLSession {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func rows(_ sql: String, _ binds: [SQLBind]) throws -> [any SQLRow] {
        try Row.fetchAll(db, sql: dialect.statement(sql), arguments: Self.arguments(binds))
    }

    func run(_ sql: String, _ binds: [SQLBind]) throws {
        try db.execute(sql: dialect.statement(sql), arguments: Self.arguments(binds))
    }

    static func arguments(_ binds: [SQLBind]) -> StatementArguments {
        StatementArguments(binds.map { bind -> (any DatabaseValueConvertible)? in
            switch bind {
            case .text(let text): text
            case .int(let number): number
            }
        })
    }
}

extension Row: SQLRow {
    func text(_ column: String) throws -> String? { self[column] }
    func int(_ column: String) throws -> Int64? { self[column] }
}

// MARK: PostgreSQL

extension PostgresSession: SQLSession {
    var dialect: SQLDialect { .postgres }

    func rows(_ sql: String, _ binds: [SQLBind]) throws -> [any SQLRow] {
        try query(sql, binds)
    }

    func run(_ sql: String, _ binds: [SQLBind]) throws {
        try query(sql, binds)
    }
}

extension PostgresRandomAccessRow: SQLRow {}
