import Foundation
import SyncCore

#if canImport(Glibc)
import Glibc
#endif

/// Whether a `sync-server serve` holds a database, so that `restore` does not
/// replace it under a running server (docs/operations.md, "Restoring a server").
///
/// - SQLite: each `serve` holds a shared `flock(2)` on the database file
///   itself for as long as it runs; the kernel drops it when the process
///   ends, however it ends (SIGKILL included), so no lock is ever left
///   behind, and a symbolic or hard link names the same file, so it cannot
///   be got round. `restore` takes it exclusively without waiting, and keeps
///   it while it works, so no server starts half way through. (SQLite's own
///   locks are POSIX record locks, which Linux keeps apart from `flock`; the
///   descriptor is never closed while SQLite has the file open, which would
///   drop SQLite's locks.)
/// - PostgreSQL: each `serve` connects with `application_name` set to
///   `applicationName`; `restore` counts such sessions on the database
///   (`pg_stat_activity`).
enum ServingLock {
    /// The `application_name` of a serving instance's PostgreSQL connections.
    static let applicationName = "sync-server serve"

    /// Holds the shared lock for the rest of the process (the descriptor is
    /// never closed). Call it once the database file exists.
    /// - Throws: `OperatorError` if a `restore` holds the database now.
    static func holdWhileServing(_ database: String) throws {
        let descriptor = try open(database)
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else {
            close(descriptor)
            throw OperatorError("'\(database)' is being restored (`sync-server restore` holds it); start the server once it has finished.")
        }
    }

    /// Takes the exclusive lock, for the rest of the process: false if a
    /// server holds the database. Call it before SQLite opens the file.
    static func takeForRestore(_ database: String) throws -> Bool {
        let descriptor = try open(database)
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
        close(descriptor)
        return false
    }

    private static func open(_ database: String) throws -> Int32 {
        let descriptor = Glibc.open(database, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw OperatorError("Cannot open '\(database)' to lock it (\(String(cString: strerror(errno)))).")
        }
        return descriptor
    }
}
