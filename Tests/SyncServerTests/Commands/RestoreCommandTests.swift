import Foundation
import GRDB
@testable import SyncCore
import Testing

/// `sync-server restore` refuses while a server serves the database (a
/// tester's finding, issue 26 item 8).
@Suite("sync-server restore")
struct RestoreCommandTests {
    @Test("restore refuses while a server serves the database, and --force overrides; once stopped it restores")
    func restoreRefusedWhileServed() throws {
        let server = try ServerProcess()
        guard case .sqlite(let path) = server.database else { return }
        _ = try server.addUser("jane")
        let backup = server.folder.appendingPathComponent("backup.sqlite").path
        try DatabaseQueue(path: path).backup(to: DatabaseQueue(path: backup))
        let refused = try server.commandWithErrors(["restore", "--from", backup])
        #expect(refused.status == 1)
        #expect(refused.error == "Error: The database is in use by a running sync-server serve (it holds a lock on '\(path)'); stop every server instance first, or pass --force if you know it is safe.",
                "\(refused.error)")
        // A symbolic or a hard link names the same file: refused too.
        let symbolic = server.folder.appendingPathComponent("link.sqlite").path
        let hard = server.folder.appendingPathComponent("hard.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: symbolic, withDestinationPath: path)
        try FileManager.default.linkItem(atPath: path, toPath: hard)
        for link in [symbolic, hard] {
            let viaLink = try ServerProcess.commandWithErrors(["restore", "--from", backup, "--db", link])
            #expect(viaLink.status == 1 && viaLink.error.contains("in use by a running sync-server serve"), "\(link): \(viaLink.error)")
        }
        try FileManager.default.removeItem(atPath: symbolic)
        try FileManager.default.removeItem(atPath: hard)
        server.kill()
        let restored = try server.command(["restore", "--from", backup])
        #expect(restored.status == 0, "\(restored.output)")
        try server.start()
        let forced = try server.command(["restore", "--force"])
        #expect(forced.status == 0, "\(forced.output)")
    }
}
