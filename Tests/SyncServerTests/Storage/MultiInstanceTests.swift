import Foundation
import TestSupport
import SyncCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Two `sync-server` processes on one PostgreSQL database, devices spread
/// across them. Runs whenever PostgreSQL is installed, and fails (rather than
/// being left out) when `SYNC_TEST_REQUIRE_POSTGRES=1` and it is not.
@Suite("Two server instances on one PostgreSQL database", .enabled(if: TestPostgres.shouldRun))
struct MultiInstanceTests {
    @Test("concurrent pushes through both instances: one conflict, contiguous revisions, no pull skips a write, every device converges")
    func concurrentPushes() async throws {
        let first = try ServerProcess(backend: .postgres)
        let second = try ServerProcess(sharing: first)
        let servers = [first, second]
        let token = try first.addUser("alice")
        let adminToken = try second.addUser("ada", role: .admin)
        var devices: [Device] = []
        for index in 0..<6 {
            devices.append(try await Device(server: servers[index % 2], token: token))
        }
        defer { for device in devices { device.remove() } }
        let record = try devices[0].store.createReferral(kind: .socialCare)
        try devices[0].store.set("referrer.name", of: record, to: "Alice Jones")
        try await devices[0].sync()
        for device in devices.dropFirst() { try await device.sync() }
        // Each device adds a child of its own and renames it in every round
        // (its own field), and all of them change one field at once.
        var children: [UUID] = []
        for (index, device) in devices.enumerated() {
            try device.store.set("concern.summary", of: record, to: "Version \(index)")
            children.append(try device.store.addItem(to: "children", of: record))
        }

        // An admin pulls through both instances, page after page, while the
        // devices push: a write that committed late must still reach it.
        let stop = StopFlag()
        defer { stop.set() }  // a failed push must not leave the puller running
        let puller = Task { () -> [Int64] in
            var cursor: Int64 = 0
            var seen: [Int64] = []
            var turn = 0
            func page() async throws -> PullResponse {
                turn += 1
                return try await Self.pull(servers[turn % 2], token: adminToken, since: cursor)
            }
            while !stop.isSet {
                let response = try await page()
                seen += response.changes.map(\.revision)
                cursor = response.cursor
            }
            while true {
                let response = try await page()
                seen += response.changes.map(\.revision)
                cursor = response.cursor
                if !response.more && response.changes.isEmpty { return seen }
            }
        }
        let summaries = try await withThrowingTaskGroup(of: [SyncSummary].self) { group in
            for (index, device) in devices.enumerated() {
                let child = children[index].lowercased
                group.addTask {
                    var summaries = [try await device.sync()]
                    for round in 0..<4 {
                        try device.store.set("children.\(child).full_name", of: record, to: "Child of \(index), round \(round)")
                        summaries.append(try await device.sync())
                    }
                    return summaries
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        stop.set()
        let pulled = try await puller.value
        for _ in 0..<2 { for device in devices { try await device.sync() } }

        let database = first.database
        let key = record.lowercased
        // Exactly one conflict on the field, holding every device's value.
        let conflicts = try await database.int("SELECT count(*) FROM conflicts WHERE record_id = ?", [key])
        #expect(conflicts == 1)
        #expect(summaries.map(\.conflicts).reduce(0, +) == devices.count - 1)
        let candidates = try await database.strings("""
            SELECT c.value FROM conflict_candidates c JOIN conflicts k ON k.id = c.conflict_id
            WHERE k.record_id = ? AND k.path = 'concern.summary' ORDER BY c.value
            """, [key])
        #expect(candidates == (0..<devices.count).map { "Version \($0)" })
        // Revisions are 1, 2, 3… with no gap, and the admin's pulls saw every pullable one.
        let counted = try await database.rows("SELECT count(*), max(revision) FROM change_log")[0]
        #expect(counted[0] == counted[1])
        let pullable = try await database.strings("SELECT revision FROM change_log WHERE kind IN ('write', 'conflict') ORDER BY revision")
        #expect(pulled == pullable.map { Int64($0!)! }, "the admin's pulls skipped or repeated a revision")
        // Every device holds the server's values and open conflict.
        let serverValues = Dictionary(uniqueKeysWithValues: try await database.rows(
            "SELECT path, value FROM fields WHERE record_id = ? AND value IS NOT NULL", [key]
        ).map { ($0[0]!, $0[1]!) })
        let open = Set(try await database.strings("SELECT id FROM conflicts WHERE record_id = ? AND status = 'open'", [key]).compactMap { $0 })
        #expect(open.count == 1)
        for device in devices {
            #expect(try device.store.pendingChanges().isEmpty)
            #expect(try device.store.referral(record).values == serverValues, "device \(device.store.deviceID) differs from the server")
            #expect(Set(try device.store.syncStatus(of: record)[0].conflicts.map(\.id)) == open)
        }
        #expect(serverValues.filter { $0.key.hasSuffix(".full_name") }.count == devices.count)
        // One audit chain for both instances.
        let (status, report) = try ServerProcess.command(["audit", "verify"] + database.arguments)
        #expect(status == 0, "\(report)")
    }

    @Test("a push whose reply was lost on one instance is a duplicate on the other, with the same receipt")
    func retryThroughTheOtherInstance() async throws {
        let first = try ServerProcess(backend: .postgres)
        let second = try ServerProcess(sharing: first)
        let token = try first.addUser("alice")
        var lossy: LossyTransport!
        let device = try await Device(server: first, token: token, transport: { inner in
            lossy = LossyTransport(inner)
            return lossy
        })
        defer { device.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        try device.store.set("concern.summary", of: record, to: "Sent twice")
        lossy.setRule { $0 == "v1/push" }
        await #expect(throws: SyncError.self) { try await device.sync() }
        let moved = try await Device(reconnecting: device, to: second)
        let retry = try await moved.sync()
        #expect(retry.applied == 3 && retry.receipt != nil)
        #expect(try device.store.pendingChanges().isEmpty)
        let history = try await second.database.strings(
            "SELECT value FROM change_log WHERE record_id = ? AND path = 'concern.summary' ORDER BY revision", [record.lowercased])
        #expect(history == ["Sent twice"])
        let receipts = try await second.database.int("SELECT count(*) FROM receipts")
        #expect(receipts == 1)
        let receipt = try await second.database.strings("SELECT reference FROM receipts")[0]
        #expect(retry.receipt == receipt)
    }

    @Test(
        "a push held open on instance one blocks neither a push of another referral through instance two nor a pull there; the held write reaches the puller once it commits",
        .timeLimit(.minutes(3)))
    func heldPush() async throws {
        let folder = try TemporaryFolder.make("held")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("hold").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let first = try ServerProcess(backend: .postgres, environment: ["SYNC_TEST_HOLD_PUSH_FIFO": fifo])
        let second = try ServerProcess(sharing: first)
        let alice = try await Device(server: first, token: try first.addUser("alice"))
        let bob = try await Device(server: second, token: try first.addUser("bob"))
        let adminToken = try first.addUser("ada", role: .admin)
        defer { alice.remove(); bob.remove() }
        let held = try alice.store.createReferral(kind: .socialCare)
        try alice.store.set("concern.summary", of: held, to: "Held on instance one")
        let other = try bob.store.createReferral(kind: .socialCare)
        try bob.store.set("concern.summary", of: other, to: "Pushed through instance two")

        // Alice's push allocates its revisions, writes its rows and stops
        // before committing. Opening the pipe returns once the server holds it.
        let heldSync = Task { try await alice.sync() }
        let release = try await Task.detached { try #require(FileHandle(forWritingAtPath: fifo)) }.value

        // Meanwhile, instance two: Bob's push of another referral commits
        // (it would wait here if writers took turns), and an admin's pull
        // sees neither the held write nor anything after it.
        let bobs = try await bob.sync()
        #expect(bobs.applied == 3 && bobs.receipt != nil)
        let during = try await Self.pull(second, token: adminToken, since: 0)
        let heldRevisions = try await first.database.strings(
            "SELECT revision FROM change_log WHERE record_id = ? ORDER BY revision", [held.lowercased])
        #expect(heldRevisions.isEmpty, "the held push's rows are not committed yet")
        #expect(during.changes.isEmpty, "a pull read past a revision still in flight: \(during.changes.map(\.revision))")
        let bobsRevisions = try await first.database.strings(
            "SELECT revision FROM change_log WHERE record_id = ? ORDER BY revision", [other.lowercased]).compactMap { $0.flatMap { Int64($0) } }
        #expect(bobsRevisions.count == 3)
        #expect(during.cursor < bobsRevisions.min()!, "the cursor moved past the held push's revisions")

        // Released, Alice's push commits, and the admin's next pulls from the
        // same cursor receive it, and Bob's.
        try release.write(contentsOf: Data("go\n".utf8))
        try release.close()
        let alices = try await heldSync.value
        #expect(alices.applied == 3 && alices.receipt != nil)
        var cursor = during.cursor
        var pulled: [PulledChange] = []
        while true {
            let page = try await Self.pull(second, token: adminToken, since: cursor)
            pulled += page.changes
            cursor = page.cursor
            if !page.more { break }
        }
        let records = Set(pulled.map(\.record))
        #expect(records == [held.lowercased, other.lowercased], "\(pulled.map { ($0.revision, $0.record) })")
        let alicesRevisions = try await first.database.strings(
            "SELECT revision FROM change_log WHERE record_id = ? ORDER BY revision", [held.lowercased]).compactMap { $0.flatMap { Int64($0) } }
        #expect(alicesRevisions.max()! < bobsRevisions.min()!, "the held push took its revisions first")
        #expect(Set(pulled.map(\.revision)) == Set(alicesRevisions + bobsRevisions))
    }

    static func pull(_ server: ServerProcess, token: String, since: Int64) async throws -> PullResponse {
        var components = URLComponents(url: server.url.appendingPathComponent("v1/pull"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "since", value: String(since)), URLQueryItem(name: "limit", value: "7")]
        var request = URLRequest(url: components.url!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as! HTTPURLResponse).statusCode == 200 else { throw TestFailure("pull: \(String(decoding: data, as: UTF8.self))") }
        return try JSONDecoder().decode(PullResponse.self, from: data)
    }

}
