import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// The server's PostgreSQL connections: a bounded pool (postgres-nio's
/// `PostgresClient`), shared by every request of one instance.
///
/// Every statement is an async postgres-nio query: a request waits for
/// PostgreSQL without holding a thread. At most `maximumConnections` are open
/// at once; a request beyond them waits for a connection to come back rather
/// than opening one more, so a burst of devices cannot exhaust PostgreSQL's
/// `max_connections` or spend its time starting backends. A connection that
/// may be left inside a transaction (its `ROLLBACK` failed) is closed, never
/// reused: closing it ends the transaction on the server, and the pool
/// replaces it.
final class PostgresConnections: Sendable {
    /// Connections one instance keeps at most; two instances of a county's
    /// server stay well inside PostgreSQL's default `max_connections` (100).
    static let defaultMaximum = 20

    let client: PostgresClient
    let logger: Logger
    private let url: PostgresURL
    private let running: Task<Void, Never>

    init(url: PostgresURL, logger: Logger, maximumConnections: Int = defaultMaximum) {
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.maximumConnections = maximumConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.url = url
        // Started at once, on this thread, up to its first suspension: the
        // pool is running before the first statement asks it for a connection.
        running = Task.immediate { await client.run() }
    }

    /// Opens one connection outside the pool and closes it: the pool keeps
    /// retrying a database it cannot reach, so a wrong address or a stopped
    /// PostgreSQL is reported here, at once, with postgres-nio's reason.
    /// - Throws: `PSQLError` when PostgreSQL cannot be reached or refuses the sign-in.
    func checkReachable() async throws {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.next(), configuration: configuration, id: 0, logger: logger)
        try await connection.close()
    }

    /// Runs `body` on one connection, each statement on its own.
    func withConnection<T>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(PostgresSession(connection: connection, logger: logger))
        }
    }

    /// Runs `body` in one transaction (`begin` starts it): committed if it
    /// returns, rolled back if it throws.
    ///
    /// The rollback runs in a task of its own, so that a request cancelled
    /// half way (its client gone) still ends its transaction; if it fails,
    /// the connection is closed before it goes back to the pool.
    func transaction<T>(_ begin: String = "BEGIN", _ body: (PostgresSession) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            let session = PostgresSession(connection: connection, logger: logger)
            try await session.execute(begin)
            do {
                let result = try await body(session)
                try await session.execute("COMMIT")
                return result
            } catch {
                let rolledBack = await Task { () -> Bool in
                    do {
                        try await session.execute("ROLLBACK")
                        return true
                    } catch {
                        try? await connection.close()
                        return false
                    }
                }.value
                if !rolledBack { logger.warning("a PostgreSQL connection was closed: its transaction could not be rolled back") }
                throw error
            }
        }
    }

    deinit {
        running.cancel()
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
