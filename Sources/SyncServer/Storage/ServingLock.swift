import Foundation
import SyncCore

#if canImport(Glibc)
import Glibc
#endif

/// Whether a `sync-server serve` holds a database, so that `restore` does not
/// replace it under a running server (docs/operations.md, "Restoring a server").
///
/// - SQLite: each `serve` holds a shared `flock(2)` on `DB.serving` for as
///   long as it runs; the kernel drops it when the process ends, however it
///   ends (SIGKILL included), so no lock is ever left behind. `restore` takes
///   it exclusively without waiting, and keeps it while it works, so no
///   server starts half way through.
/// - PostgreSQL: each `serve` connects with `application_name` set to
///   `applicationName`; `restore` counts such sessions on the database
///   (`pg_stat_activity`).
enum ServingLock {
    /// The `application_name` of a serving instance's PostgreSQL connections.
    static let applicationName = "sync-server serve"

    /// The lock file beside a SQLite database.
    static func path(for database: String) -> String { database + ".serving" }

    /// Holds the shared lock for the rest of the process (the descriptor is
    /// never closed).
    /// - Throws: `OperatorError` if a `restore` holds the database now.
    static func holdWhileServing(_ database: String) throws {
        let descriptor = try open(database)
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else {
            close(descriptor)
            throw OperatorError("'\(database)' is being restored (`sync-server restore` holds \(path(for: database))); start the server once it has finished.")
        }
    }

    /// Takes the exclusive lock, for the rest of the process: false if a
    /// server holds the database.
    static func takeForRestore(_ database: String) throws -> Bool {
        let descriptor = try open(database)
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
        close(descriptor)
        return false
    }

    private static func open(_ database: String) throws -> Int32 {
        let descriptor = Glibc.open(path(for: database), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw OperatorError("Cannot open the lock file '\(path(for: database))' (\(String(cString: strerror(errno)))); check the folder's permissions.")
        }
        return descriptor
    }
}
