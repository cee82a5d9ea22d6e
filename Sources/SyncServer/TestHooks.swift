import Foundation

/// Pauses a test asks the server for, to show what happens while a write is
/// in flight. Off unless the test sets the variable; a server in use never
/// has it.
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
}
