import Foundation
import PostgresNIO
import Synchronization

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
