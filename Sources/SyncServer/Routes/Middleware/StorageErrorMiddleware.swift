import GRDB
import Hummingbird
import HTTPTypes
import PostgresNIO
import _ConnectionPoolModule
import SyncCore

/// Answers a request whose storage could not serve it with a 503,
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
///
/// Storage errors do not know HTTP (`docs/architecture.md`): they are mapped
/// here, around the routes.
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
