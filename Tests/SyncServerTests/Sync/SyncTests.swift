import Foundation
import GRDB
import SyncCore
import Testing

/// The sync protocol end to end: real devices (store files and client) against
/// a real `sync-server` process on 127.0.0.1.
@Suite("Sync against the real server")
struct SyncTests {
    /// A server, a practitioner and a referral written on device A and synced to B.
    struct TwoDevices {
        let server: ServerProcess
        let a: Device
        let b: Device
        let record: UUID

        init(transportA: ((any SyncTransport) -> any SyncTransport)? = nil) async throws {
            // The server's clock is pinned; B's runs half a minute ahead of A's,
            // both within the two minutes a device counts as on time (so
            // neither corrects its stamps): B's stamps are the later ones.
            server = try ServerProcess(now: "2026-11-23T10:00:00Z")
            let token = try server.addUser("alice")
            a = try await Device(server: server, token: token, clock: SteppingClock(start: Timestamp.date("2026-11-23T09:59:00Z")!, step: 0.001), transport: transportA)
            b = try await Device(server: server, token: token, clock: SteppingClock(start: Timestamp.date("2026-11-23T09:59:30Z")!, step: 0.001))
            record = try a.store.createReferral(kind: .socialCare)
            try a.store.set("referrer.name", of: record, to: "Alice Jones")
            try a.store.addItem(to: "children", of: record)
            try a.store.set("children.1.full_name", of: record, to: "Amy")
            try await a.sync()
            try await b.sync()
        }

        func serverHistory(_ path: String) async throws -> [String?] {
            try await server.database.strings("SELECT value FROM change_log WHERE record_id = ? AND path = ? ORDER BY revision", [record.lowercased, path])
        }

        func cleanUp() {
            a.remove()
            b.remove()
        }
    }

    @Test("a referral drafted on one device reaches another, items and all")
    func roundTrip() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        let onB = try setup.b.store.referral(setup.record)
        #expect(onB.values["referrer.name"] == "Alice Jones")
        #expect(onB.items(of: "children").count == 1)
        #expect(onB.visibleValues == (try setup.a.store.referral(setup.record).visibleValues))
        #expect(try setup.a.store.pendingChanges().isEmpty)
    }

    @Test("two devices editing different fields of one referral merge")
    func differentFieldsMerge() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.summary", of: setup.record, to: "Bruises")
        try setup.b.store.set("concern.when", of: setup.record, to: "Saturday")
        let first = try await setup.a.sync()
        let second = try await setup.b.sync()
        try await setup.a.sync()
        #expect(first.conflicts == 0 && second.conflicts == 0)
        for device in [setup.a, setup.b] {
            #expect(try device.value(setup.record, "concern.summary") == "Bruises")
            #expect(try device.value(setup.record, "concern.when") == "Saturday")
        }
    }

    @Test("the same manual field edited on both devices is a conflict holding both values")
    func manualConflict() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.summary", of: setup.record, to: "Version A")
        try setup.b.store.set("concern.summary", of: setup.record, to: "Version B")
        #expect(try await setup.a.sync().conflicts == 0)
        #expect(try await setup.b.sync().conflicts == 1)
        try await setup.a.sync()
        for device in [setup.a, setup.b] {
            let status = try device.store.syncStatus(of: setup.record)[0]
            #expect(status.conflicts.count == 1)
            #expect(Set(status.conflicts[0].candidates.map(\.value)) == ["Version A", "Version B"])
            // The field keeps the first accepted value provisionally, on both.
            #expect(try device.value(setup.record, "concern.summary") == "Version A")
        }
        #expect(try await setup.serverHistory("concern.summary").contains("Version B"))
    }

    @Test("lww: the later stamp wins, the loser stays in the server's history")
    func lastWriterWins() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("referrer.phone", of: setup.record, to: "01111 111111")
        try setup.b.store.set("referrer.phone", of: setup.record, to: "02222 222222")
        try await setup.b.sync()
        let loser = try await setup.a.sync()
        try await setup.b.sync()
        #expect(loser.conflicts == 0)
        for device in [setup.a, setup.b] {
            #expect(try device.value(setup.record, "referrer.phone") == "02222 222222")
        }
        #expect(try await setup.serverHistory("referrer.phone") == ["02222 222222", "01111 111111"])
    }

    @Test("append: both devices' notes are kept, in stamp order")
    func appendKeepsBoth() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.notes", of: setup.record, to: "Visit 1: child quiet.")
        try await setup.a.sync()
        try await setup.b.sync()
        try setup.a.store.set("concern.notes", of: setup.record, to: "Visit 1: child quiet.\nVisit 2 (A): bruise seen.")
        try setup.b.store.set("concern.notes", of: setup.record, to: "Visit 1: child quiet.\nCall (B): school worried.")
        try await setup.b.sync()
        #expect(try await setup.a.sync().conflicts == 0)
        try await setup.b.sync()
        let expected = "Visit 1: child quiet.\nVisit 2 (A): bruise seen.\nCall (B): school worried."
        #expect(try setup.a.value(setup.record, "concern.notes") == expected)
        #expect(try setup.b.value(setup.record, "concern.notes") == expected)
    }

    @Test("set: concurrent choices merge, additions win and a lone removal holds")
    func setUnion() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("need.indicators", of: setup.record, to: "health,education")
        try await setup.a.sync()
        try await setup.b.sync()
        try setup.a.store.set("need.indicators", of: setup.record, to: "health,education,parenting")
        try setup.b.store.set("need.indicators", of: setup.record, to: "health,identity")
        try await setup.a.sync()
        #expect(try await setup.b.sync().conflicts == 0)
        try await setup.a.sync()
        for device in [setup.a, setup.b] {
            #expect(try device.value(setup.record, "need.indicators") == "health,identity,parenting")
        }
    }

    @Test("a push whose reply is lost is sent again and applied once, with the same receipt")
    func lostReplyAppliesOnce() async throws {
        var lossy: LossyTransport!
        let setup = try await TwoDevices(transportA: { inner in
            lossy = LossyTransport(inner)
            return lossy
        })
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.summary", of: setup.record, to: "Sent twice")
        lossy.setRule { $0 == "v1/push" }
        await #expect(throws: SyncError.self) { try await setup.a.sync() }
        #expect(try setup.a.store.pendingChanges().count == 1)
        lossy.setRule { _ in false }
        let retry = try await setup.a.sync()
        #expect(retry.applied == 1)
        #expect(try setup.a.store.pendingChanges().isEmpty)
        #expect(try await setup.serverHistory("concern.summary") == ["Sent twice"])
        let receipts = try await setup.server.database.int("SELECT count(*) FROM receipts WHERE records LIKE ?", ["%\(setup.record.lowercased)%"])
        #expect(receipts == 2)  // the set-up's sync, and this change's first (lost) reply; the retry made none
        #expect(retry.receipt != nil)
    }

    @Test("an edit made while a sent change waits for its reply is not mistaken for a conflict")
    func editDuringLostReply() async throws {
        var lossy: LossyTransport!
        let setup = try await TwoDevices(transportA: { inner in
            lossy = LossyTransport(inner)
            return lossy
        })
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.summary", of: setup.record, to: "First")
        lossy.setRule { $0 == "v1/push" }
        await #expect(throws: SyncError.self) { try await setup.a.sync() }
        lossy.setRule { _ in false }
        try setup.a.store.set("concern.summary", of: setup.record, to: "Second")
        let summary = try await setup.a.sync()
        #expect(summary.conflicts == 0)
        #expect(try await setup.serverHistory("concern.summary") == ["First", "Second"])
        try await setup.b.sync()
        #expect(try setup.b.value(setup.record, "concern.summary") == "Second")
    }

    @Test("a server killed right after acknowledging still has the change after restart")
    func durableAcknowledgement() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.summary", of: setup.record, to: "Acknowledged")
        let summary = try await setup.a.sync()
        #expect(summary.receipt != nil)
        setup.server.kill()
        try setup.server.start()
        #expect(try await setup.serverHistory("concern.summary") == ["Acknowledged"])
        // B (the restarted server listens on a new port) receives it.
        let b = SyncClient(store: setup.b.store, transport: HTTPTransport(server: setup.server.url, token: try setup.b.store.login()!.token, device: setup.b.store.deviceID), server: "")
        _ = try await b.sync()
        #expect(try setup.b.value(setup.record, "concern.summary") == "Acknowledged")
    }

    @Test("a pull interrupted mid-way resumes where it stopped")
    func interruptedPullResumes() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let writer = try await Device(server: server, token: token)
        defer { writer.remove() }
        let record = try writer.store.createReferral(kind: .socialCare)
        let paths = ReferralForm.standard.patterns.filter { !$0.section.isGroup && $0.field.type == .text && $0.section.applies(to: .socialCare) }.map(\.pattern)
        for path in paths { try writer.store.set(path, of: record, to: "value of \(path)") }
        try await writer.sync()

        var pages = 0
        let lossy = LossyTransport(HTTPTransport(server: server.url, token: token))
        let reader = try await Device(server: server, token: token, transport: { _ in lossy })
        defer { reader.remove() }
        lossy.setRule { path in
            guard path == "v1/pull" else { return false }
            pages += 1
            return pages == 3  // the third page's reply is lost
        }
        let small = SyncClient(store: reader.store, transport: lossy, server: "")
        await #expect(throws: SyncError.self) { try await small.sync(pageSize: 10) }
        let cursor = try reader.store.pullCursor()
        #expect(cursor > 0)
        let stored = try reader.store.referral(record).values.count
        #expect(stored == 20)
        _ = try await small.sync(pageSize: 10)
        #expect(try reader.store.referral(record).visibleValues == (try writer.store.referral(record).visibleValues))
        #expect(try reader.store.pullCursor() > cursor)
    }

    @Test("offline is normal: an unreachable server changes nothing on the device")
    func offline() async throws {
        let setup = try await TwoDevices()
        defer { setup.cleanUp() }
        try setup.a.store.set("concern.summary", of: setup.record, to: "Written offline")
        let before = try setup.a.store.pendingChanges()
        setup.server.kill()
        await #expect(throws: SyncError.self) { try await setup.a.sync() }
        #expect(try setup.a.store.pendingChanges() == before)
        #expect(before.allSatisfy { $0.sentAt == nil })
    }

    @Test("a refused change stays on the device, visible with its reason")
    func rejectedStays() async throws {
        let server = try ServerProcess()
        let alice = try await Device(server: server, token: try server.addUser("alice"))
        let bob = try await Device(server: server, token: try server.addUser("bob"))
        defer { alice.remove(); bob.remove() }
        let record = try alice.store.createReferral(kind: .socialCare)
        try await alice.sync()
        // Bob makes a referral with the same id on his device: not his to change.
        let bobsFile = try DatabaseQueue(path: bob.folder.appendingPathComponent("field.sqlite").path)
        try bobsFile.inDatabase { db in
            try db.execute(sql: "INSERT INTO referral (id, created_at, created_by, updated_at) VALUES (?, '2026-11-23T09:00:00Z', 'bob', '2026-11-23T09:00:00Z')", arguments: [record.lowercased])
        }
        try bob.store.set("concern.summary", of: record, to: "Not mine")
        let summary = try await bob.sync()
        #expect(summary.rejected == 1)
        let status = try bob.store.syncStatus(of: record)[0]
        #expect(status.rejected.count == 1)
        #expect(status.rejected[0].rejectedReason?.contains("may not change") == true)
        #expect(try bob.store.referral(record).values["concern.summary"] == "Not mine")
        // It is not sent again and again.
        #expect(try await bob.sync().pushed == 0)
    }
}
