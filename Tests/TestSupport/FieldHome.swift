import Foundation
import SyncCore

/// A `FIELD_HOME` driven through the real `field` binary (built beside the
/// test bundle), with seeded ids and the device's clock the test chooses, so
/// that transcripts repeat byte for byte. Every test that runs `field`
/// runs it through one of these.
public final class FieldHome: @unchecked Sendable {
    /// The device's time for each command (`FIELD_TEST_NOW`).
    public enum Clock: Sendable {
        /// This instant for every command (`2026-11-23T09:00:00Z`).
        case fixed(String)
        /// This hour (`2026-11-23T09`), each command a minute after the one before.
        case minutes(hour: String)
        /// The machine's own clock.
        case machine
    }

    public static let executable = BuiltProducts.field
    /// What a home's store is encrypted under unless the test says otherwise.
    public static let passphrase = "field home passphrase"

    public let folder: URL
    /// FIELD_USER.
    public let user: String
    /// How transcripts name whoever types at this home (`jane-phone$`).
    public let label: String
    /// FIELD_TEST_SEED; nil leaves the ids random.
    public let seed: Int?
    /// FIELD_PASSPHRASE.
    public let passphrase: String
    public let clock: Clock
    /// Commands run so far: the minute of the `minutes` clock.
    public private(set) var minute = 0
    private let removesFolder: Bool

    /// - Parameters:
    ///   - seed: FIELD_TEST_SEED; give each home of a test its own, or their device ids collide.
    ///   - folder: FIELD_HOME (a small filesystem the test mounted, a device's
    ///     folder); a new temporary folder when nil.
    ///   - removesFolder: whether the folder goes with this home (false for a
    ///     folder that belongs to something else, such as a `Device`).
    public init(
        user: String = "jane.smith", seed: Int? = 42, clock: Clock, passphrase: String = FieldHome.passphrase, label: String? = nil,
        folder: URL? = nil, removesFolder: Bool = true
    ) throws {
        self.folder = try folder ?? TemporaryFolder.make("field-home")
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
        self.user = user
        self.label = label ?? user
        self.seed = seed
        self.passphrase = passphrase
        self.clock = clock
        self.removesFolder = removesFolder
    }

    /// A home whose commands run a minute apart in `hour` (`2026-11-23T09`).
    public convenience init(user: String, seed: Int, hour: String = "2026-11-23T09", label: String? = nil, folder: URL? = nil) throws {
        try self.init(user: user, seed: seed, clock: .minutes(hour: hour), label: label, folder: folder)
    }

    /// The environment `field` runs in at this home, its clock at `now` (the machine's when nil).
    public func environment(now: String?) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["FIELD_HOME"] = folder.path
        environment["FIELD_USER"] = user
        environment["FIELD_TEST_NOW"] = now
        environment["FIELD_TEST_SEED"] = seed.map(String.init)
        environment["FIELD_PASSPHRASE"] = passphrase
        environment["FIELD_TEST_FAST_KDF"] = "1"
        return environment
    }

    /// The next command's time by this home's clock; moves the minute on.
    private func nextTime() -> String? {
        minute += 1
        switch clock {
        case .fixed(let now): return now
        case .minutes(let hour): return String(format: "\(hour):%02d:00Z", minute % 60)
        case .machine: return nil
        }
    }

    /// Runs `field` to completion: its output (stdout and stderr in order, one pipe) and exit status.
    /// - Parameters:
    ///   - now: the device's time for this command, instead of the home's clock.
    ///   - overrides: environment variables to set, or to remove (nil).
    @discardableResult
    public func run(
        _ arguments: [String], input: String? = nil, now: String? = nil, environment overrides: [String: String?] = [:]
    ) throws -> (output: String, status: Int32) {
        let next = nextTime()
        var environment = environment(now: now ?? next)
        for (key, value) in overrides { environment[key] = value }
        // posix_spawn and waitpid, as every process the tests start.
        let (termination, output) = try ChildProcess.run(
            Self.executable.path, arguments, environment: environment, input: input ?? "", error: .pipe)
        return (output, termination.status)
    }

    /// Runs `field` and expects it to exit 0: its output, trimmed.
    /// - Throws: `TestFailure` naming the command, its exit status and its output, when it fails.
    @discardableResult
    public func succeed(_ arguments: [String], input: String? = nil, now: String? = nil, environment overrides: [String: String?] = [:]) throws -> String {
        let (output, status) = try run(arguments, input: input, now: now, environment: overrides)
        guard status == 0 else { throw TestFailure("field \(arguments.joined(separator: " ")) exited \(status): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new referral with what a submission needs (the referrer's name and
    /// role, a concern naming `name`), submitted; its id.
    /// - Throws: `TestFailure` when a command fails.
    public func draftAndSubmit(_ name: String, now: String? = nil) throws -> String {
        let id = try succeed(["new"], now: now)
        try succeed(["set", id, "referrer.name", name], now: now)
        try succeed(["set", id, "referrer.role", "Teacher"], now: now)
        try succeed(["set", id, "concern.summary", "Concern raised by \(name)"], now: now)
        try succeed(["submit", id], now: now)
        return id
    }

    /// Starts `field` without waiting for it (to kill it part way), on the
    /// machine's clock; its output goes to `output`, its errors beside it.
    public func spawn(_ arguments: [String], output: URL) throws -> ChildProcess {
        minute += 1
        return try ChildProcess(
            Self.executable.path, arguments, environment: environment(now: nil), output: .file(output.path), error: .file(output.path + ".err"))
    }

    /// Starts a session that reads commands as the test writes them, its
    /// clock at `now` (the home's fixed time when nil, else the machine's).
    public func startSession(now: String? = nil) throws -> LiveSession {
        var time = now
        if time == nil, case .fixed(let fixed) = clock { time = fixed }
        return try LiveSession(executable: Self.executable, environment: environment(now: time))
    }

    /// The home's store, opened in this process.
    public func openStore() throws -> LocalStore {
        try LocalStore(path: folder.appendingPathComponent("field.sqlite").path, author: "test", passphrase: passphrase)
    }

    /// Removes the folder now (it goes anyway with the home, unless it belongs to something else).
    public func remove() { try? FileManager.default.removeItem(at: folder) }

    deinit { if removesFolder { remove() } }
}

/// A running `field` session fed line by line, to be killed at a chosen moment.
public final class LiveSession {
    public let process: ChildProcess
    private var buffer = Data()

    public init(executable: URL, environment: [String: String]) throws {
        process = try ChildProcess(executable.path, environment: environment, input: .pipe, output: .pipe, error: .pipe)
    }

    /// Writes one line to the session.
    public func send(_ line: String) {
        process.input!.write(Data((line + "\n").utf8))
    }

    /// Blocks until `count` more lines of output have arrived; returns them
    /// (fewer if the session ends first).
    public func readLines(_ count: Int) -> [String] {
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
    public func kill() {
        process.signal(SIGKILL)
        process.wait()
    }
}

/// A transcript of `field` commands run by several people (against one
/// server), compared whole with a golden file (`Golden`). What the server
/// makes at random (receipts, its address, tokens) is replaced by
/// placeholders; each referral's own reference (`F-XXXX-XXXX`, random too)
/// by `F-XXXX-000N`, numbered in the order they first appear, so that two
/// referrals' references still read as different.
public final class Transcript {
    public private(set) var text = ""
    private var replacements: [(String, String)] = []
    private var references: [String: String] = [:]

    public init() {}

    /// Replace `value` by `placeholder` wherever it appears.
    public func mask(_ value: String, as placeholder: String) { replacements.append((value, placeholder)) }

    /// Runs a command in `home` and adds it and its output, as `label$ field …`.
    @discardableResult
    public func run(_ home: FieldHome, _ arguments: String..., input: String? = nil) throws -> String {
        let result = try home.run(arguments, input: input)
        var shown = "\(home.label)$ field " + arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ") + "\n"
        shown += result.output + (result.status == 0 ? "" : "[exit \(result.status)]\n")
        text += masked(shown)
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func note(_ line: String) { text += "# \(line)\n" }

    public func masked(_ text: String) -> String {
        var text = text
        for (value, placeholder) in replacements { text = text.replacingOccurrences(of: value, with: placeholder) }
        let pattern = #/F-[0-9A-Z]{4}-[0-9A-Z]{4}/#
        for match in text.matches(of: pattern) {
            let reference = String(match.output)
            guard references[reference] == nil, !reference.hasPrefix("F-XXXX-") else { continue }
            references[reference] = String(format: "F-XXXX-%04d", references.count + 1)
        }
        for (reference, placeholder) in references { text = text.replacingOccurrences(of: reference, with: placeholder) }
        // Receipts are random: R-XXXX-XXXX.
        return text.replacingOccurrences(of: #"R-[0-9A-Z]{4}-[0-9A-Z]{4}"#, with: "R-XXXX-XXXX", options: .regularExpression)
    }

    /// Compares with (or, under UPDATE_GOLDEN=1, writes) `Golden/<name>`; nil when equal.
    public func differenceFromGolden(_ name: String) throws -> String? {
        try Golden.difference(text, fromGolden: name)
    }
}
