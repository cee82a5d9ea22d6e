import Foundation
import GRDB
import SyncCore
import TestSupport
import Testing

/// A practitioner's `FIELD_HOME` for the recovery stories: a `FieldHome`
/// whose clock is the machine's unless a command gives its own.
struct FieldCLI {
    let field: FieldHome
    var home: URL { field.folder }

    init() throws {
        field = try FieldHome(user: "jane", seed: 7, clock: .machine)
    }

    /// Runs `field ARGUMENTS` with the device's clock fixed at `now` (the
    /// machine's clock when nil); its exit status and its output.
    @discardableResult
    func run(_ arguments: [String], now: String? = nil) throws -> (status: Int32, output: String) {
        let (output, status) = try field.run(arguments, now: now)
        return (status, output)
    }

    /// Runs and expects success; the output, trimmed.
    @discardableResult
    func succeed(_ arguments: [String], now: String? = nil) throws -> String {
        try field.succeed(arguments, now: now)
    }

    /// A new referral with what a submission needs; its id.
    func draftAndSubmit(_ name: String, now: String? = nil) throws -> String {
        try field.draftAndSubmit(name, now: now)
    }

    func json(_ arguments: [String], now: String? = nil) throws -> [String: Any] {
        let output = try succeed(arguments + ["--json"], now: now)
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    }

    /// Copies the whole FIELD_HOME (store, WAL and all) to `folder`, as a backup would.
    func copy(to folder: URL) throws {
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.copyItem(at: home, to: folder)
    }

    /// Puts a copy made by `copy(to:)` back in place of FIELD_HOME.
    func restore(from folder: URL) throws {
        try FileManager.default.removeItem(at: home)
        try FileManager.default.copyItem(at: folder, to: home)
    }
}

/// The three stories of issue 13, through the real binaries: nothing a
/// practitioner sent is stranded by a skewed clock, a device restored from a
/// backup, or a server restored from a backup (docs/protocol.md, "Recovery").
@Suite("Recovery: skewed clocks, restored devices, restored servers")
struct RecoveryTests {
    /// Every value the server's log wrote more than once for the same field
    /// from the same change: none may be applied twice.
    static func appliedTwice(_ server: ServerProcess) async throws -> [[String?]] {
        try await server.database.rows("""
            SELECT device_id, seq, count(*) FROM change_log WHERE kind = 'write' AND seq IS NOT NULL
            GROUP BY device_id, seq HAVING count(*) > 1
            """)
    }

    @Test("a device clock three days ahead: nothing refused, the referral reaches the queue, the user told once, the clock brought back")
    func clockAhead() async throws {
        let server = try ServerProcess(now: "2026-11-23T10:00:00Z")
        let jane = try server.addUser("jane")
        let intake = try await Device(server: server, token: try server.addUser("ian", role: .intake))
        let cli = try FieldCLI()
        defer { intake.remove() }
        let ahead = "2026-11-26T10:00:00Z"

        try cli.succeed(["login", "--server", server.url.absoluteString, "--token", jane], now: ahead)
        let id = try cli.draftAndSubmit("Jane Smith", now: ahead)
        let synced = try cli.succeed(["sync"], now: ahead)
        #expect(synced.contains("0 rejected"), "\(synced)")
        #expect(synced.contains("This device's clock is 3 days ahead of the server's"), "\(synced)")
        #expect(try await intake.client.queue().map(\.id).contains(id))
        // Told once, not on every sync.
        #expect(!(try cli.succeed(["sync"], now: ahead)).contains("clock"))

        // The server ordered the changes by its own time and kept the device's stamps.
        // (The server's own write, the referral's reference, is stamped by the server's clock.)
        let stamps = try await server.database.rows(
            "SELECT hlc, sent_hlc FROM change_log WHERE record_id = ? AND kind = 'write' AND author <> 'sync-server'", [id])
        #expect(!stamps.isEmpty)
        let serverNow = Int64(Timestamp.date("2026-11-24T00:00:00Z")!.timeIntervalSince1970 * 1000)
        for row in stamps {
            #expect(try #require(HLCStamp(row[0] ?? "")).wall < serverNow, "\(row)")
            #expect(row[1].flatMap { HLCStamp($0) }.map { $0.wall > serverNow } == true, "\(row)")
        }

        // The clock put right: the next edit is applied, and the user hears the clock agrees.
        try cli.succeed(["set", id, "concern.where", "At school"], now: "2026-11-23T10:00:00Z")
        let righted = try cli.succeed(["sync"], now: "2026-11-23T10:00:00Z")
        #expect(righted.contains("1 applied") && righted.contains("now agrees"), "\(righted)")
        #expect(try await server.database.strings("SELECT value FROM fields WHERE record_id = ? AND path = 'concern.where'", [id]) == ["At school"])
        #expect(try await Self.appliedTwice(server).isEmpty)
    }

    @Test("a device restored from a backup renumbers its new changes in the same sync: no login, no retyping, nothing lost")
    func deviceRestored() async throws {
        let server = try ServerProcess()
        let jane = try server.addUser("jane")
        let cli = try FieldCLI()
        let backup = FileManager.default.temporaryDirectory.appendingPathComponent("field-backup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: backup) }

        try cli.succeed(["login", "--server", server.url.absoluteString, "--token", jane])
        let id = try cli.succeed(["new"])
        try cli.succeed(["set", id, "referrer.name", "Jane Smith"])
        try cli.succeed(["sync"])
        try cli.copy(to: backup)
        // After the backup: changes the server has and the backup lacks.
        try cli.succeed(["set", id, "concern.summary", "Written after the backup"])
        try cli.succeed(["set", id, "referrer.agency", "Northtown Primary"])
        try cli.succeed(["sync"])

        // The laptop is restored from the backup; new edits reuse numbers the server has.
        try cli.restore(from: backup)
        try cli.succeed(["set", id, "referrer.role", "Teacher"])
        try cli.succeed(["set", id, "concern.where", "In the playground"])
        let synced = try cli.succeed(["sync"])
        #expect(synced.contains("sent again under new numbers"), "\(synced)")
        #expect(synced.contains("0 rejected"), "\(synced)")

        let fields = Dictionary(uniqueKeysWithValues: try await server.database.rows(
            "SELECT path, value FROM fields WHERE record_id = ?", [id]).map { ($0[0]!, $0[1]) })
        #expect(fields["referrer.role"] == "Teacher" && fields["concern.where"] == "In the playground")
        #expect(fields["concern.summary"] == "Written after the backup" && fields["referrer.agency"] == "Northtown Primary")
        // The device took back what it wrote after the backup, and has nothing refused.
        let status = try cli.json(["status", id])
        #expect((status["rejected"] as? [Any])?.isEmpty == true && status["pending"] as? Int == 0, "\(status)")
        #expect(try cli.succeed(["show", id]).contains("Written after the backup"))
        #expect(try await Self.appliedTwice(server).isEmpty)
    }

    @Test("a server restored from a backup: devices pull it again and send back what it lost; the front door's later work reaches the practitioner",
          .enabled(if: TestBackend.current == .sqlite, "restore --from copies a SQLite backup"))
    func serverRestored() async throws {
        let server = try ServerProcess()
        let jane = try server.addUser("jane")
        let intakeToken = try server.addUser("ian", role: .intake)
        let cli = try FieldCLI()
        let backup = server.folder.appendingPathComponent("backup.sqlite").path

        let intake = try await Device(server: server, token: intakeToken)
        defer { intake.remove() }
        try cli.succeed(["login", "--server", server.url.absoluteString, "--token", jane])
        let first = try cli.draftAndSubmit("Jane Smith")
        try cli.succeed(["sync"])
        // The operator's nightly backup (SQLite's online backup, as docs/operations.md says).
        guard case .sqlite(let path) = server.database else { return }
        try DatabaseQueue(path: path).backup(to: DatabaseQueue(path: backup))

        // After the backup: a second referral, an edit of the first, and intake's acknowledgement.
        let second = try cli.draftAndSubmit("Jane Smith")
        try cli.succeed(["set", first, "concern.where", "Written after the backup"])
        let acknowledged = try cli.succeed(["sync"])
        #expect(acknowledged.contains("Receipt R-"))
        _ = try await intake.client.acknowledge(first)

        // The server is restored from the backup: the second referral is gone from it.
        server.kill()
        let (status, output) = try server.command(["restore", "--from", backup])
        #expect(status == 0, "\(output)")
        #expect(output.contains("new epoch"))
        try server.start()
        #expect(try await server.database.rows("SELECT id FROM records WHERE id = ?", [second]).isEmpty)

        // The practitioner's next sync notices and fills the server back in.
        let healed = try cli.succeed(["sync"])
        #expect(healed.contains("The server was restored from a backup"), "\(healed)")
        let fields = try await server.database.rows("SELECT path, value FROM fields WHERE record_id = ?", [second])
        #expect(fields.contains { $0[0] == "@status" && $0[1] == "submitted" }, "\(fields)")
        #expect(try await server.database.strings("SELECT value FROM fields WHERE record_id = ? AND path = 'concern.where'", [first]) == ["Written after the backup"])

        // The front door sees both, works the second, and the practitioner hears of it.
        let frontDoor = try await Device(reconnecting: intake, to: server)
        #expect(Set(try await frontDoor.client.queue().map(\.id)) == [first, second])
        _ = try await frontDoor.client.acknowledge(second)
        _ = try await frontDoor.client.decide(second, outcome: .section47, note: "Strategy discussion today.")
        try cli.succeed(["sync"])
        let news = try cli.json(["status", second])
        #expect((news["acknowledged"] as? [String: Any])?["by"] as? String == "ian", "\(news)")
        #expect((news["outcome"] as? [String: Any])?["outcome"] as? String == "s47-enquiry", "\(news)")
        // Nothing sent back twice: a second sync sends nothing.
        #expect(try cli.succeed(["sync"]).contains("Pushed 0 change(s)"))
        #expect(try await Self.appliedTwice(server).isEmpty)
    }

    @Test("a server database put back by hand (same epoch): a cursor past the log's end starts the same reconciliation",
          .enabled(if: TestBackend.current == .sqlite, "copies the SQLite file"))
    func serverFilePutBack() async throws {
        let server = try ServerProcess()
        let jane = try server.addUser("jane")
        let cli = try FieldCLI()
        guard case .sqlite(let path) = server.database else { return }
        let backup = server.folder.appendingPathComponent("copy.sqlite").path

        try cli.succeed(["login", "--server", server.url.absoluteString, "--token", jane])
        let first = try cli.draftAndSubmit("Jane Smith")
        try cli.succeed(["sync"])
        try DatabaseQueue(path: path).backup(to: DatabaseQueue(path: backup))
        let second = try cli.draftAndSubmit("Jane Smith")
        try cli.succeed(["sync"])
        server.kill()
        try DatabaseQueue(path: backup).backup(to: DatabasePool(path: path))
        try server.start()

        let healed = try cli.succeed(["sync"])
        #expect(healed.contains("The server was restored from a backup"), "\(healed)")
        #expect(Set(try await server.database.strings("SELECT id FROM records")) == [first, second])
        #expect(try await Self.appliedTwice(server).isEmpty)
    }
}
