import Foundation
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
///
/// A request waits at most `leaseTimeout` for a connection, then fails with
/// `StorageError.noConnection` (a 503): while PostgreSQL is stopped the pool
/// keeps trying to connect and would otherwise hold every request until it
/// is back.
final class PostgresConnections: Sendable {
    /// Connections one instance keeps at most; two instances of a county's
    /// server stay well inside PostgreSQL's default `max_connections` (100).
    static let defaultMaximum = 20
    /// How long a request waits for a connection by default: longer than the
    /// pool's queue takes under the heaviest load measured (`docs/reliability.md`).
    static let defaultLeaseTimeout: Duration = .seconds(10)

    let client: PostgresClient
    let logger: Logger
    /// How long a request waits for a connection before `StorageError.noConnection`.
    let leaseTimeout: Duration
    private let running: Task<Void, Never>

    /// Connects once outside the pool, then starts the pool.
    ///
    /// The first connection reports at once a wrong address or a stopped
    /// PostgreSQL (the pool would keep retrying), and reads
    /// `synchronous_commit`: when the cluster has it `off`, a commit is
    /// acknowledged before its WAL is written, and an immediate stop or a
    /// crash of PostgreSQL loses it after the device was told it was stored
    /// (the crash campaign found exactly that). The pool's connections then
    /// start with it `on`; any stronger setting is kept. (`fsync = off` is
    /// the DBA's to fix: `docs/operations.md`.)
    /// - Parameter applicationName: PostgreSQL's `application_name` for the
    ///   pool's connections (`ServingLock.applicationName` for `serve`).
    /// - Parameter leaseTimeout: how long a request waits for a connection
    ///   (whole seconds). The lease is handed over by a task on Swift's shared
    ///   pool: a process that blocks those threads (the test process, which
    ///   waits for its child processes) needs longer than a server does.
    /// - Throws: `PSQLError` when PostgreSQL cannot be reached or refuses the sign-in.
    init(
        url: PostgresURL, logger: Logger, maximumConnections: Int = defaultMaximum,
        leaseTimeout: Duration = defaultLeaseTimeout, applicationName: String = "sync-server"
    ) async throws {
        var probe = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable)
        probe.options.connectTimeout = .seconds(10)
        let connection = try await PostgresConnection.connect(
            on: PostgresClient.defaultEventLoopGroup.next(), configuration: probe, id: 0, logger: logger)
        let settings: [PostgresRandomAccessRow]
        do {
            settings = try await PostgresSession(connection: connection, logger: logger)
                .query("SELECT current_setting('synchronous_commit') AS synchronous_commit")
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        let synchronousCommit = try settings.first?.text("synchronous_commit") ?? "on"

        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.maximumConnections = maximumConnections
        // Named, so that `restore` sees a serving instance (`ServingLock`).
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        if synchronousCommit == "off" {
            configuration.options.additionalStartupParameters.append(("synchronous_commit", "on"))
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.leaseTimeout = leaseTimeout
        // Started at once, on this thread, up to its first suspension: the
        // pool is running before the first statement asks it for a connection.
        running = Task.immediate { await client.run() }
    }

    /// Runs `body` on one connection, each statement on its own.
    func withConnection<T>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        try await leased { connection in
            try await body(PostgresSession(connection: connection, logger: logger))
        }
    }

    /// Runs `body` in one transaction (`begin` starts it): committed if it
    /// returns, rolled back if it throws.
    ///
    /// The rollback runs in a task of its own, so that a request cancelled
    /// half way (its client gone) still ends its transaction; if it fails,
    /// the connection is closed before it goes back to the pool.
    func transaction<T>(_ begin: String = readCommitted, _ body: (PostgresSession) async throws -> T) async throws -> T {
        try await leased { connection in
            try await transaction(on: PostgresSession(connection: connection, logger: logger), begin, body)
        }
    }

    /// A write transaction's `BEGIN`, its isolation said whatever the
    /// cluster's `default_transaction_isolation`: each statement reads what
    /// has committed when it starts, so a writer that waited for a lock (a
    /// referral's, the audit chain's) reads past the writer it waited for.
    static let readCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED"

    /// Runs `body` in one transaction on a connection already leased
    /// (`withConnection`'s session), as `transaction` does. Only on a
    /// session outside any transaction: a second `BEGIN` would only warn,
    /// and its `COMMIT` would end the outer transaction.
    func transaction<T>(on session: PostgresSession, _ begin: String = readCommitted, _ body: (PostgresSession) async throws -> T) async throws -> T {
        do {
            // Inside: a BEGIN whose reply is lost must be rolled back too.
            try await session.execute(begin)
            let result = try await body(session)
            try await session.execute("COMMIT")
            return result
        } catch {
            let rolledBack = await Task { () -> Bool in
                do {
                    try await session.execute("ROLLBACK")
                    return true
                } catch {
                    try? await session.connection.close()
                    return false
                }
            }.value
            if !rolledBack, !(error is StorageError) {
                logger.warning("a PostgreSQL connection was closed: its transaction could not be rolled back")
            }
            throw error
        }
    }

    /// Runs `body` on a connection leased from the pool, waiting at most
    /// `leaseTimeout` for it.
    ///
    /// The lease is held by a task of its own, which hands the connection
    /// over and keeps it until `body` ends; a lease that comes too late is
    /// given back at once.
    /// - Throws: `StorageError.noConnection` after `leaseTimeout`; what `body` throws.
    private func leased<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        // A connection PostgreSQL closed (it restarted) may still be idle in
        // the pool for a moment: it is given back and another one asked for.
        for _ in 0..<3 {
            let (connection, handoff) = try await lease()
            defer { handoff.release() }
            if connection.isClosed {
                // Once it has closed, the pool (told first) no longer lends it.
                try? await connection.closeFuture.get()
                continue
            }
            return try await body(connection)
        }
        throw StorageError.connectionClosed
    }

    /// One connection from the pool, waiting `leaseTimeout` at most; the
    /// caller gives it back with the handoff's `release`.
    private func lease() async throws -> (PostgresConnection, LeaseHandoff) {
        let handoff = LeaseHandoff()
        let holder = Task { [client] in
            do {
                try await client.withConnection { connection in
                    guard handoff.deliver(connection) else { return }
                    await handoff.awaitRelease()
                }
            } catch {
                // The pool refused (shut down, or its circuit breaker tripped).
                handoff.abandon(error)
            }
        }
        let seconds = leaseTimeout.components.seconds
        let timer = PostgresClient.defaultEventLoopGroup.any().scheduleTask(in: .seconds(seconds)) {
            handoff.abandon(StorageError.noConnection(seconds: Int(seconds)))
        }
        let connection: PostgresConnection
        do {
            connection = try await handoff.connection()
        } catch {
            timer.cancel()
            holder.cancel()
            throw error
        }
        timer.cancel()
        return (connection, handoff)
    }

    deinit {
        running.cancel()
    }
}

/// The meeting point of a request and the task that leases its connection
/// (`PostgresConnections.leased`): whichever of the lease, its failure and
/// the timeout comes first decides; the release lets the lease go.
private final class LeaseHandoff: @unchecked Sendable {
    private enum State {
        case waiting(CheckedContinuation<PostgresConnection, any Error>?)
        case delivered(PostgresConnection)
        case abandoned(any Error)
    }

    private let lock = NSLock()
    private var state = State.waiting(nil)
    private var released = false
    private var releaseWaiter: CheckedContinuation<Void, Never>?

    /// The leased connection; throws the pool's refusal or the timeout.
    func connection() async throws -> PostgresConnection {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<PostgresConnection, any Error>? = lock.withLock {
                switch state {
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                case .delivered(let connection): return .success(connection)
                case .abandoned(let error): return .failure(error)
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// From the holder: the lease came. False when the request gave up.
    func deliver(_ connection: PostgresConnection) -> Bool {
        let waiter: CheckedContinuation<PostgresConnection, any Error>?? = lock.withLock {
            guard case .waiting(let waiter) = state else { return .none }
            state = .delivered(connection)
            return .some(waiter)
        }
        guard case .some(let continuation) = waiter else { return false }
        continuation?.resume(returning: connection)
        return true
    }

    /// The lease will not come: the waiting request gets `error`.
    func abandon(_ error: any Error) {
        let waiter: CheckedContinuation<PostgresConnection, any Error>?? = lock.withLock {
            guard case .waiting(let waiter) = state else { return .none }
            state = .abandoned(error)
            return .some(waiter)
        }
        if case .some(let continuation) = waiter { continuation?.resume(throwing: error) }
    }

    /// From the holder: keeps the lease until `release`.
    func awaitRelease() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock {
                if released { return true }
                releaseWaiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// From the request: done with the connection.
    func release() {
        let waiter = lock.withLock {
            released = true
            defer { releaseWaiter = nil }
            return releaseWaiter
        }
        waiter?.resume()
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
            case .blob(let bytes?): try bindings.append(bytes)
            case .text(nil), .int(nil), .blob(nil): bindings.appendNull()
            }
        }
        // postgres-nio loses a query written to a connection PostgreSQL has
        // already closed (the write, queued to the event loop, finds the
        // channel's handlers gone and its reply never comes). On the loop,
        // the check and the write happen together: an open connection takes
        // the query through its handler, which answers or fails it.
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let connection = connection
        let logger = logger
        let loop = connection.eventLoop
        do {
            let result = try await loop.flatSubmit { () -> EventLoopFuture<PostgresQueryResult> in
                guard !connection.isClosed else { return loop.makeFailedFuture(StorageError.connectionClosed) }
                return connection.query(query, logger: logger)
            }.get()
            return result.rows.map { $0.makeRandomAccess() }
        } catch let error as PSQLError where connection.isClosed && error.serverInfo?[.sqlState] != "53100" {
            // Whatever postgres-nio says of a connection that closed under
            // the query (a shutdown's FATAL, a message cut short), it is one.
            throw StorageError.connectionClosed
        }
    }

    func execute(_ sql: String) async throws {
        try await query(sql, [])
    }
}

extension PostgresRandomAccessRow {
    func text(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func int(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
    func blob(_ column: String) throws -> Data? { try self[column].decode(Data?.self) }
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
