import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// A few PostgreSQL connections, used synchronously.
///
/// `SyncStorage` and `SyncTransaction` are synchronous (the engine runs inside
/// GRDB's write closures too), so each statement waits for its result. The
/// connections run on an event loop group of their own, never on the HTTP
/// server's loops, so a waiting caller never blocks the loop that completes it.
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

    /// Runs `body` on one connection; a connection left broken is dropped.
    func withConnection<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try acquire()
        defer { release(connection) }
        return try body(PostgresSession(connection: connection, logger: logger))
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ begin: String = "BEGIN", _ body: (PostgresSession) throws -> T) throws -> T {
        try withConnection { session in
            try session.execute(begin)
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    private func acquire() throws -> PostgresConnection {
        lock.lock()
        if let connection = idle.popLast() {
            lock.unlock()
            return connection
        }
        nextID += 1
        let id = nextID
        lock.unlock()
        return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
    }

    private func release(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        lock.lock()
        if idle.count < 8 {
            idle.append(connection)
            lock.unlock()
        } else {
            lock.unlock()
            try? connection.close().wait()
        }
    }

    deinit {
        for connection in idle { try? connection.close().wait() }
        try? group.syncShutdownGracefully()
    }
}

/// One connection, statement by statement.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    @discardableResult
    func query(_ sql: String, _ binds: SQLBind...) throws -> [PostgresRandomAccessRow] {
        try query(sql, binds)
    }

    @discardableResult
    func query(_ sql: String, _ binds: [SQLBind]) throws -> [PostgresRandomAccessRow] {
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
        return try connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).wait().rows.map { $0.makeRandomAccess() }
    }

    func execute(_ sql: String) throws {
        try query(sql, [])
    }
}

extension PostgresRandomAccessRow {
    func text(_ index: Int) throws -> String? { try self[index].decode(String?.self) }
    func int(_ index: Int) throws -> Int64? { try self[index].decode(Int64?.self) }
    func bool(_ index: Int) throws -> Bool? { try self[index].decode(Bool?.self) }
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
