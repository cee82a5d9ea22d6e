import Foundation
import SyncCore
import TestSupport

/// A `FIELD_HOME` driven through the real `field` binary (the one built next
/// to `sync-server`), with a fixed clock per command and seeded ids, so that
/// transcripts against a real server repeat byte for byte.
final class FieldHome: @unchecked Sendable {
    static let executable = ServerProcess.executable.deletingLastPathComponent().appendingPathComponent("field")
    static let passphrase = "field home passphrase"

    let folder: URL
    let seed: Int
    let user: String
    /// How transcripts name whoever types at this home (`jane-phone$`).
    let label: String
    /// The device's clock for the next command; each command moves it a minute on.
    private(set) var minute = 0
    let hour: String

    /// - Parameters:
    ///   - seed: FIELD_TEST_SEED; give each home of a test its own, or their device ids collide.
    ///   - hour: the hour its commands run at (`2026-11-23T09`), a minute apart.
    ///   - folder: FIELD_HOME (a small filesystem the test mounted); a new temporary folder when nil.
    init(user: String, seed: Int, hour: String = "2026-11-23T09", label: String? = nil, folder: URL? = nil) throws {
        self.folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("field-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
        self.user = user
        self.label = label ?? user
        self.seed = seed
        self.hour = hour
    }

    /// Runs `field` to completion: its output (stdout and stderr in order) and exit status.
    @discardableResult
    func run(_ arguments: [String], input: String? = nil, environment overrides: [String: String?] = [:]) throws -> (output: String, status: Int32) {
        minute += 1
        var environment = ProcessInfo.processInfo.environment
        environment["FIELD_HOME"] = folder.path
        environment["FIELD_USER"] = user
        environment["FIELD_TEST_NOW"] = String(format: "\(hour):%02d:00Z", minute % 60)
        environment["FIELD_TEST_SEED"] = String(seed)
        environment["FIELD_PASSPHRASE"] = Self.passphrase
        environment["FIELD_TEST_FAST_KDF"] = "1"
        for (key, value) in overrides { environment[key] = value }
        // posix_spawn and waitpid (TestSupport), as every process the tests start.
        let (termination, output) = try ChildProcess.run(
            Self.executable.path, arguments, environment: environment, input: input ?? "", error: .pipe)
        return (output, termination.status)
    }

    /// Starts `field` without waiting for it (to kill it part way), with
    /// the same environment as `run`; its output goes to `output`.
    func spawn(_ arguments: [String], output: URL) throws -> ChildProcess {
        minute += 1
        var environment = ProcessInfo.processInfo.environment
        environment["FIELD_HOME"] = folder.path
        environment["FIELD_USER"] = user
        environment["FIELD_TEST_SEED"] = String(seed)
        environment["FIELD_PASSPHRASE"] = Self.passphrase
        environment["FIELD_TEST_FAST_KDF"] = "1"
        return try ChildProcess(Self.executable.path, arguments, environment: environment, output: .file(output.path), error: .file(output.path + ".err"))
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

/// A transcript of `field` commands run by several people against one
/// server, compared whole with a golden file in `Tests/FieldCLITests/Golden/`
/// (`UPDATE_GOLDEN=1` rewrites it). What the server makes at random
/// (receipts, its address, tokens) is replaced by placeholders; each
/// referral's own reference (`F-XXXX-XXXX`, random too) by `F-XXXX-000N`,
/// numbered in the order they first appear, so that two referrals' references
/// still read as different.
final class Transcript {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FieldCLITests/Golden")

    private(set) var text = ""
    private var replacements: [(String, String)] = []
    private var references: [String: String] = [:]

    /// Replace `value` by `placeholder` wherever it appears.
    func mask(_ value: String, as placeholder: String) { replacements.append((value, placeholder)) }

    /// Runs a command in `home`, as `who`, and adds it and its output.
    @discardableResult
    func run(_ home: FieldHome, _ arguments: String..., input: String? = nil) throws -> String {
        let result = try home.run(arguments, input: input)
        var shown = "\(home.label)$ field " + arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ") + "\n"
        shown += result.output + (result.status == 0 ? "" : "[exit \(result.status)]\n")
        text += masked(shown)
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func note(_ line: String) { text += "# \(line)\n" }

    func masked(_ text: String) -> String {
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
    func differenceFromGolden(_ name: String) throws -> String? {
        let file = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        guard expected != text else { return nil }
        let wanted = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let got = text.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(wanted, got).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(wanted.count, got.count)
        return "Golden/\(name) differs from line \(first + 1):\n  expected: \(first < wanted.count ? String(wanted[first]) : "(end)")\n  actual:   \(first < got.count ? String(got[first]) : "(end)")\nRegenerate with UPDATE_GOLDEN=1 and review the diff."
    }
}
