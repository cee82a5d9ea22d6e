import Foundation
import GRDB
import SyncCore
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The device path in pages (issue 30, item 3), through the real server and
/// real store files: a push of several batches, each reply taken with the
/// next batch's marking; a cold pull of several pages that streams (the next
/// page asked for while one is stored), broken midway and resumed from its
/// cursor; and the last push reply taken with the first pulled page.
@Suite("Paged sync: pushes and pulls in pages, each one local transaction")
struct PagedSyncTests {
    /// Every plain text field of a social-care referral.
    static let textPaths = ReferralForm.standard.patterns
        .filter { !$0.section.isGroup && $0.field.type == .text && $0.section.applies(to: .socialCare) }.map(\.pattern)

    /// Two referrals with every text field written: about fifty changes.
    static func fill(_ store: LocalStore) throws -> [UUID] {
        try (0..<2).map { n in
            let record = try store.createReferral(kind: .socialCare)
            for path in textPaths { try store.set(path, of: record, to: "Referral \(n): \(path)") }
            return record
        }
    }

    @Test("a push of several batches sends each change once, in order, and leaves nothing pending")
    func pushInBatches() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        var counting: LossyTransport!
        let device = try await Device(server: server, token: token, transport: { inner in
            counting = LossyTransport(inner)
            return counting
        })
        defer { device.remove() }
        let records = try Self.fill(device.store)
        let waiting = try device.store.pendingChanges()
        #expect(waiting.count > 20)

        let summary = try await device.client.sync(batchSize: 7)
        #expect(summary.pushed == waiting.count)
        #expect(summary.applied == waiting.count)
        #expect(try device.store.pendingChanges().isEmpty)
        // Sent once each, in the device's order, in batches of at most 7.
        #expect(counting.sent.map(\.seq) == waiting.map(\.seq))
        // The server has each change once.
        let logged = try await server.database.int(
            "SELECT count(*) FROM change_log WHERE record_id IN (?, ?)", [records[0].lowercased, records[1].lowercased])
        #expect(logged == waiting.count)
        // The device took each field's revision: the next sync sends nothing and takes nothing.
        let again = try await device.client.sync(batchSize: 7)
        #expect(again.pushed == 0 && again.pulled == 0)
        #expect(try device.store.integrityProblems().isEmpty)
    }

    @Test("a push whose third batch's reply is lost resumes without applying anything twice")
    func pushInBatchesLosingAReply() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        var lossy: LossyTransport!
        let device = try await Device(server: server, token: token, transport: { inner in
            lossy = LossyTransport(inner)
            return lossy
        })
        defer { device.remove() }
        let records = try Self.fill(device.store)
        let waiting = try device.store.pendingChanges()
        var pushes = 0
        lossy.setRule { path in
            guard path == "v1/push" else { return false }
            pushes += 1
            return pushes == 3
        }
        await #expect(throws: SyncError.self) { try await device.client.sync(batchSize: 7) }
        // The first two replies were taken; the third batch stays, sent and unanswered.
        let left = try device.store.pendingChanges()
        #expect(left.count == waiting.count - 14)
        #expect(left.prefix(7).allSatisfy { $0.sentAt != nil })
        lossy.setRule { _ in false }
        let summary = try await device.client.sync(batchSize: 7)
        #expect(summary.pushed == left.count)
        #expect(try device.store.pendingChanges().isEmpty)
        let logged = try await server.database.int(
            "SELECT count(*) FROM change_log WHERE record_id IN (?, ?)", [records[0].lowercased, records[1].lowercased])
        #expect(logged == waiting.count)
        #expect(try device.store.integrityProblems().isEmpty)
    }

    @Test("a cold pull of several pages, broken midway, resumes from its cursor and ends with every field once")
    func coldPullInPages() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let writer = try await Device(server: server, token: token)
        defer { writer.remove() }
        let records = try Self.fill(writer.store)
        try await writer.sync()

        let lossy = LossyTransport(HTTPTransport(server: server.url, token: token))
        let reader = try await Device(server: server, token: token, transport: { _ in lossy })
        defer { reader.remove() }
        var pages = 0
        lossy.setRule { path in
            guard path == "v1/pull" else { return false }
            pages += 1
            return pages == 4  // the fourth page's reply is lost, asked for while the third was stored
        }
        await #expect(throws: SyncError.self) { try await reader.client.sync(pageSize: 9) }
        // Three pages stored, their cursor with them (the second referral may not have arrived yet).
        let cursor = try reader.store.pullCursor()
        let storedFirst = records.map { (try? reader.store.referral($0).values.count) ?? 0 }.reduce(0, +)
        #expect(storedFirst == 27)
        lossy.setRule { _ in false }
        let summary = try await reader.client.sync(pageSize: 9)
        #expect(try reader.store.pullCursor() > cursor)
        #expect(storedFirst + summary.pulled == (try records.map { try writer.store.referral($0).values.count }.reduce(0, +)))
        for record in records {
            #expect(try reader.store.referral(record).visibleValues == (try writer.store.referral(record).visibleValues))
            // Every field taken once: one history line each, none applied twice.
            let lines = try reader.store.history(of: record)
            #expect(lines.count == Set(lines.map(\.path)).count)
            #expect(lines.count == (try writer.store.referral(record).values.count))
        }
        #expect(try reader.store.integrityProblems().isEmpty)
    }

    @Test("the last push reply is taken with the first page, or alone when the pull fails")
    func lastReplyWithFirstPage() async throws {
        var lossy: LossyTransport!
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let device = try await Device(server: server, token: token, transport: { inner in
            lossy = LossyTransport(inner)
            return lossy
        })
        defer { device.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        try device.store.set("concern.summary", of: record, to: "Pushed, then the pull fails")
        // The push is answered; the pull that would take its reply with the first page is not.
        lossy.setRule { $0 == "v1/pull" }
        await #expect(throws: SyncError.self) { try await device.client.sync() }
        #expect(try device.store.pendingChanges().isEmpty)
        #expect(try device.store.receipts().count == 1)
        lossy.setRule { _ in false }
        let summary = try await device.client.sync()
        #expect(summary.pushed == 0 && summary.pulled == 0)
        // A field pushed now: its reply and the page bringing it back, one transaction.
        try device.store.set("concern.summary", of: record, to: "Pushed and pulled")
        let next = try await device.client.sync()
        #expect(next.pushed == 1 && next.applied == 1 && next.pulled == 0 && next.receipt != nil)
        #expect(try device.store.pendingChanges().isEmpty)
        #expect(try device.store.integrityProblems().isEmpty)
    }
}
