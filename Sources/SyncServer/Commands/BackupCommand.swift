import ArgumentParser
import Foundation
import SyncCore

/// `sync-server backup`: a consistent copy of a live SQLite database, `0600`.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite database, while the server runs, to a new file readable by its owner only (0600).",
        discussion: "PostgreSQL is backed up with PostgreSQL's own tools (pg_dump, base backups); see docs/operations.md.")
    @OptionGroup var storage: StorageOptions
    @Option(help: "The new file to write; an existing file is never overwritten.") var to: String

    func run() async throws {
        guard storage.postgresURL == nil else {
            throw OperatorError("A PostgreSQL database is backed up with pg_dump or base backups, not with sync-server backup (docs/operations.md).")
        }
        guard let sqlite = try await storage.open() as? SQLiteStorage else { return }
        do {
            try sqlite.backup(to: to)
        } catch let error as StorageError {
            throw OperatorError(error.description)
        }
        print("Backed up '\(storage.db)' to '\(to)' (0600).")
    }
}
