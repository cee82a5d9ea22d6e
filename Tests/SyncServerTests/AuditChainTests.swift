import Foundation
import GRDB
import Testing
@testable import SyncServer

/// PostgreSQL appends to the audit chain in one statement (`audit_append`),
/// hashing in SQL what `AuditTrail.hash` hashes in Swift: the same entries
/// must give the same chain on both backends, or `audit verify` would call
/// an intact PostgreSQL chain broken.
@Suite("Audit chain: one hash on both backends", .enabled(if: TestPostgres.shouldRun))
struct AuditChainTests {
    static let events = [
        AuditEvent(at: "2026-11-30T07:00:00Z", actor: "ivy", action: "login", record: nil, detail: "device=d1"),
        AuditEvent(at: "2026-11-30T07:00:01Z", actor: "Zoë Ó'Brien", action: "push", record: "0190f3c2-0000-7000-8000-000000000001", detail: "receipt=R-1 changes=60 “quoted” 🧸"),
        AuditEvent(at: "2026-11-30T07:00:02Z", actor: "admin", action: "resolve", record: "0190f3c2-0000-7000-8000-000000000001", detail: ""),
        AuditEvent(at: "2026-11-30T07:00:03Z", actor: "a\u{1F}b", action: "export", record: nil, detail: "since=0\nline two"),
    ]

    static func hashes(_ rows: [any SQLRow]) throws -> [String] { try rows.map { try $0.text("hash")! } }

    @Test("the same entries hash the same on SQLite and PostgreSQL, and both chains verify")
    func sameChain() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let sqlite = try SQLiteStorage(path: folder.appendingPathComponent("server.sqlite").path)
        // A long lease timeout: this process's other tests hold Swift's
        // shared threads while they wait for child processes (SchemaParityTests).
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600))
        for event in Self.events {
            try await sqlite.audit(event)
            try await postgres.audit(event)
        }
        let query = "SELECT id, previous_hash, hash FROM audit ORDER BY id"
        let fromSQLite = try Self.hashes(try await sqlite.reading { try await $0.rows(query, []) })
        let fromPostgres = try Self.hashes(try await postgres.reading { try await $0.rows(query, []) })
        #expect(fromSQLite.count == Self.events.count)
        #expect(fromSQLite == fromPostgres)
        #expect(try await sqlite.verifyAudit() == .intact(entries: fromSQLite.count))
        #expect(try await postgres.verifyAudit() == .intact(entries: fromPostgres.count))
    }

    @Test("appends at once on PostgreSQL take turns: contiguous ids, one chain, intact")
    func concurrentAppends() async throws {
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600))
        let before = try await postgres.reading { try await $0.rows("SELECT count(*) AS n FROM audit", []) }.first?.int("n") ?? 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try await postgres.audit(AuditEvent(at: "2026-11-30T07:01:00Z", actor: "user\(index)", action: "pull", record: nil, detail: "n=\(index)"))
                }
            }
            try await group.waitForAll()
        }
        let ids = try await postgres.reading { try await $0.rows("SELECT id FROM audit ORDER BY id", []) }.map { try $0.int("id")! }
        #expect(ids == Array(1...(before + 40)))
        #expect(try await postgres.verifyAudit() == .intact(entries: Int(before) + 40))
    }
}
