import ArgumentParser
import Foundation
import SyncCore

/// `sync-server migrate-store --from FILE --to URL`: moves a server from its
/// SQLite file to PostgreSQL, keeping everything devices rely on (users and
/// their token hashes, devices and theirs, the whole change log with its
/// revisions, outcomes, conflicts, receipts, the audit trail and the server's
/// epoch), so devices carry on syncing as if nothing had happened
/// (docs/operations.md, "Moving from SQLite to PostgreSQL").
///
/// Errors are one sentence naming the bad value (`OperatorError`, exit 1, no
/// usage): a `--from` that is missing (never created), not a SQLite file or
/// not a sync-server store; a `--to` that is not a PostgreSQL address, does
/// not connect, or already holds a store; a copy that does not verify.
struct MigrateStore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy a SQLite store into an empty PostgreSQL database, verify the copy, and keep the server's epoch.",
        discussion: """
            Stop the server first. The SQLite file is only read (one snapshot); the PostgreSQL database is migrated \
            to the current schema, then everything is copied in one transaction and checked (row counts, a checksum \
            of the change log, the audit chain) before it commits; if anything differs nothing is written. A target \
            that already holds users, records, changes or audit entries is refused.
            """)

    @Option(help: ArgumentHelp("The server's SQLite database (it is only read).", valueName: "file"))
    var from: String
    @Option(help: ArgumentHelp("The PostgreSQL database to fill: postgres://user[:password]@host[:port]/database.", valueName: "url"))
    var to: String

    func run() async throws {
        let started = ContinuousClock.now
        // A stopped server leaves no write-ahead log behind; a running one has one.
        let wal = (try? FileManager.default.attributesOfItem(atPath: from + "-wal"))?[.size] as? NSNumber
        let source = try StoreMigration.openSource(from)
        if let wal, wal.intValue > 0 {
            print("Note: '\(from)-wal' exists, so a server may still be running on it: this copies it as it is now, and what that server accepts afterwards will not be in PostgreSQL (stop it first; docs/operations.md).")
        }
        guard let url = PostgresURL(to) else {
            throw OperatorError("'\(to.prefix(200))' is not a PostgreSQL address: postgres://user[:password]@host[:port]/database.")
        }
        let target: PostgresStorage
        do {
            target = try await PostgresStorage(url: url, chaining: .beforeReturning)
        } catch {
            throw OperatorError("Cannot open the PostgreSQL database \(url): \(String(reflecting: error)).")
        }
        let migration = StoreMigration(source: source, sourcePath: from, target: target, targetName: url.description)
        let report: StoreMigration.Report
        do {
            report = try await migration.run(at: Timestamp.string(Date()))
        } catch let error as OperatorError {
            throw error
        } catch let error as StorageError {
            throw OperatorError("Copying '\(from)' into \(url) failed, so nothing was written: \(error.description)")
        } catch {
            throw OperatorError("Copying '\(from)' into \(url) failed, so nothing was written: \(String(reflecting: error)).")
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        for note in report.notes { print("Note: \(note)") }
        print("Copied '\(from)' into \(url) in \(String(format: "%.2f", seconds)) s:")
        let width = report.counts.map(\.table.count).max() ?? 0
        for (table, count) in report.counts {
            print("  \(table.padding(toLength: width, withPad: " ", startingAt: 0))  \(count)")
        }
        let epoch = report.keptEpoch
            ? "keeps the epoch \(report.epoch ?? "?"), so devices carry on without reconciling"
            : "has PostgreSQL's new epoch \(report.epoch ?? "?")"
        print("""
            Verified: the same rows in every table, the change log's SHA-256 \(report.checksum.prefix(16))… on both sides, \
            the audit trail of \(report.auditEntries) entries intact. The log ends at revision \(report.end) and \(epoch).
            """)
        print("Start the server with --postgres \(url) (or DATABASE_URL); keep '\(from)' until it has served devices.")
    }
}
