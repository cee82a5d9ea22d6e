import Foundation
import GRDB
import SyncCore
import TestSupport
import Testing

/// A practitioner's `field` home with the machine's clock (the servers of
/// these tests run on it too).
/// `sync-server migrate-store`: a SQLite server moved to PostgreSQL with real
/// servers, real `field` devices and a real PostgreSQL (`TestPostgres`).
@Suite("migrate-store: from SQLite to PostgreSQL", .enabled(if: TestPostgres.shouldRun))
struct MigrateStoreTests {
    static let tables = [
        "users", "devices", "records", "fields", "change_log", "applied", "conflicts", "conflict_candidates", "receipts", "audit",
        "server_identity", "attachments", "attachment_chunks",
    ]

    /// Row counts of every copied table.
    static func counts(_ database: TestDatabase) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in tables { counts[table] = try await database.int("SELECT count(*) FROM \(table)") ?? -1 }
        return counts
    }

    static func migrate(from path: String, to url: String) throws -> (status: Int32, output: String, error: String) {
        try ServerProcess.commandWithErrors(["migrate-store", "--from", path, "--to", url])
    }

    @Test("end to end: practitioners, intake and an admin on SQLite; migrated; devices carry on with PostgreSQL, nothing resent or missed")
    func endToEnd() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        guard case .sqlite(let path) = sqlite.database else { return }
        let jane = try FieldHome(user: "jane", seed: 11, clock: .machine)
        let tom = try FieldHome(user: "tom", seed: 12, clock: .machine)
        let janeToken = try sqlite.addUser("jane")
        try jane.succeed(["login", "--server", sqlite.url.absoluteString, "--token", janeToken])
        try tom.succeed(["login", "--server", sqlite.url.absoluteString, "--token", try sqlite.addUser("tom")])
        let janePhone = try await Device(server: sqlite, token: janeToken)
        let intake = try await Device(server: sqlite, token: try sqlite.addUser("ian", role: .intake))
        let admin = try await Device(server: sqlite, token: try sqlite.addUser("ada", role: .admin))
        defer { [janePhone, intake, admin].forEach { $0.remove() } }

        // Two practitioners draft, submit and sync: receipts.
        let janes = try jane.draftAndSubmit("Jane Smith")
        let toms = try tom.draftAndSubmit("Tom Brown")
        // Jane's referral carries a photo (two chunks, stored as bytes: copied as hex).
        let (photo, photoReference) = try AttachmentTransferTests.photo(bytes: AttachmentChunks.size + 99, seed: 11)
        try jane.succeed(["attach", janes, photo.path, "--label", "body map"])
        #expect(try jane.succeed(["sync"]).contains("Receipt R-"))
        #expect(try tom.succeed(["sync"]).contains("Receipt R-"))
        // Intake acknowledges Jane's.
        _ = try await intake.client.acknowledge(janes)
        // Jane's CLI and her phone edit the same answer: a conflict, resolved by an admin.
        try await janePhone.sync()
        let record = try #require(UUID(uuidString: janes))
        try janePhone.store.set("concern.summary", of: record, to: "Phone: bruise on left arm")
        try await janePhone.sync()
        try jane.succeed(["set", janes, "concern.summary", "Laptop: bruises on both arms"])
        #expect(try jane.succeed(["sync"]).contains("1 conflict(s)"))
        let conflict = try #require(try await admin.client.conflicts().first)
        _ = try await admin.client.resolve(conflict.id, pick: 1, value: nil, reason: "The first account is the fuller one")
        try jane.succeed(["sync"])
        try tom.succeed(["sync"])
        try await janePhone.sync()
        #expect(try jane.succeed(["status", janes]).contains("ian"))

        // The operator stops the server and moves it to PostgreSQL, on the same address.
        let port = try #require(sqlite.url.port)
        sqlite.stop()
        let before = try await Self.counts(sqlite.database)
        let epoch = try await sqlite.database.strings("SELECT epoch FROM server_identity")
        let postgres = try ServerProcess(options: ["--port", String(port)], backend: .postgres)
        postgres.stop()
        guard case .postgres(let url) = postgres.database else { return }
        let (status, output, error) = try Self.migrate(from: path, to: url)
        #expect(status == 0, "\(output)\n\(error)")
        #expect(output.contains("Verified") && output.contains("change_log"), "\(output)")
        try postgres.start()
        #expect(postgres.url.port == port)

        // Everything is there, with one more audit entry (the move), and the same epoch.
        var after = try await Self.counts(postgres.database)
        #expect(after["audit"] == (before["audit"] ?? 0) + 1)
        after["audit"] = before["audit"]
        #expect(after == before)
        #expect(try await postgres.database.strings("SELECT epoch FROM server_identity") == epoch)
        #expect(try await postgres.database.strings("SELECT action FROM audit ORDER BY id DESC LIMIT 1") == ["migrate-store"])
        let verify = try postgres.command(["audit", "verify"])
        #expect(verify.status == 0 && verify.output.contains("intact"), "\(verify.output)")

        // The devices carry on: nothing resent, no restored-server reconciliation.
        for practitioner in [jane, tom] {
            let synced = try practitioner.succeed(["sync"])
            #expect(synced.contains("Pushed 0 change(s)"), "\(synced)")
            #expect(!synced.contains("restored"), "\(synced)")
        }
        let phoneSync = try await janePhone.sync()
        #expect(phoneSync.pushed == 0 && !phoneSync.serverRestored)

        // Nothing missed: a change made on the PostgreSQL server by another device reaches the CLI.
        try janePhone.store.set("concern.where", of: record, to: "Written after the move")
        let pushed = try await janePhone.sync()
        #expect(pushed.applied == 1 && !pushed.serverRestored)
        let pulled = try jane.succeed(["sync"])
        #expect(pulled.contains("Pushed 0 change(s)") && pulled.contains("Received 1 update(s)"), "\(pulled)")
        #expect(try jane.succeed(["show", janes]).contains("Written after the move"))
        // Revisions carry on after the copied ones; users get new ids after the copied ones.
        let revisions = try await postgres.database.rows("SELECT revision FROM change_log ORDER BY revision DESC LIMIT 2")
        #expect(Int(revisions[0][0] ?? "") == Int(revisions[1][0] ?? "").map { $0 + 1 })
        _ = try postgres.addUser("newcomer")
        let ids = try await postgres.database.strings("SELECT id FROM users ORDER BY id").compactMap { $0.flatMap(Int.init) }
        #expect(ids.count == 5 && Set(ids).count == 5)

        // Intake's queue is whole; no receipt twice, no change applied twice.
        #expect(Set(try await intake.client.queue().map(\.id)) == [janes, toms])
        // The receipts from before the move, and one for the phone's push after it.
        #expect(try await postgres.database.int("SELECT count(*) FROM receipts") == (before["receipts"] ?? 0) + 1)
        #expect(try await RecoveryTests.appliedTwice(postgres).isEmpty)
        // The photo came across byte for byte, and intake can still fetch it.
        #expect(try await intake.client.attachment(photoReference, of: janes) == Data(contentsOf: photo))
        // Conflict history and its resolution came across.
        let resolved = try #require(try await admin.client.conflicts(all: true).first)
        #expect(resolved.status == "resolved" && resolved.resolution?.reason == "The first account is the fuller one")
    }

    @Test("a large change log (120,000 rows) copies in seconds, with matching checksum")
    func largeLog() async throws {
        let folder = try TemporaryFolder.make("migrate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("server.sqlite").path
        #expect(try ServerProcess.command(["user", "add", "jane", "--role", "practitioner", "--db", path]).status == 0)
        let rows = 120_000
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO records (id, owner_id, status, created_at) VALUES ('r', 1, 'draft', '2026-11-23T09:00:00Z')")
            try db.execute(sql: """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(rows))
                INSERT INTO change_log (kind, record_id, path, value, author, device_id, seq, hlc, at, sent_hlc)
                SELECT 'write', 'r', 'concern.summary', CASE WHEN i % 7 = 0 THEN NULL ELSE 'value ' || i END, 'jane', 'device', i,
                       printf('%013d-0000-device', i), '2026-11-23T09:00:00Z', NULL FROM n
                """)
            try db.execute(sql: """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(rows))
                INSERT INTO applied (device_id, seq, outcome, revision) SELECT 'device', i, 'applied', i FROM n
                """)
        }
        let url = try TestPostgres.cluster().makeDatabase()
        let started = ContinuousClock.now
        let (status, output, error) = try Self.migrate(from: path, to: url)
        let took = ContinuousClock.now - started
        print("migrate-store of \(rows) change log rows and \(rows) outcomes took \(took)")
        #expect(status == 0, "\(output)\n\(error)")
        #expect(took < .seconds(60), "\(took)")
        let target = TestDatabase.postgres(url: url)
        #expect(try await target.int("SELECT count(*) FROM change_log") == rows)
        #expect(try await target.int("SELECT revision FROM writer") == rows)
        // Where revisions come from a sequence, it carries on after the copied ones and pulls read them all.
        if try await target.int("SELECT count(*) FROM pg_class WHERE relname = 'change_log_revision' AND relkind = 'S'") == 1 {
            #expect(try await target.int("SELECT pull_horizon()") == rows + 1)
            #expect(try await target.int("SELECT nextval('change_log_revision')") == rows + 1)
        }
        #expect(try await target.int("SELECT count(*) FROM change_log WHERE value IS NULL") == rows / 7)
    }

    @Test("a target that already holds a store is refused, and nothing is written to it")
    func nonEmptyTarget() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        _ = try sqlite.addUser("jane")
        sqlite.stop()
        guard case .sqlite(let path) = sqlite.database else { return }
        let postgres = try ServerProcess(backend: .postgres)
        _ = try postgres.addUser("ada", role: .admin)
        guard case .postgres(let url) = postgres.database else { return }
        let before = try await Self.counts(postgres.database)
        let epoch = try await postgres.database.strings("SELECT epoch FROM server_identity")

        let (status, output, error) = try Self.migrate(from: path, to: url)
        #expect(status == 1)
        // Nothing claims a copy (a note that the file's write-ahead log is not
        // empty may come first: whether the stopped server checkpointed it
        // depends on timing).
        #expect(!output.contains("Copied") && !output.contains("Verified"), "\(output)")
        let database = try #require(url.split(separator: "/").last)
        #expect(error.contains("already holds a store (1 users") && error.contains(String(database)), "\(error)")
        #expect(!error.contains("USAGE"))
        #expect(try await Self.counts(postgres.database) == before)
        #expect(try await postgres.database.strings("SELECT epoch FROM server_identity") == epoch)
        #expect(try await postgres.database.strings("SELECT name FROM users") == ["ada"])
    }

    @Test("a missing --from is refused and not created; a file that is not a sync-server store is refused")
    func badSource() async throws {
        let url = try TestPostgres.cluster().makeDatabase()
        let folder = try TemporaryFolder.make("migrate")
        defer { try? FileManager.default.removeItem(at: folder) }

        let missing = folder.appendingPathComponent("sever.sqlite").path
        let refused = try Self.migrate(from: missing, to: url)
        #expect(refused.status == 1)
        #expect(refused.error.contains("There is no SQLite database '\(missing)'"), "\(refused.error)")
        #expect(!refused.error.contains("USAGE"))
        #expect(!FileManager.default.fileExists(atPath: missing))
        // Nothing was done to the target either: it was not even migrated.
        #expect(try await TestDatabase.postgres(url: url).int("SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'") == 0)

        let text = folder.appendingPathComponent("notes.txt").path
        try Data("not a database, just notes\n".utf8).write(to: URL(fileURLWithPath: text))
        let notDatabase = try Self.migrate(from: text, to: url)
        #expect(notDatabase.status == 1)
        #expect(notDatabase.error.contains("'\(text)' is not a SQLite database"), "\(notDatabase.error)")

        let other = folder.appendingPathComponent("other.sqlite").path
        try await DatabaseQueue(path: other).write { db in try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)") }
        let notOurs = try Self.migrate(from: other, to: url)
        #expect(notOurs.status == 1)
        #expect(notOurs.error.contains("'\(other)' is a SQLite database but not a sync-server store"), "\(notOurs.error)")
    }

    @Test("a target that does not connect is named; a --to that is not an address is named")
    func badTarget() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        _ = try sqlite.addUser("jane")
        sqlite.stop()
        guard case .sqlite(let path) = sqlite.database else { return }
        let port = try TestPostgres.freePort()
        let unreachable = try Self.migrate(from: path, to: "postgres://field:secret@127.0.0.1:\(port)/field")
        #expect(unreachable.status == 1)
        #expect(unreachable.error.contains("Cannot open the PostgreSQL database postgres://field@127.0.0.1:\(port)/field"), "\(unreachable.error)")
        #expect(!unreachable.error.contains("secret") && !unreachable.error.contains("USAGE"))

        let notURL = try Self.migrate(from: path, to: "field-db")
        #expect(notURL.status == 1)
        #expect(notURL.error.contains("'field-db' is not a PostgreSQL address"), "\(notURL.error)")
    }

    @Test("a copy that does not verify is rolled back: the target stays empty and the difference is named")
    func verificationFails() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        let jane = try FieldHome(user: "jane", seed: 13, clock: .machine)
        try jane.succeed(["login", "--server", sqlite.url.absoluteString, "--token", try sqlite.addUser("jane")])
        _ = try jane.draftAndSubmit("Jane Smith")
        try jane.succeed(["sync"])
        sqlite.stop()
        guard case .sqlite(let path) = sqlite.database else { return }

        // The target alters one value of the log as it is written (a stand-in for any corruption on the way).
        let url = try TestPostgres.cluster().makeDatabase()
        let target = TestDatabase.postgres(url: url)
        #expect(try ServerProcess.command(["user", "list", "--postgres", url]).status == 0)  // migrates the schema
        try await target.execute("""
            CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.revision = 2 THEN NEW.value := 'tampered'; END IF; RETURN NEW; END $$
            """)
        try await target.execute("CREATE TRIGGER tamper BEFORE INSERT ON change_log FOR EACH ROW EXECUTE FUNCTION tamper()")

        let (status, output, error) = try Self.migrate(from: path, to: url)
        #expect(status == 1)
        // Nothing claims a copy (a note that the file's write-ahead log is not
        // empty may come first: whether the stopped server checkpointed it
        // depends on timing).
        #expect(!output.contains("Copied") && !output.contains("Verified"), "\(output)")
        #expect(error.contains("The copy did not verify, so nothing was written") && error.contains("change log's checksum"), "\(error)")
        for table in ["users", "records", "change_log", "audit"] {
            #expect(try await target.int("SELECT count(*) FROM \(table)") == 0, "\(table)")
        }
        #expect(try await target.int("SELECT revision FROM writer") == 0)
    }

    @Test("columns are matched by name: one only SQLite has is named and left out, one only PostgreSQL has takes its default")
    func columnsByName() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        _ = try sqlite.addUser("jane")
        sqlite.stop()
        guard case .sqlite(let path) = sqlite.database else { return }
        try await sqlite.database.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
        try await sqlite.database.execute("UPDATE users SET nickname = 'JJ'")
        let url = try TestPostgres.cluster().makeDatabase()
        let target = TestDatabase.postgres(url: url)
        #expect(try ServerProcess.command(["user", "list", "--postgres", url]).status == 0)  // migrates the schema
        try await target.execute("ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT 'none'")

        let (status, output, error) = try Self.migrate(from: path, to: url)
        #expect(status == 0, "\(output)\n\(error)")
        #expect(output.contains("Note: the column users.nickname exists only in SQLite and was not copied."), "\(output)")
        #expect(output.contains("Note: the column users.email exists only in PostgreSQL and was given its default."), "\(output)")
        #expect(try await target.rows("SELECT name, role, email FROM users") == [["jane", "practitioner", "none"]])
        // The token hash came across as it was: the user's token still opens the server.
        let hashes = try await sqlite.database.strings("SELECT token_hash FROM users")
        #expect(try await target.strings("SELECT token_hash FROM users") == hashes)
    }

    @Test("a SQLite store whose audit trail is already broken is refused, and the break is named as the source's")
    func brokenSourceAudit() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        let jane = try FieldHome(user: "jane", seed: 14, clock: .machine)
        try jane.succeed(["login", "--server", sqlite.url.absoluteString, "--token", try sqlite.addUser("jane")])
        _ = try jane.draftAndSubmit("Jane Smith")
        try jane.succeed(["sync"])
        sqlite.stop()
        guard case .sqlite(let path) = sqlite.database else { return }
        try await sqlite.database.execute("UPDATE audit SET actor = 'mallory' WHERE id = 1")
        let url = try TestPostgres.cluster().makeDatabase()

        let (status, output, error) = try Self.migrate(from: path, to: url)
        #expect(status == 1)
        // Nothing claims a copy (a note that the file's write-ahead log is not
        // empty may come first: whether the stopped server checkpointed it
        // depends on timing).
        #expect(!output.contains("Copied") && !output.contains("Verified"), "\(output)")
        #expect(error.contains("The audit trail of '\(path)' is already broken at entry 1"), "\(error)")
        #expect(try await TestDatabase.postgres(url: url).int("SELECT count(*) FROM users") == 0)
    }

    @Test("a server still running on the SQLite file: the copy is a snapshot, and the operator is told")
    func serverStillRunning() async throws {
        let sqlite = try ServerProcess(backend: .sqlite)
        let jane = try FieldHome(user: "jane", seed: 15, clock: .machine)
        try jane.succeed(["login", "--server", sqlite.url.absoluteString, "--token", try sqlite.addUser("jane")])
        _ = try jane.draftAndSubmit("Jane Smith")
        try jane.succeed(["sync"])
        guard case .sqlite(let path) = sqlite.database else { return }
        let url = try TestPostgres.cluster().makeDatabase()

        let (status, output, error) = try Self.migrate(from: path, to: url)
        #expect(status == 0, "\(output)\n\(error)")
        #expect(output.contains("Note: '\(path)-wal' exists, so a server may still be running on it"), "\(output)")
        let target = TestDatabase.postgres(url: url)
        #expect(try await target.int("SELECT count(*) FROM change_log") == (try await sqlite.database.int("SELECT count(*) FROM change_log")))
        // The running server was not disturbed.
        try jane.succeed(["set", try #require(try await sqlite.database.strings("SELECT id FROM records").first ?? nil), "concern.where", "At school"])
        #expect(try jane.succeed(["sync"]).contains("1 applied"))
    }
}
