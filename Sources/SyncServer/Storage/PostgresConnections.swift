import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// A few PostgreSQL connections, kept open between requests.
///
/// Every statement is an async postgres-nio query: a request waits for
/// PostgreSQL without holding a thread. The connections run on an event
/// loop group of their own, never on the HTTP server's loops. A connection
/// that may be left inside a transaction (its `ROLLBACK` failed) is closed,
/// never reused: closing it ends the transaction on the server.
final class PostgresConnections: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    private let lock = NSLock()
    private var idle: [PostgresConnection] = []
    private var nextID = 0

    init(url: PostgresURL, logger: Logger) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `body` on one connection, each statement on its own; a connection left broken is dropped.
    func withConnection<T>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let result = try await body(PostgresSession(connection: connection, logger: logger))
            release(connection)
            return result
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs `body` in one transaction (`begin` starts it): committed if it
    /// returns, rolled back if it throws.
    func transaction<T>(_ begin: String = "BEGIN", _ body: (PostgresSession) async throws -> T) async throws -> T {
        let connection = try await acquire()
        let session = PostgresSession(connection: connection, logger: logger)
        do {
            try await session.execute(begin)
            let result = try await body(session)
            try await session.execute("COMMIT")
            release(connection)
            return result
        } catch {
            do {
                try await session.execute("ROLLBACK")
                release(connection)
            } catch {
                discard(connection)
            }
            throw error
        }
    }

    private func acquire() async throws -> PostgresConnection {
        let reused: PostgresConnection? = lock.withLock { idle.popLast() }
        if let reused { return reused }
        let id = lock.withLock {
            nextID += 1
            return nextID
        }
        return try await PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger)
    }

    private func release(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        let kept = lock.withLock {
            guard idle.count < 8 else { return false }
            idle.append(connection)
            return true
        }
        if !kept { discard(connection) }
    }

    private func discard(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in }
    }

    deinit {
        for connection in idle { try? connection.close().wait() }
        try? group.syncShutdownGracefully()
    }
}

/// One connection, statement by statement.
struct PostgresSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    @discardableResult
    func query(_ sql: String, _ binds: SQLBind...) async throws -> [PostgresRandomAccessRow] {
        try await query(sql, binds)
    }

    @discardableResult
    func query(_ sql: String, _ binds: [SQLBind]) async throws -> [PostgresRandomAccessRow] {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .text(let text?):
                // PostgreSQL text cannot hold U+0000; no stored value contains it.
                guard !text.utf8.contains(0) else { throw StorageError.unstorableText }
                bindings.append(text)
            case .int(let number?): bindings.append(number)
            case .text(nil), .int(nil): bindings.appendNull()
            }
        }
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            rows.append(row.makeRandomAccess())
        }
        return rows
    }

    func execute(_ sql: String) async throws {
        try await query(sql, [])
    }
}

extension PostgresRandomAccessRow {
    func text(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func int(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
}

/// `postgres://user[:password]@host[:port]/database`, as `--postgres` or `DATABASE_URL` give it.
struct PostgresURL: Sendable, CustomStringConvertible {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String

    init?(_ text: String) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else { return nil }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { return nil }
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.host = host
        self.port = components.port ?? 5432
        self.database = database.removingPercentEncoding ?? database
    }

    /// The address without the password, for messages.
    var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

extension StorageError: HTTPResponseError {
    var status: HTTPResponse.Status {
        switch self {
        case .unstorableText: .badRequest
        case .duplicateUser: .conflict
        case .notPrivate, .backupRefused: .internalServerError
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(status, description).response(from: request, context: context)
    }
}
