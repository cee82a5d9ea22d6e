import Foundation
import GRDB

/// The device's store: one SQLite file in WAL mode holding referrals, the value
/// each field shows, every local edit (history) and the changes waiting to be
/// pushed (outbox).
///
/// Each public write method is one transaction that keeps every invariant:
/// a value, its history line and its outbox entry are written together or not
/// at all, so a crash at any point leaves the store consistent. Commits are
/// synchronous (`synchronous = FULL`): a write the method returned from
/// survives a power cut.
public struct LocalStore: Sendable {
    public let form: ReferralForm
    /// This device's id, made on first open.
    public let deviceID: String
    let writer: DatabaseQueue
    let clock: any WallClock
    let ids: any IDGenerator

    /// Opens (creating if needed) the store at `path` and migrates it.
    /// - Parameter author: who this device writes as, recorded on first open.
    public init(
        path: String, author: String, clock: any WallClock = SystemClock(),
        ids: (any IDGenerator)? = nil, form: ReferralForm = .standard
    ) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let writer = try DatabaseQueue(path: path, configuration: configuration)
        try StoreSchema.migrator.migrate(writer)
        let ids = ids ?? UUIDv7Generator(clock: clock)
        self.deviceID = try writer.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT device_id FROM device") {
                return existing
            }
            let deviceID = ids.next().lowercased
            try db.execute(
                sql: "INSERT INTO device (id, device_id, author, created_at) VALUES (1, ?, ?, ?)",
                arguments: [deviceID, author, Timestamp.string(clock.now())])
            return deviceID
        }
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.form = form
    }

    /// Who this device writes as.
    public func author() throws -> String {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT author FROM device") ?? "" }
    }

    /// Checks the file with SQLite's own integrity check; returns its complaints.
    public func integrityProblems() throws -> [String] {
        try writer.read { db in
            let rows = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            return rows == ["ok"] ? [] : rows
        }
    }
}
