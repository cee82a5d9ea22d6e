import Foundation
import TestSupport
import GRDB
import Testing

/// The server's SQLite database holds referral content: nobody but its owner
/// may read it, its WAL and shared memory, or a backup of it.
@Suite("Server files are private")
struct FilePermissionTests {
    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("a new database is 0600 (WAL and shared memory too, while serving) in a folder the server makes 0700")
    func newDatabase() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("perm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let db = root.appendingPathComponent("var/field/server.sqlite").path
        let (status, _) = try ServerProcess.command(["user", "add", "ada", "--role", "admin", "--db", db])
        #expect(status == 0)
        #expect(try Self.mode(db) == 0o600)
        #expect(try Self.mode(root.appendingPathComponent("var/field").path) == 0o700)

        // A running server on SQLite: the database and its companions, as they exist.
        let server = try ServerProcess(backend: .sqlite)
        let jane = try server.addUser("jane")
        let device = try await Device(server: server, token: jane)
        defer { device.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        try device.store.set("concern.summary", of: record, to: "Bruises")
        try await device.sync()
        let file = server.folder.appendingPathComponent("server.sqlite").path
        for path in [file, file + "-wal", file + "-shm"] {
            #expect(FileManager.default.fileExists(atPath: path), "\(path)")
            #expect(try Self.mode(path) == 0o600, "\(path)")
        }
    }

    @Test("an existing database readable by others is made 0600 when the server opens it")
    func existingDatabase() throws {
        let folder = try TemporaryFolder.make("perm")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let db = folder.appendingPathComponent("server.sqlite").path
        #expect(try ServerProcess.command(["user", "add", "ada", "--role", "admin", "--db", db]).status == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: db)
        #expect(try ServerProcess.command(["audit", "verify", "--db", db]).status == 0)
        #expect(try Self.mode(db) == 0o600)
        // A folder the operator made stays as they made it.
        #expect(try Self.mode(folder.path) == 0o755)
    }

    @Test("sync-server backup writes a consistent copy 0600, never over an existing file")
    func backup() throws {
        let folder = try TemporaryFolder.make("perm")
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("server.sqlite").path
        let copy = folder.appendingPathComponent("backup.sqlite").path
        #expect(try ServerProcess.command(["user", "add", "ada", "--role", "admin", "--db", db]).status == 0)
        let made = try ServerProcess.command(["backup", "--db", db, "--to", copy])
        #expect(made.status == 0)
        #expect(made.output == "Backed up '\(db)' to '\(copy)' (0600).")
        #expect(try Self.mode(copy) == 0o600)
        let users = try DatabaseQueue(path: copy).read { try String.fetchAll($0, sql: "SELECT name FROM users") }
        #expect(users == ["ada"])
        let again = try ServerProcess.command(["backup", "--db", db, "--to", copy])
        #expect(again.status != 0)
        #expect(try Self.mode(copy) == 0o600)
    }
}
