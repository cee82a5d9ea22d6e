import Foundation
import GRDB

/// How far this device's clock is from the server's, as the device tells its
/// user (once per new offset).
public struct ClockNotice: Sendable, Equatable, Codable {
    /// Device minus server, in milliseconds (positive: the device is ahead).
    public var offsetMilliseconds: Int64

    public init(offsetMilliseconds: Int64) {
        self.offsetMilliseconds = offsetMilliseconds
    }

    /// One plain sentence for the practitioner.
    public var sentence: String {
        guard offsetMilliseconds != 0 else {
            return "This device's clock now agrees with the server's."
        }
        let direction = offsetMilliseconds > 0 ? "ahead of" : "behind"
        return "This device's clock is \(Self.span(abs(offsetMilliseconds))) \(direction) the server's: nothing is lost, the server orders your changes by its own time, but please set the date and time right in the system settings."
    }

    /// `3 days 2 hours`, `5 minutes`: the two largest units.
    static func span(_ milliseconds: Int64) -> String {
        let minutes = milliseconds / 60_000
        let parts: [(Int64, String)] = [(minutes / 1440, "day"), (minutes / 60 % 24, "hour"), (minutes % 60, "minute")]
        let named = parts.drop { $0.0 == 0 }.prefix(2).filter { $0.0 > 0 }
        guard !named.isEmpty else { return "less than a minute" }
        return named.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }.joined(separator: " ")
    }
}

/// Healing a device or a server that moved backwards or sideways
/// (docs/protocol.md, "Recovery"):
/// - a device clock off from the server's is measured on every sync, told
///   once, and no longer drives this device's clock stamps ahead;
/// - a change refused for the device's state, not its content, is sent again
///   under a new change number, with no login and no retyping;
/// - a restored server is reconciled: the device pulls its log from the start
///   and sends back every value it holds that the server lacks or holds older.
extension LocalStore {
    /// An offset below this is network and rounding, not a wrong clock.
    public static let clockTolerance: Int64 = 120_000

    /// Records the server's time as the device read it at `clock.now()`;
    /// returns a notice when the offset is new to the user (or gone).
    /// Once an offset is known, this device's clock stamps run at the
    /// server's time, and a stamp already ahead of it is brought back.
    /// - Parameter serverTime: ISO 8601 (`2026-11-23T10:00:00Z`); ignored if unreadable.
    @discardableResult
    public func noteServerTime(_ serverTime: String?) throws -> ClockNotice? {
        guard let serverTime, Timestamp.date(serverTime) != nil else { return nil }
        return try writer.write { db in try noteServerTime(serverTime, db: db) }
    }

    func noteServerTime(_ serverTime: String?, db: Database) throws -> ClockNotice? {
        guard let serverTime, let server = Timestamp.date(serverTime) else { return nil }
        let local = clock.now()
        var offset = Int64(((local.timeIntervalSince1970 - server.timeIntervalSince1970) * 1000).rounded())
        if abs(offset) < Self.clockTolerance { offset = 0 }
        let row = try db.row("SELECT clock_noted_ms, hlc_wall FROM device")!
        let noted: Int64 = row["clock_noted_ms"]
        let correctedNow = Int64((local.timeIntervalSince1970 * 1000).rounded(.down)) - offset
        // Stamps made while the clock ran ahead stop pulling later ones ahead.
        if (row["hlc_wall"] as Int64) > correctedNow + Self.clockTolerance {
            try db.run("UPDATE device SET hlc_wall = ?, hlc_counter = 0", [correctedNow])
        }
        // Conditional, so an unchanged offset dirties no page on every reply.
        try db.run("UPDATE device SET clock_offset_ms = ? WHERE clock_offset_ms != ?", [offset, offset])
        guard abs(offset - noted) >= Self.clockTolerance else { return nil }
        try db.run("UPDATE device SET clock_noted_ms = ?", [offset])
        return ClockNotice(offsetMilliseconds: offset)
    }

    // MARK: - Refusals sent again

    // MARK: - A restored server

    /// Writes a consistent copy of the whole store to `path` with SQLite's
    /// online backup (encrypted as the store is): what a device backup holds.
    /// - Throws: a database error if `path` cannot be written.
    public func backup(to path: String) throws {
        try writer.backup(to: DatabaseQueue(path: path))
    }

    /// The epoch of the server log this device last synced with (nil before its first pull).
    public func serverEpoch() throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT server_epoch FROM device") }
    }

    /// Records the server's epoch the first time the device sees one.
    public func adoptServerEpoch(_ epoch: String) throws {
        try writer.write { db in try db.run("UPDATE device SET server_epoch = coalesce(server_epoch, ?)", [epoch]) }
    }

    /// Whether a reconciliation with a restored server is under way.
    public func isReconciling() throws -> Bool {
        try writer.read { db in try Bool.fetchOne(db, sql: "SELECT reconcile_after IS NOT NULL FROM device") ?? false }
    }

    /// Starts reconciling with a server whose log is not the one this device
    /// synced with, in one transaction: keeps what the device holds now (each
    /// field's value and the stamp of its latest edit), moves the pull cursor
    /// to the start, and forgets the old log's revisions (base revisions 0),
    /// so that no change is merged against a revision the server lost. Open
    /// conflicts are forgotten too: the restored log may not have them (one
    /// opened after its backup stayed open on the device for ever), and
    /// pulling it from the start brings back each one it has; their values
    /// are in the snapshot, and sent again where the server lacks them.
    /// - Parameter epoch: the server's new epoch, when known (nil: learn it on the next pull).
    public func beginReconcile(epoch: String?) throws {
        try writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT reconcile_after IS NULL FROM device") == true {
                try db.execute(sql: "DELETE FROM reconcile_snapshot")
                try db.execute(sql: """
                    INSERT INTO reconcile_snapshot (referral_id, path, value, hlc)
                    SELECT f.referral_id, f.path, f.value,
                        coalesce((SELECT h.hlc FROM history h WHERE h.referral_id = f.referral_id AND h.path = f.path ORDER BY h.id DESC LIMIT 1), '')
                    FROM field_value f
                    """)
                try db.run("UPDATE device SET reconcile_after = (SELECT coalesce(max(id), 0) FROM history)")
            }
            try db.run("UPDATE device SET pull_cursor = 0, server_epoch = ?", [epoch])
            // A server restored from a backup may lack files it once received: each is offered again (a no-op where held).
            try db.execute(sql: "UPDATE attachment SET received_at = NULL")
            try db.execute(sql: "UPDATE field_value SET base_rev = 0")
            try db.execute(sql: "UPDATE outbox SET base_rev = 0")
            try db.execute(sql: "DELETE FROM conflict WHERE status = 'open'")
        }
    }

    /// Ends a reconciliation once the restored log has been pulled whole:
    /// every value the device held that the server lacks, or holds with an
    /// older stamp, is queued to send again (and shown again where the pull
    /// replaced it). A value another device wrote later stays. Fields with a
    /// change still pending are left to it. Returns how many values were queued.
    /// - Parameter resend: false for intake and admin devices, which send no content.
    @discardableResult
    public func finishReconcile(resend: Bool) throws -> Int {
        try writer.write { db in
            guard let after = try Int64.fetchOne(db, sql: "SELECT reconcile_after FROM device") else { return 0 }
            var queued = 0
            if resend {
                let held = try Row.fetchAll(db, sql: """
                    SELECT s.referral_id, s.path, s.value, s.hlc, f.value AS now_value, f.base_rev
                    FROM reconcile_snapshot s JOIN field_value f ON f.referral_id = s.referral_id AND f.path = s.path
                    WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.referral_id = s.referral_id AND o.path = s.path AND o.rejected_reason IS NULL)
                    ORDER BY s.referral_id, s.path
                    """)
                var byReferral: [String: [(path: String, value: String?, stamp: String)]] = [:]
                for row in held {
                    let referral: String = row["referral_id"]
                    let path: String = row["path"]
                    let value = try cipher.open(row, "value", record: referral, path: path)
                    guard case .success = forms.union.rules(forStoredPath: path, value: value) else { continue }
                    let serverHasIt = (row["base_rev"] as Int64) > 0
                    if serverHasIt {
                        let shown = try cipher.open(row, "now_value", record: referral, path: path)
                        if shown == value { continue }
                        // The server's value, as the pull brought it: newer than what was held?
                        let serverStamp = try String.fetchOne(db, sql: """
                            SELECT hlc FROM history WHERE referral_id = ? AND path = ? AND id > ? AND origin = 'server' ORDER BY id DESC LIMIT 1
                            """, arguments: [referral, path, after])
                        if let serverStamp, let theirs = HLCStamp(serverStamp), let ours = HLCStamp(row["hlc"]), theirs > ours { continue }
                    } else if value == nil {
                        continue
                    }
                    byReferral[referral, default: []].append((path, value, row["hlc"]))
                }
                let now = clock.now()
                for (referral, changes) in byReferral {
                    guard let id = UUID(uuidString: referral) else { continue }
                    queued += try record(changes.map { ($0.path, $0.value) }, in: id, db: db, now: now, resend: true).filter(\.changed).count
                    // Sent with the stamp of the edit that made it, not the time
                    // it is sent back: an `lww` race is judged on when it was written.
                    for change in changes where HLCStamp(change.stamp) != nil {
                        try db.run("UPDATE outbox SET hlc = ? WHERE referral_id = ? AND path = ? AND sent_at IS NULL",
                            [change.stamp, referral, change.path])
                    }
                }
            }
            try db.execute(sql: "DELETE FROM reconcile_snapshot")
            try db.run("UPDATE device SET reconcile_after = NULL")
            return queued
        }
    }
}
