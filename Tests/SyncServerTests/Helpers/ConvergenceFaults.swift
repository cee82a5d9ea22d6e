import Foundation
import SyncCore
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The convergence property's server kill mid-push (issue 15, item 5): the
/// server runs with `SYNC_TEST_HOLD_PUSH_FIFO` pointing at this gate's named
/// pipe, so every push stops before its commit (rows written, nothing
/// committed) until the gate lets it go. Unarmed, the gate lets every push go
/// at once; armed, it SIGKILLs the server while the push is held, as a power
/// cut in the middle of a write. A thread of its own does the blocking opens;
/// no timer is involved.
final class PushGate: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private weak var server: ServerProcess?
    /// Where in the push an armed gate kills the server.
    enum Moment: Sendable {
        /// While the push is held: its rows written, nothing committed.
        case beforeCommit
        /// As the push is let go: before its commit, or after it and before
        /// the reply, or after the reply, whichever the race gives.
        case racingCommit
    }

    private var armed: Moment?
    /// What the armed gate does instead of killing the server (PostgreSQL stopped).
    private var fault: (@Sendable () -> Void)?
    private var fired = false
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    /// Makes the named pipe in a folder of its own; `attach` then starts the gate.
    init() throws {
        let folder = try TemporaryFolder.make("push-gate")
        path = folder.appendingPathComponent("hold").path
        guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo \(path): \(String(cString: strerror(errno)))") }
    }

    /// The server's environment for the hook.
    var environment: [String: String] { ["SYNC_TEST_HOLD_PUSH_FIFO": path] }

    /// Starts letting pushes through (or killing the server, when armed) for `server`.
    func attach(_ server: ServerProcess) {
        lock.withLock { self.server = server }
        Thread.detachNewThread { [self] in
            while true {
                // Blocks until a push opens the other end (or `stop` does).
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                let (stop, kill, fault, target) = lock.withLock { () -> (Bool, Moment?, (@Sendable () -> Void)?, ServerProcess?) in
                    let kill = stopped ? nil : armed
                    let fault = kill == nil ? nil : self.fault
                    if kill != nil { armed = nil; self.fault = nil; fired = true }
                    return (stopped, kill, fault, self.server)
                }
                if stop {
                    if fd >= 0 { close(fd) }
                    done.signal()
                    return
                }
                let strike = fault ?? { target?.process?.signal(SIGKILL) }
                switch kill {
                case .beforeCommit:
                    // The push goes on to its COMMIT only after the strike:
                    // a killed server never gets there, a server whose
                    // PostgreSQL was stopped finds its connection gone.
                    strike()
                    if fd >= 0 {
                        // Only to a server still alive: a pipe without its reader is a SIGPIPE.
                        if fault != nil { _ = write(fd, "\n", 1) }
                        close(fd)
                    }
                case .racingCommit:
                    if fd >= 0 {
                        _ = write(fd, "\n", 1)
                        close(fd)
                    }
                    strike()
                case nil:
                    if fd >= 0 {
                        _ = write(fd, "\n", 1)
                        close(fd)
                    }
                }
            }
        }
    }

    /// The next push held is the server's last: it is killed at `moment`;
    /// or, given `fault`, that runs there instead (the server lives on).
    func arm(_ moment: Moment = .beforeCommit, fault: (@Sendable () -> Void)? = nil) {
        lock.withLock {
            armed = moment
            self.fault = fault
            fired = false
        }
    }

    /// Disarms; whether the server was killed since `arm`.
    func disarm() -> Bool {
        lock.withLock {
            armed = nil
            return fired
        }
    }

    /// Ends the gate's thread and removes the pipe.
    func stop() {
        lock.withLock { stopped = true }
        // Unblocks the thread's open for writing, if it waits for a reader.
        let reader = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        done.wait()
        if reader >= 0 { close(reader) }
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }
}

/// The convergence property's device kill mid-write (issue 15, item 5): the
/// real `field` binary, in a session on the device's own store file, is sent
/// far more writes than it will confirm and is SIGKILLed once `confirmed`
/// lines have come back, so it dies in the middle of a write.
enum DeviceKill {
    /// The lines the session confirmed (`path = value`) before it was killed.
    static func writes(
        in folder: URL, passphrase: String, record: UUID, writes: [(path: String, value: String)], confirmed: Int
    ) throws -> [String] {
        // The device's own folder, which outlives this session; the machine's clock, random ids.
        let home = try FieldHome(user: "device-user", seed: nil, clock: .machine, passphrase: passphrase, folder: folder, removesFolder: false)
        let session = try home.startSession()
        let commands = writes.map { "set \(record.lowercased) \($0.path) \($0.value)\n" }.joined()
        // Written from a thread of its own: the session may be killed before it has read them all.
        let input = session.process.input!
        Thread.detachNewThread {
            try? input.write(contentsOf: Data(commands.utf8))
            try? input.close()
        }
        let lines = session.readLines(confirmed)
        session.kill()
        return lines
    }
}

extension Device {
    /// The same device after its process died: its store file opened again,
    /// talking through `transport` (the one it had).
    init(reopening device: Device, server: ServerProcess, clock: any WallClock, transport: any SyncTransport) throws {
        folder = device.folder
        store = try LocalStore(
            path: folder.appendingPathComponent("field.sqlite").path, author: "device-user", passphrase: Self.passphrase,
            keyDerivation: .testing, clock: clock)
        client = SyncClient(store: store, transport: transport, server: server.url.absoluteString)
    }
}
