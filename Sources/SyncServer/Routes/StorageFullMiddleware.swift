import GRDB
import Hummingbird
import HTTPTypes
import PostgresNIO
import SyncCore

/// Answers a request whose storage ran out of disk with a 503, `Retry-After`
/// and a JSON error body, never a 500: SQLite's `SQLITE_FULL` (GRDB's
/// `DatabaseError`) and PostgreSQL's `disk_full`, SQLSTATE 53100
/// (postgres-nio's `PSQLError`). The failed transaction was rolled back, so
/// nothing of the request is stored, and a push was acknowledged to no one:
/// the device keeps its changes and sends them again later.
///
/// Storage errors do not know HTTP (`docs/architecture.md`): they are mapped
/// here, around the routes.
struct StorageFullMiddleware: RouterMiddleware {
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
        }
    }

    /// Whether `error` says the database ran out of space.
    static func isStorageFull(_ error: any Error) -> Bool {
        if let error = error as? DatabaseError { return error.resultCode == .SQLITE_FULL }
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "53100" }
        return false
    }
}
