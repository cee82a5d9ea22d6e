import ArgumentParser
import Foundation
import GRDB
import SyncCore

/// `sync-server restore`: puts a backup back and gives the log a new epoch,
/// so that every device notices and reconciles on its next sync: it pulls the
/// restored log from the start and sends again every value it holds that the
/// server lacks (docs/operations.md, "Restoring a server").
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore the server from a backup and start a new epoch, so that devices send back what the backup lacks.",
        discussion: """
            With --from (SQLite), the backup is copied into --db with SQLite's online backup; the database it \
            replaces is kept beside it as DB.replaced-TIME. Without --from, only a new epoch is started: do that \
            after restoring by other means (pg_restore into the --postgres database, or a file put back by hand). \
            Stop every server instance first: restore refuses while one serves the database (a SQLite server \
            holds a lock on the file; a PostgreSQL one is seen in pg_stat_activity), unless --force.
            """)

    @Option(help: ArgumentHelp("A backup of the SQLite database (sqlite3 DB \".backup FILE\").", valueName: "backup"))
    var from: String?
    @Flag(help: "Restore even though a server is serving the database (for an operator who knows that instance is going away); devices it answers meanwhile may be told of changes the restore then removes.")
    var force = false
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let now = Timestamp.string(Date())
        try await refuseWhileServed()
        var kept: String?
        if let from {
            guard storage.postgresURL == nil else {
                throw OperatorError("--from restores a SQLite file; restore a PostgreSQL database with pg_restore, then run `sync-server restore --postgres URL` without --from.")
            }
            kept = try Self.copy(backup: from, over: storage.db, stamp: now)
        } else if storage.postgresURL == nil, !FileManager.default.fileExists(atPath: storage.db) {
            throw OperatorError("There is no database '\(storage.db)' to restore; give the backup with --from.")
        }
        let store = try await storage.open()
        if !force, let postgres = store as? PostgresStorage, case let count = try await postgres.servingSessions(), count > 0 {
            throw Self.inUse(by: "\(count) connection(s) of a running sync-server serve")
        }
        let epoch = try await store.startNewEpoch(by: OperatorActor.current, at: now)
        let end = try await store.identity().end
        print("The server's log ends at revision \(end); its new epoch is \(epoch). Each device pulls it from the start on its next sync and sends back what it holds that the server lacks.")
        if let kept { print("The database it replaced is kept as \(kept).") }
    }

    /// Refuses, unless `--force`, while a `serve` holds the SQLite database
    /// (`ServingLock`), before anything is copied over it. PostgreSQL's
    /// serving instances are counted once the store is open (`run`).
    func refuseWhileServed() async throws {
        guard !force, storage.postgresURL == nil, FileManager.default.fileExists(atPath: storage.db) else { return }
        if !(try ServingLock.takeForRestore(storage.db)) {
            throw Self.inUse(by: "a running sync-server serve (it holds a lock on '\(storage.db)')")
        }
    }

    static func inUse(by holder: String) -> OperatorError {
        OperatorError("The database is in use by \(holder); stop every server instance first, or pass --force if you know it is safe.")
    }

    /// Copies `backup` over `path` with SQLite's backup API, after keeping
    /// the current database (if any) as `path.replaced-STAMP`; returns where.
    static func copy(backup: String, over path: String, stamp: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: backup) else {
            throw OperatorError("There is no backup file '\(backup)'.")
        }
        var readOnly = Configuration()
        readOnly.readonly = true
        let source: DatabaseQueue
        do {
            source = try DatabaseQueue(path: backup, configuration: readOnly)
            guard try source.read({ try $0.tableExists("change_log") }) else {
                throw OperatorError("'\(backup)' is not a sync-server database (it has no change log).")
            }
        } catch let error as OperatorError {
            throw error
        } catch {
            throw OperatorError("'\(backup)' is not a SQLite database this server can read: \(error).")
        }
        var kept: String?
        if FileManager.default.fileExists(atPath: path) {
            let aside = path + ".replaced-" + stamp.replacingOccurrences(of: ":", with: "")
            try DatabasePool(path: path).backup(to: DatabaseQueue(path: aside))
            kept = aside
        }
        try source.backup(to: DatabasePool(path: path))
        return kept
    }
}
