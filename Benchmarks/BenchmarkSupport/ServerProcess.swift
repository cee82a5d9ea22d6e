import Foundation

/// A `sync-server serve` the benchmarks start on a free port of 127.0.0.1,
/// with its store in a folder of their own; its receipt key is made beside
/// the database. Errors are `BenchmarkError`s naming what failed.
public final class ServerProcess {
    /// Where it answers, e.g. `http://127.0.0.1:41234`.
    public let url: URL
    /// The server's process id (valgrind's, which is the same process, when started under it).
    public let pid: Int32
    private let process: Process

    /// Starts `binary serve --port 0` with `storage` (`--db FILE` or
    /// `--postgres URL`) in `folder`, with `LOG_LEVEL=error`, and waits up
    /// to `startTimeout` seconds for its `listening on URL` line.
    /// - Parameters:
    ///   - wrapper: a command the server runs under (e.g. valgrind and its
    ///     options), empty for none.
    ///   - environment: variables added to this process's environment.
    public init(
        binary: String, storage: [String], folder: URL, wrapper: [String] = [], environment: [String: String] = [:],
        startTimeout: Double = 60
    ) throws {
        let process = Process()
        let command = wrapper + [binary, "serve", "--port", "0"] + storage
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = folder
        var variables = ProcessInfo.processInfo.environment
        variables["LOG_LEVEL"] = "error"
        variables.merge(environment) { $1 }
        process.environment = variables
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // The first line, read with a deadline: a server that dies or hangs is named, not waited for forever.
        let lines = LineReader(pipe.fileHandleForReading)
        guard let line = lines.firstLine(within: startTimeout), line.hasPrefix("listening on "),
              let url = URL(string: String(line.dropFirst("listening on ".count))) else {
            process.terminate()
            throw BenchmarkError("\(binary) serve did not print 'listening on URL' within \(Int(startTimeout)) s.")
        }
        self.process = process
        self.url = url
        self.pid = process.processIdentifier
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace` seconds; waits for it.
    public func stop(grace: Double = 30) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// `binary user add NAME --role practitioner` with `storage`: the user's token.
    public static func addUser(_ name: String, binary: String, storage: [String]) throws -> String {
        let output = try run(binary, ["user", "add", name, "--role", "practitioner"] + storage)
        guard output.status == 0, let token = output.text.split(separator: "\n").last.map(String.init), !token.isEmpty else {
            throw BenchmarkError("\(binary) user add \(name) failed (exit \(output.status)): \(output.text.prefix(300))")
        }
        return token
    }

    /// Runs `executable` with `arguments` to its end: its exit status and
    /// standard output, trimmed. Its standard error is this process's, or
    /// dropped when `quiet`.
    public static func run(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if quiet { process.standardError = FileHandle.nullDevice }
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A benchmark's failure, in one sentence.
public struct BenchmarkError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads a child's first output line on a thread of its own, so that the
/// caller can stop waiting, then drains the rest.
private final class LineReader: @unchecked Sendable {
    private let handle: FileHandle
    private let done = DispatchSemaphore(value: 0)
    private var line: String?

    init(_ handle: FileHandle) { self.handle = handle }

    func firstLine(within seconds: Double) -> String? {
        Thread.detachNewThread { [self] in
            var buffer = Data()
            while !buffer.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
            }
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) { line = String(decoding: buffer[..<end], as: UTF8.self) }
            done.signal()
            // Whatever it prints later is read and dropped, so that a full pipe never blocks the server.
            while !handle.availableData.isEmpty {}
        }
        return done.wait(timeout: .now() + seconds) == .success ? line : nil
    }
}
