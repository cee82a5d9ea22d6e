import Foundation
import GRDB

extension LocalStore {
    /// The referral whose id starts with `prefix` (a whole id is a prefix too).
    public func referralID(matching prefix: String) throws -> UUID {
        let lowered = prefix.lowercased()
        guard !lowered.isEmpty, lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw StoreError.unknownReferral(prefix)
        }
        let matches = try writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT id FROM referral WHERE id >= ? AND id < ? ORDER BY id LIMIT 4",
                arguments: [lowered, lowered + "~"])
        }
        guard let first = matches.first else { throw StoreError.unknownReferral(prefix) }
        guard matches.count == 1 else { throw StoreError.ambiguousReferral(prefix, matches: matches.map { String($0.prefix(13)) }) }
        return UUID(uuidString: first)!
    }

    public func referral(_ id: UUID) throws -> Referral {
        try writer.read { db in try fetchReferral(id, db: db) }
    }

    func fetchReferral(_ id: UUID, db: Database) throws -> Referral {
        let key = id.lowercased
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM referral WHERE id = ?", arguments: [key]) else {
            throw StoreError.unknownReferral(key)
        }
        var values: [String: String] = [:]
        var cleared: Set<String> = []
        for field in try Row.fetchAll(db, sql: "SELECT path, value FROM field_value WHERE referral_id = ?", arguments: [key]) {
            let path: String = field["path"]
            if let value = try cipher.open(field, "value", record: key, path: path) { values[path] = value } else { cleared.insert(path) }
        }
        let pending = try String.fetchSet(db, sql: "SELECT path FROM outbox WHERE referral_id = ? AND rejected_reason IS NULL", arguments: [key])
        return Referral(
            id: id, createdAt: Timestamp.date(row["created_at"]) ?? .distantPast, createdBy: row["created_by"],
            updatedAt: Timestamp.date(row["updated_at"]) ?? .distantPast,
            values: values, clearedPaths: cleared, pendingPaths: pending)
    }

    /// Every referral on the device, most recently changed first.
    public func summaries() throws -> [ReferralSummary] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT r.id, r.updated_at,
                    (SELECT value FROM field_value WHERE referral_id = r.id AND path = '@kind') AS kind,
                    (SELECT value FROM field_value WHERE referral_id = r.id AND path = '@status') AS status,
                    (SELECT value FROM field_value f WHERE f.referral_id = r.id AND f.path LIKE 'children.%.full_name'
                        AND (SELECT value FROM field_value i WHERE i.referral_id = r.id
                             AND i.path = substr(f.path, 1, length(f.path) - length('.full_name'))) = 'present'
                        ORDER BY f.path LIMIT 1) AS label,
                    (SELECT f.path FROM field_value f WHERE f.referral_id = r.id AND f.path LIKE 'children.%.full_name'
                        AND (SELECT value FROM field_value i WHERE i.referral_id = r.id
                             AND i.path = substr(f.path, 1, length(f.path) - length('.full_name'))) = 'present'
                        ORDER BY f.path LIMIT 1) AS label_path,
                    (SELECT count(*) FROM outbox WHERE referral_id = r.id) AS pending,
                    (SELECT value FROM field_value WHERE referral_id = r.id AND path = '@reference') AS reference
                FROM referral r ORDER BY r.updated_at DESC, r.id DESC
                """)
            return try rows.map { row in
                let id: String = row["id"]
                let label = try (row["label_path"] as String?).flatMap { try cipher.open(row, "label", record: id, path: $0) }
                return ReferralSummary(
                    id: UUID(uuidString: id)!,
                    kind: (row["kind"] as String?).flatMap(ReferralKind.init(rawValue:)) ?? .socialCare,
                    status: (row["status"] as String?).flatMap(ReferralStatus.init(rawValue:)) ?? .draft,
                    updatedAt: Timestamp.date(row["updated_at"]) ?? .distantPast,
                    label: label, pendingChanges: row["pending"],
                    reference: try cipher.open(row, "reference", record: id, path: IntakePath.reference))
            }
        }
    }

    /// The local history of a referral, oldest first; with a path, only that
    /// field's (or that group item's, or that section's) lines.
    public func history(of id: UUID, path typedPath: String? = nil) throws -> [HistoryEntry] {
        try writer.read { db in
            var sql = "SELECT * FROM history WHERE referral_id = ?"
            var arguments: StatementArguments = [id.lowercased]
            if let typedPath, forms.union.section(typedPath) != nil {
                sql += " AND path LIKE ?"
                arguments += [typedPath + ".%"]
            } else if let typedPath {
                let referral = try fetchReferral(id, db: db)
                let resolved = try forms.union.resolve(typedPath, items: referral.resolvableItems(of:))
                sql += " AND (path = ? OR path LIKE ?)"
                arguments += [resolved.path, resolved.path + ".%"]
            }
            sql += " ORDER BY id"
            let record = id.lowercased
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let path: String = row["path"]
                return HistoryEntry(
                    id: row["id"], path: path,
                    oldValue: try cipher.open(row, "old_value", record: record, path: path),
                    newValue: try cipher.open(row, "new_value", record: record, path: path),
                    author: row["author"], device: row["device_id"], at: Timestamp.date(row["at"]) ?? .distantPast,
                    hlc: HLCStamp(row["hlc"]) ?? HLCStamp(wall: 0, counter: 0, device: row["device_id"]))
            }
        }
    }
}
