import ArgumentParser
import Foundation
import SyncCore

/// `--db` or `--postgres`, shared by every subcommand that opens the store.
struct StorageOptions: ParsableArguments {
    @Option(help: "The SQLite database file; only `serve` and `user add` create it when it is missing.")
    var db = "sync-server.sqlite"

    @Option(help: ArgumentHelp(
        "A PostgreSQL database instead of SQLite: postgres://user[:password]@host[:port]/database (migrated on start). Also read from DATABASE_URL.",
        valueName: "url"))
    var postgres: String?

    @Option(help: ArgumentHelp(
        "With --postgres: connections this process opens at most; requests beyond them wait for one. Keep the sum over instances below PostgreSQL's max_connections.",
        valueName: "n"))
    var postgresConnections = PostgresConnections.defaultMaximum

    func validate() throws {
        guard postgresConnections >= 1 else {
            throw ValidationError("--postgres-connections needs 1 or more, not \(postgresConnections).")
        }
    }

    /// `--postgres`, else `DATABASE_URL`, else nil (SQLite).
    var postgresURL: String? {
        postgres ?? ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens the store. A missing SQLite file is created only when
    /// `creatingIfMissing` (`serve`, `user add`): every other command needs
    /// the database the server already has, and a mistyped `--db` must not
    /// quietly give it a new empty one.
    /// - Parameter chaining: how PostgreSQL chains audit entries after their
    ///   commits: a command chains its own before it returns, `serve` has a
    ///   sequencer.
    /// - Parameter serving: for `serve`: the store is marked as held by a
    ///   running server (`ServingLock`), which `restore` refuses to replace.
    func open(creatingIfMissing: Bool = false, chaining: AuditChaining = .beforeReturning, serving: Bool = false) async throws -> any SyncStorage {
        if let text = postgresURL {
            guard let url = PostgresURL(text) else {
                throw OperatorError("'\(text.prefix(200))' is not a PostgreSQL address: postgres://user[:password]@host[:port]/database.")
            }
            do {
                return try await PostgresStorage(
                    url: url, maximumConnections: postgresConnections, chaining: chaining,
                    applicationName: serving ? ServingLock.applicationName : "sync-server")
            } catch {
                throw OperatorError("Cannot open the PostgreSQL database \(url): \(String(reflecting: error)).")
            }
        }
        guard creatingIfMissing || FileManager.default.fileExists(atPath: db) else {
            throw OperatorError("There is no database '\(db)'; give the server's database with --db (only `serve` and `user add` create a new one).")
        }
        do {
            let store = try SQLiteStorage(path: db)
            if serving { try ServingLock.holdWhileServing(db) }
            return store
        } catch let error as OperatorError {
            throw error
        } catch let error as StorageError {
            throw OperatorError(error.description)
        } catch {
            throw OperatorError("Cannot open the database '\(db)': \(error).")
        }
    }
}
