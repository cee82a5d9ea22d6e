import GRDB
import Hummingbird
import HTTPTypes
import PostgresNIO
import _ConnectionPoolModule
import SyncCore

/// Where storage errors become HTTP answers; nothing under `Storage/` knows
/// HTTP (`docs/architecture.md`).
///
/// A `StorageError` gets its status here (`status(of:)`): text no backend
/// stores is a 400, a name or form version taken a 409, a database out of
/// reach or a push whose new references were all taken a 503.
///
/// A request whose storage could not serve it is answered with a 503,
/// `Retry-After` and a JSON error body, never a 500:
/// - the disk is full (`storage-full`): SQLite's `SQLITE_FULL` (GRDB's
///   `DatabaseError`) and PostgreSQL's `disk_full`, SQLSTATE 53100;
/// - PostgreSQL cannot be reached (`storage-unavailable`): it is stopped,
///   restarting or shutting down (SQLSTATE class 08, 57P01–57P03), a
///   connection broke mid-request, no connection came within
///   `PostgresConnections.defaultLeaseTimeout`, or the pool has failed to connect
///   for 60 s (postgres-nio's circuit breaker).
///
/// Either way the request was acknowledged to no one: its transaction was
/// rolled back or died with its connection (or, if the connection dropped
/// just after its `COMMIT` went out, committed unconfirmed: a push sent
/// again is then answered `duplicate`). The device keeps its changes and
/// sends them again later.
struct StorageErrorMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    /// Seconds a device is asked to wait before it tries again (`Retry-After`).
    static let retryAfterSeconds = 60

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error where Self.isStorageFull(error) {
            throw APIError(
                .serviceUnavailable,
                "The server's disk is full, so nothing of this request was stored; try again in a few minutes.",
                headers: [.retryAfter: String(Self.retryAfterSeconds)], code: ErrorCode.storageFull)
        } catch let error where Self.isStorageUnreachable(error) {
            throw APIError(
                .serviceUnavailable,
                "The server cannot reach its database just now, so nothing of this request was confirmed; try again in a few minutes.",
                headers: [.retryAfter: String(Self.retryAfterSeconds)], code: ErrorCode.storageUnavailable)
        } catch let error as StorageError {
            throw APIError(Self.status(of: error), error.description)
        }
    }

    /// The status a storage refusal is answered with. The operator's own
    /// failures (a database file that cannot be made private, a backup
    /// refused) never come from a request; should one, it is the server's
    /// fault, a 500.
    static func status(of error: StorageError) -> HTTPResponse.Status {
        switch error {
        case .unstorableText: .badRequest
        case .duplicateUser, .formVersionTaken: .conflict
        case .notPrivate, .backupRefused: .internalServerError
        case .noConnection, .connectionClosed, .referencesTaken: .serviceUnavailable
        }
    }

    /// Whether `error` says the database ran out of space.
    static func isStorageFull(_ error: any Error) -> Bool {
        if let error = error as? DatabaseError { return error.resultCode == .SQLITE_FULL }
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "53100" }
        return false
    }

    /// Whether `error` says PostgreSQL is down, going down, or out of reach.
    static func isStorageUnreachable(_ error: any Error) -> Bool {
        if case StorageError.noConnection = error { return true }
        if case StorageError.connectionClosed = error { return true }
        if let error = error as? ConnectionPoolError { return error == .connectionCreationCircuitBreakerTripped }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed: return true
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        default: return false
        }
    }
}
