import Foundation

/// Pauses a test asks the server for, to show what happens while a write or
/// a start-up migration is in flight. Off unless the test sets the
/// variables; a server in use never has them.
enum TestHooks {
    /// Read once: a push must not build the environment dictionary each time.
    private static let holdPushFIFO = ProcessInfo.processInfo.environment["SYNC_TEST_HOLD_PUSH_FIFO"]

    /// `SYNC_TEST_HOLD_PUSH_FIFO`: a named pipe. A push that has written its
    /// batch (revisions allocated, rows inserted) opens it and reads one line
    /// before it appends its audit entry and commits. Opening blocks until
    /// the test opens the pipe's other end, so the test knows the push is
    /// held; the push goes on when the test writes a line or closes it. The
    /// blocking reads run on a thread of their own, not the task's.
    static func holdPushBeforeCommit() async {
        guard let path = holdPushFIFO else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                if let pipe = FileHandle(forReadingAtPath: path) {
                    var byte = [UInt8](repeating: 0, count: 1)
                    while read(pipe.fileDescriptor, &byte, 1) == 1, byte[0] != UInt8(ascii: "\n") {}
                    try? pipe.close()
                }
                continuation.resume()
            }
        }
    }

    /// `SYNC_TEST_MIGRATION_PROBE`: the name of one more migration, applied
    /// after the real ones, as an upgrade's would be on a database in use
    /// (the crash campaign kills the server inside it). It copies the
    /// `applied` table's keys into a new table of that name and indexes
    /// them, so that it writes real pages inside its transaction. The name
    /// must be a lower-case SQL identifier (`[a-z][a-z0-9_]*`); any other
    /// value is ignored.
    static let migrationProbe: (name: String, sql: String)? = {
        guard let name = ProcessInfo.processInfo.environment["SYNC_TEST_MIGRATION_PROBE"],
            let first = name.unicodeScalars.first, ("a"..."z").contains(first),
            name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else { return nil }
        return (name, """
            CREATE TABLE \(name) (device_id TEXT NOT NULL, seq BIGINT NOT NULL);
            INSERT INTO \(name) (device_id, seq) SELECT device_id, seq FROM applied;
            CREATE INDEX \(name)_by_device ON \(name)(device_id, seq)
            """)
    }()

    private static let stopInMigration = ProcessInfo.processInfo.environment["SYNC_TEST_STOP_IN_MIGRATION"] == "1"

    /// `SYNC_TEST_STOP_IN_MIGRATION=1`: inside the probe migration, once its
    /// statements have run and before it is recorded or committed, the
    /// server writes `stopped in migration NAME` on standard output and stops
    /// there for good, for the test to SIGKILL it. Blocks the calling thread.
    static func stopInsideMigration(_ name: String) {
        guard stopInMigration, name == migrationProbe?.name else { return }
        FileHandle.standardOutput.write(Data("stopped in migration \(name)\n".utf8))
        while true { pause() }
    }
}
