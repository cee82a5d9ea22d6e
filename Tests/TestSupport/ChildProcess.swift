import CTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
public enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exit(Int32)
    case signal(Int32)

    /// It exited (with any status) rather than being killed by a signal.
    public var exited: Bool {
        if case .exit = self { return true }
        return false
    }

    /// The exit status; 128 + the signal's number for a child killed by a signal, as a shell says.
    public var status: Int32 {
        switch self {
        case .exit(let code): code
        case .signal(let number): 128 + number
        }
    }

    public var description: String {
        switch self {
        case .exit(let code): "exit \(code)"
        case .signal(let number): "signal \(number)"
        }
    }
}

/// A process the tests start (`sync-server`, `field`, `openssl`, `pg_ctl`…):
/// `posix_spawn` to start it, a blocking `waitpid` to reap it. Nothing else
/// is involved: no run loop, no timer, no helper thread.
///
/// Not Foundation's `Process`: on Linux, its `waitUntilExit()` polls a run
/// loop in 50 ms slices, and the wake-up sent when the child ends is lost
/// whenever it comes before the waiting thread sleeps, so the wait usually
/// ends on that 50 ms timeout. The timeout is a libdispatch timer (a timerfd
/// armed with TFD_TIMER_ABSTIME), and libfaketime 0.9.10 rewrites such a
/// time as if it were a wall-clock time: under `faketime -f +365d` the timer
/// is armed decades ahead (with FAKETIME_DONT_FAKE_MONOTONIC=1, at a negative
/// time the kernel refuses), so `waitUntilExit` never returns although the
/// child has long exited. `waitpid` needs no clock.
///
/// The child gets exactly the descriptors asked for as 0, 1 and 2, and no
/// other (every descriptor from 3 up is closed in it): a pipe end must not
/// leak into an unrelated child, such as a server or the PostgreSQL daemon
/// that a test started meanwhile, or a reader waiting for the end of that
/// pipe would wait as long as the unrelated child lives. Its signal mask is
/// empty and every signal has its default action, as from a shell.
public final class ChildProcess: @unchecked Sendable {
    /// What the child reads.
    public enum Input: Sendable {
        /// `/dev/null`.
        case null
        /// A pipe; the test writes to `input`.
        case pipe
    }

    /// Where the child's standard output or standard error goes.
    public enum Output: Sendable {
        /// The test process's own.
        case inherit
        /// `/dev/null`.
        case null
        /// A pipe; the test reads `output`. For standard error: the same pipe as standard output.
        case pipe
        /// Appended to this file, created if missing.
        case file(String)
    }

    public let pid: pid_t
    /// The write end of the child's standard input (`input: .pipe`).
    public let input: FileHandle?
    /// The read end of the child's standard output (`output: .pipe`), with its
    /// standard error too when that is `.pipe`.
    public let output: FileHandle?

    private let lock = NSLock()
    private var ended: Termination?

    /// A write to a child that has already ended (a test typing to a program
    /// that exited early) fails with EPIPE instead of killing the whole test
    /// run with SIGPIPE, so the test reports what the program printed. The
    /// children themselves start with every signal at its default.
    private static let brokenPipesIgnored: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    /// Starts `executable` (looked up in PATH when it has no slash) with these arguments.
    /// - Parameter environment: the child's whole environment; this process's when nil.
    /// - Parameter directory: the child's working directory; this process's when nil.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, directory: String? = nil,
        input: Input = .null, output: Output = .pipe, error: Output = .inherit
    ) throws {
        _ = Self.brokenPipesIgnored
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Pipes are close-on-exec in this process: only the dup2 below gives them to the child.
        var inputPipe: (read: Int32, write: Int32)?
        var outputPipe: (read: Int32, write: Int32)?
        var created: [Int32] = []
        // The child's ends, closed here once it has started.
        var childEnds: [Int32] = []
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard test_support_pipe_cloexec(&fds) == 0 else { throw SpawnError("pipe2: \(String(cString: strerror(errno)))") }
            created += fds
            return (fds[0], fds[1])
        }
        do {
            switch input {
            case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            case .pipe:
                let made = try makePipe()
                inputPipe = made
                childEnds.append(made.read)
                posix_spawn_file_actions_adddup2(&actions, made.read, 0)
            }
            for (fd, destination) in [(Int32(1), output), (Int32(2), error)] {
                switch destination {
                case .inherit: break
                case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
                case .file(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                case .pipe:
                    if outputPipe == nil {
                        let made = try makePipe()
                        outputPipe = made
                        childEnds.append(made.write)
                    }
                    posix_spawn_file_actions_adddup2(&actions, outputPipe!.write, fd)
                }
            }
            if let directory { test_support_spawn_addchdir(&actions, directory) }
            test_support_spawn_addclosefrom(&actions, 3)

            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var noSignals = sigset_t()
            sigemptyset(&noSignals)
            posix_spawnattr_setsigmask(&attributes, &noSignals)
            var allSignals = sigset_t()
            sigfillset(&allSignals)
            posix_spawnattr_setsigdefault(&attributes, &allSignals)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

            let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
            defer { for pointer in envp ?? [] { free(pointer) } }
            var pid: pid_t = 0
            let spawned = argv.withUnsafeBufferPointer { argv in
                let argvPointer = UnsafeMutablePointer(mutating: argv.baseAddress!)
                if let envp {
                    return envp.withUnsafeBufferPointer { envp in
                        posix_spawnp(&pid, executable, &actions, &attributes, argvPointer, UnsafeMutablePointer(mutating: envp.baseAddress!))
                    }
                }
                return posix_spawnp(&pid, executable, &actions, &attributes, argvPointer, environ)
            }
            guard spawned == 0 else { throw SpawnError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
            self.pid = pid
        } catch {
            for fd in created { close(fd) }
            throw error
        }
        for fd in childEnds { close(fd) }
        self.input = inputPipe.map { FileHandle(fileDescriptor: $0.write, closeOnDealloc: true) }
        self.output = outputPipe.map { FileHandle(fileDescriptor: $0.read, closeOnDealloc: true) }
    }

    /// Blocks until the child has ended and reaps it; later calls return the same.
    @discardableResult
    public func wait() -> Termination {
        if let ended = lock.withLock({ ended }) { return ended }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        let termination: Termination = status & 0x7f == 0 ? .exit((status >> 8) & 0xff) : .signal(status & 0x7f)
        return lock.withLock {
            if ended == nil { ended = termination }
            return ended!
        }
    }

    /// Sends a signal, unless the child has already been reaped (its pid may be another process's by now).
    public func signal(_ number: Int32) {
        lock.withLock {
            if ended == nil { _ = Glibc.kill(pid, number) }
        }
    }

    /// Runs to the end: how it ended and all it wrote to `output` (a pipe), as text.
    public static func run(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, directory: String? = nil,
        input text: String? = nil, error: Output = .inherit
    ) throws -> (termination: Termination, output: String) {
        let child = try ChildProcess(
            executable, arguments, environment: environment, directory: directory, input: text == nil ? .null : .pipe,
            output: .pipe, error: error)
        if let text, let input = child.input {
            try input.write(contentsOf: Data(text.utf8))
            try input.close()
        }
        let data = child.output!.readDataToEndOfFile()
        return (child.wait(), String(decoding: data, as: UTF8.self))
    }

    /// A child left running is killed and reaped: no test leaves a process behind.
    deinit {
        if lock.withLock({ ended }) == nil {
            signal(SIGKILL)
            wait()
        }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
