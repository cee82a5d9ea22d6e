import Foundation
import GRDB
import SyncCore
import Testing

/// The audit trail is hash-chained: what the server writes for logins,
/// pushes and intake reads verifies, and one altered entry is named.
@Suite("Audit trail")
struct AuditTrailTests {
    func verify(_ server: ServerProcess) throws -> (Int32, String) { try server.command(["audit", "verify"]) }

    @Test("logins, pushes and intake reads are chained; altering one entry is found")
    func tamperEvident() async throws {
        let server = try ServerProcess()
        let device = try await Device(server: server, token: try server.addUser("jane"))
        let intake = try await Device(server: server, token: try server.addUser("ian", role: .intake))
        defer { device.remove(); intake.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        try device.store.set("referrer.name", of: record, to: "Jane")
        try device.store.set("referrer.role", of: record, to: "Nurse")
        try device.store.set("concern.summary", of: record, to: "Words that must not reach the audit")
        _ = try device.store.submit(record)
        try await device.sync()
        _ = try await intake.client.submittedReferral(record.lowercased)
        _ = try await intake.client.acknowledge(record.lowercased)

        #expect(try server.chainAudit())
        let actions = try await server.database.strings("SELECT action FROM audit ORDER BY id").compactMap { $0 }
        #expect(actions.starts(with: ["add-user", "login", "add-user", "login", "push"]), "\(actions)")
        #expect(actions.contains("read") && actions.contains("acknowledge"))
        #expect(try await server.database.int("SELECT count(*) FROM audit WHERE detail LIKE '%Words%'") == 0)
        let (intact, message) = try verify(server)
        #expect(intact == 0, "\(message)")

        server.kill()
        try await server.database.execute("UPDATE audit SET actor = 'mallory' WHERE id = 3")
        let (broken, report) = try verify(server)
        #expect(broken == 1)
        #expect(report.contains("entry 3"), "\(report)")
    }
}
