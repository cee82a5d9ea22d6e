import Foundation
import GRDB
import Testing

@testable import SyncServer

/// What makes an acknowledged push survive a power cut on SQLite: its
/// commit is flushed to disk (`synchronous = FULL` on the connection that
/// commits). GRDB's WAL set-up sets the pool's writer to NORMAL after the
/// configuration's own `prepareDatabase` ran, which left the server
/// answering pushes whose commits were only in the operating system's cache
/// (found with `strace -e fdatasync`, issue 30).
@Suite struct SQLiteDurabilityTests {
    @Test func theWriterConnectionFlushesEveryCommit() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("durability-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("server.sqlite").path)
        let writer = try storage.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") }
        #expect(writer == 2, "the writer's synchronous is \(String(describing: writer)), not FULL (2)")
        let mode = try storage.pool.writeWithoutTransaction { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }
}
