import Foundation
import GRDB
import Testing
@testable import SyncServer

/// PostgreSQL chains audit entries in SQL (`audit_chain`, and `audit_append`
/// for `migrate-store`), hashing what `AuditTrail.hash` hashes in Swift: the
/// same entries must give the same chain on both backends, or `audit verify`
/// would call an intact PostgreSQL chain broken. Its writers leave their
/// entries waiting, committed with their changes, and the chain is made
/// after the commits (`AuditSequencer`): nothing committed may be missing
/// from it, and nothing rolled back may reach it.
@Suite("Audit chain: one hash on both backends, chained after the commit", .enabled(if: TestPostgres.shouldRun))
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
        try await postgres.chainPendingAudit()
        let query = "SELECT id, previous_hash, hash FROM audit ORDER BY id"
        let fromSQLite = try Self.hashes(try await sqlite.reading { try await $0.rows(query, []) })
        let fromPostgres = try Self.hashes(try await postgres.reading { try await $0.rows(query, []) })
        #expect(fromSQLite.count == Self.events.count)
        #expect(fromSQLite == fromPostgres)
        #expect(try await sqlite.verifyAudit() == .intact(entries: fromSQLite.count))
        #expect(try await postgres.verifyAudit() == .intact(entries: fromPostgres.count))
    }

    @Test("appends at once on PostgreSQL, chained as they commit: contiguous ids, one chain, intact")
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
        // The instance's sequencer chains them: wait until it is idle, without chaining from here.
        await postgres.auditSettled()
        let ids = try await postgres.reading { try await $0.rows("SELECT id FROM audit ORDER BY id", []) }.map { try $0.int("id")! }
        #expect(ids == Array(1...(before + 40)))
        #expect(try await Self.waiting(postgres) == 0)
        #expect(try await postgres.verifyAudit() == .intact(entries: Int(before) + 40))
    }

    static func waiting(_ storage: PostgresStorage) async throws -> Int64 {
        try await storage.reading { try await $0.rows("SELECT count(*) AS n FROM audit_pending", []) }.first?.int("n") ?? -1
    }

    static func chained(_ storage: PostgresStorage) async throws -> [String] {
        try await storage.reading { try await $0.rows("SELECT actor FROM audit ORDER BY id", []) }.map { try $0.text("actor")! }
    }

    @Test("entries committed but not yet chained (a crash between the two) are chained, in order, by the next start and before any listing")
    func chainedAfterACrash() async throws {
        let url = try TestPostgres.cluster().makeDatabase()
        // An instance whose sequencer never runs: what a SIGKILL just after
        // the writers' commits leaves.
        let stopped = try await PostgresStorage(url: PostgresURL(url)!, leaseTimeout: .seconds(600), chaining: .deferred)
        let before = try await Self.chained(stopped)
        for index in 0..<3 {
            try await stopped.audit(AuditEvent(at: "2026-11-30T07:02:0\(index)Z", actor: "first\(index)", action: "login", record: nil, detail: "device=d\(index)"))
        }
        #expect(try await Self.chained(stopped) == before)
        #expect(try await Self.waiting(stopped) == 3)

        let restarted = try await PostgresStorage(url: PostgresURL(url)!, leaseTimeout: .seconds(600), chaining: .deferred)
        #expect(try await Self.chained(restarted) == before + ["first0", "first1", "first2"])
        #expect(try await Self.waiting(restarted) == 0)

        // A listing chains what is waiting before it reads.
        try await restarted.audit(AuditEvent(at: "2026-11-30T07:02:03Z", actor: "second", action: "login", record: nil, detail: "device=d3"))
        #expect(try await Self.waiting(restarted) == 1)
        let listed = try await restarted.auditEntries(AuditFilter(limit: 2)).map(\.event.actor)
        #expect(listed == ["first2", "second"])
        #expect(try await restarted.verifyAudit() == .intact(entries: before.count + 4))
    }

    @Test("writers of one referral keep their order on the chain, however the sequencer batches them")
    func oneReferralInOrder() async throws {
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600))
        let record = "0190f3c2-0000-7000-8000-0000000000aa"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    try await postgres.writing { transaction in
                        // In the referral's turn: how many of its entries committed before this one
                        // (waiting or chained, in one statement, so one snapshot).
                        try await transaction.lock(record)
                        let before = try await transaction.sql.rows("""
                            SELECT (SELECT count(*) FROM audit_pending WHERE record_id = $1) + (SELECT count(*) FROM audit WHERE record_id = $1) AS n
                            """, [.text(record)])[0].int("n")!
                        try await transaction.audit(AuditEvent(at: "2026-11-30T07:05:00Z", actor: "w", action: "decide", record: record, detail: "n=\(before)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let details = try await postgres.auditEntries(AuditFilter(record: record, limit: 100)).map(\.event.detail)
        #expect(details == (0..<24).map { "n=\($0)" })
        #expect(try await postgres.verifyAudit() == .intact(entries: 24))
    }

    @Test("an entry appended inside a transaction (migrate-store, an older instance) comes after the entries already waiting")
    func appendAfterWaiting() async throws {
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600), chaining: .deferred)
        for index in 0..<2 {
            try await postgres.audit(AuditEvent(at: "2026-11-30T07:06:0\(index)Z", actor: "waiting\(index)", action: "login", record: nil, detail: ""))
        }
        try await postgres.connections.transaction { session in
            try await PostgresTransaction(session: session).appendChained(
                AuditEvent(at: "2026-11-30T07:06:02Z", actor: "operator", action: "migrate-store", record: nil, detail: ""))
        }
        #expect(try await Self.waiting(postgres) == 0)
        #expect(try await Self.chained(postgres) == ["waiting0", "waiting1", "operator"])
        #expect(try await postgres.verifyAudit() == .intact(entries: 3))
    }

    @Test("an entry commits with its change: a write that rolls back leaves nothing waiting and nothing chained")
    func rolledBack() async throws {
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600), chaining: .deferred)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await postgres.writing { transaction in
                try await transaction.audit(AuditEvent(at: "2026-11-30T07:03:00Z", actor: "gone", action: "login", record: nil, detail: ""))
                throw Refused()
            }
        }
        #expect(try await Self.waiting(postgres) == 0)
        #expect(try await postgres.auditEntries(AuditFilter(limit: 100)).allSatisfy { $0.event.actor != "gone" })
    }

    @Test("the sequencer chains what writers commit without being asked: nothing waits once it is idle")
    func sequencerChainsAfterCommits() async throws {
        let postgres = try await PostgresStorage(
            url: PostgresURL(try TestPostgres.cluster().makeDatabase())!, leaseTimeout: .seconds(600))
        let before = try await Self.chained(postgres).count
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                group.addTask {
                    try await postgres.audit(AuditEvent(at: "2026-11-30T07:04:00Z", actor: "user\(index)", action: "pull", record: nil, detail: ""))
                }
            }
            try await group.waitForAll()
        }
        // The sequencer runs on its own after the commits: wait until it
        // says it is idle, without chaining from here.
        await postgres.auditSettled()
        #expect(try await Self.waiting(postgres) == 0)
        #expect(try await Self.chained(postgres).count == before + 30)
    }
}
