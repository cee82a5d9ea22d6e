import Foundation
import SyncCore
import TestSupport

/// Runs the real `field` executable, built beside the test bundle, against a
/// temporary FIELD_HOME with a fixed clock and seeded ids.
struct FieldProcess {
    static let executable: URL = {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("field")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder.deleteLastPathComponent()
        }
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/field")
        return fallback
    }()

    let home: URL
    static let passphrase = "correct horse battery staple"

    init() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("field-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    func environment(now: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["FIELD_HOME"] = home.path
        environment["FIELD_USER"] = "jane.smith"
        environment["FIELD_TEST_NOW"] = now
        environment["FIELD_TEST_SEED"] = "42"
        environment["FIELD_PASSPHRASE"] = Self.passphrase
        environment["FIELD_TEST_FAST_KDF"] = "1"
        return environment
    }

    /// Runs to completion; stdout and stderr share one pipe, so the output
    /// keeps the order in which things were written.
    /// - Parameter overrides: environment variables to set, or to remove (nil).
    func run(
        _ arguments: [String], input: String? = nil, now: String = "2026-11-23T09:00:00Z",
        environment overrides: [String: String?] = [:]
    ) throws -> (output: String, status: Int32) {
        var environment = environment(now: now)
        for (key, value) in overrides { environment[key] = value }
        let (termination, output) = try ChildProcess.run(
            Self.executable.path, arguments, environment: environment, input: input ?? "", error: .pipe)
        return (output, termination.status)
    }

    /// Starts a session that reads commands as the test writes them.
    func startSession(now: String = "2026-11-23T09:00:00Z") throws -> LiveSession {
        try LiveSession(executable: Self.executable, environment: environment(now: now))
    }

    func openStore() throws -> LocalStore {
        try LocalStore(path: home.appendingPathComponent("field.sqlite").path, author: "test", passphrase: Self.passphrase)
    }

    func remove() { try? FileManager.default.removeItem(at: home) }
}

/// A running `field` session fed line by line, to be killed at a chosen moment.
final class LiveSession {
    let process: ChildProcess
    private var buffer = Data()

    init(executable: URL, environment: [String: String]) throws {
        process = try ChildProcess(executable.path, environment: environment, input: .pipe, output: .pipe, error: .pipe)
    }

    func send(_ line: String) {
        process.input!.write(Data((line + "\n").utf8))
    }

    /// Blocks until `count` more lines of output have arrived; returns them.
    func readLines(_ count: Int) -> [String] {
        var lines: [String] = []
        while lines.count < count {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer = Data(buffer[buffer.index(after: newline)...])
                continue
            }
            let chunk = process.output!.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
        }
        return lines
    }

    /// SIGKILL: no clean-up, no flush, as when a laptop's battery dies.
    func kill() {
        process.signal(SIGKILL)
        process.wait()
    }
}
