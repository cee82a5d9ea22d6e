import SyncCore

/// What operators list from the command line (`user list`, `device list`, `audit show`).
extension PostgresStorage {
    private func read<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try connections.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    func users() throws -> [UserSummary] {
        try read { session in
            try session.query(ServerQueries.users).map { UserSummary(name: try $0.text(0)!, role: try $0.text(1)!, createdAt: try $0.text(2)!) }
        }
    }

    func devices(user: String?) throws -> [DeviceSummary] {
        try read { session in
            try session.query(ServerQueries.devices, .text(user)).map {
                DeviceSummary(
                    id: try $0.text(0)!, user: try $0.text(1)!, registeredAt: try $0.text(2)!, lastSyncAt: try $0.text(3),
                    revokedAt: try $0.text(4), revokedBy: try $0.text(5), wipedAt: try $0.text(6))
            }
        }
    }

    func deviceIDs(startingWith prefix: String) throws -> [String] {
        try read { session in try session.query(ServerQueries.devicesByPrefix, .text(prefix)).map { try $0.text(0)! } }
    }

    func recordSync(device: String, user: Int64, at: String) throws {
        try connections.withConnection { session in
            try session.query(ServerQueries.recordSync, .text(device), .int(user), .text(at))
        }
    }

    func auditEntries(_ filter: AuditFilter) throws -> [AuditListing] {
        let (sql, binds) = ServerQueries.audit(filter)
        return try read { session in
            try session.query(sql, binds.map { SQLBind.text($0) }).map {
                AuditListing(
                    id: try $0.int(0)!,
                    event: AuditEvent(at: try $0.text(1)!, actor: try $0.text(2)!, action: try $0.text(3)!, record: try $0.text(4), detail: try $0.text(5)!))
            }.reversed() as [AuditListing]
        }
    }
}
