import GRDB
import SyncCore

/// What operators list from the command line (`user list`, `device list`, `audit show`).
extension SQLiteStorage {
    func users() throws -> [UserSummary] {
        try pool.read { db in
            try Row.fetchAll(db, sql: ServerQueries.users).map { UserSummary(name: $0["name"], role: $0["role"], createdAt: $0["created_at"]) }
        }
    }

    func devices(user: String?) throws -> [DeviceSummary] {
        try pool.read { db in
            try Row.fetchAll(db, sql: ServerQueries.sqlite(ServerQueries.devices), arguments: [user]).map {
                DeviceSummary(
                    id: $0[0], user: $0[1], registeredAt: $0[2], lastSyncAt: $0[3], revokedAt: $0[4], revokedBy: $0[5], wipedAt: $0[6])
            }
        }
    }

    func deviceIDs(startingWith prefix: String) throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: ServerQueries.sqlite(ServerQueries.devicesByPrefix), arguments: [prefix]) }
    }

    func recordSync(device: String, user: Int64, at: String) throws {
        try pool.write { db in try db.execute(sql: ServerQueries.sqlite(ServerQueries.recordSync), arguments: [device, user, at]) }
    }

    func auditEntries(_ filter: AuditFilter) throws -> [AuditListing] {
        let (sql, binds) = ServerQueries.audit(filter)
        return try pool.read { db in
            try Row.fetchAll(db, sql: ServerQueries.sqlite(sql), arguments: StatementArguments(binds)).map {
                AuditListing(id: $0[0], event: AuditEvent(at: $0[1], actor: $0[2], action: $0[3], record: $0[4], detail: $0[5]))
            }.reversed() as [AuditListing]
        }
    }
}
