import Foundation
import SyncCore
import TestSupport
import Testing

/// The referrer's profile, discard's confirmation and the demo's tokens,
/// through the real `field` binary (golden `profile.expected`).
@Suite("Small things: profile, discard's confirmation, the demo's tokens")
struct SmallThingsTests {
    @Test("field profile sets the referrer's details once; every new draft starts with them")
    func profile() throws {
        let field = try FieldProcess()
        defer { field.remove() }
        var transcript = ""
        @discardableResult
        func field_(_ arguments: String...) throws -> String {
            let result = try field.run(arguments)
            transcript += "$ field " + arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ") + "\n"
            transcript += result.output + (result.status == 0 ? "" : "[exit \(result.status)]\n")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try field_("profile")
        try field_("profile", "--name", "Jane Smith", "--role", "Health visitor", "--agency", "Worcester Health Visiting Team",
                   "--phone", "01905 000111", "--email", "jane.smith@example.org")
        try field_("profile", "--email", "")
        try field_("profile", "--json")
        let id = try field.run(["new", "--json"]).output
        let created = try #require(try JSONSerialization.jsonObject(with: Data(id.utf8)) as? [String: String])["id"]!
        try field_("new")
        try field_("show", String(created.prefix(13)))
        try TranscriptTests().compare(transcript, toGolden: "profile.expected")

        let store = try field.openStore()
        let values = try store.referral(try store.referralID(matching: created)).values
        #expect(values["referrer.name"] == "Jane Smith" && values["referrer.phone"] == "01905 000111" && values["referrer.email"] == nil)
        let file = field.home.appendingPathComponent("profile.json").path
        let permissions = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
    }

    @Test("discard asks at a terminal, and only there: a script and --yes do not")
    func discardConfirmation() throws {
        let field = try FieldProcess()
        defer { field.remove() }
        let first = try field.run(["new"], now: "2026-11-23T09:01:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try field.run(["new"], now: "2026-11-23T09:02:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let third = try field.run(["new"], now: "2026-11-23T09:03:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        // At a terminal (a pseudo-terminal from util-linux `script`): "no" keeps the draft.
        func atTerminal(_ arguments: String, answer: String) throws -> String {
            let command = FieldProcess.executable.path + " " + arguments
            let (_, output) = try ChildProcess.run(
                "/usr/bin/script", ["-qec", command, "/dev/null"], environment: field.environment(now: "2026-11-23T09:30:00Z"),
                input: answer + "\n", error: .pipe)
            return output
        }
        let declined = try atTerminal("discard \(first)", answer: "no")
        #expect(declined.contains("Discard referral \(first)? It can then no longer change. Type yes to discard:"), "\(declined)")
        #expect(declined.contains("Nothing was discarded."), "\(declined)")
        let accepted = try atTerminal("discard \(first)", answer: "yes")
        #expect(accepted.contains("Discarded referral \(first)."), "\(accepted)")
        let forced = try atTerminal("discard --yes \(second)", answer: "")
        #expect(!forced.contains("Type yes") && forced.contains("Discarded referral \(second)."), "\(forced)")
        // Standard input not a terminal: no question.
        let scripted = try field.run(["discard", third])
        #expect(scripted.status == 0 && scripted.output == "Discarded referral \(third).\n", "\(scripted.output)")
        let store = try field.openStore()
        for id in [first, second, third] {
            #expect(try store.referral(try store.referralID(matching: id)).status == .discarded)
        }
    }

    @Test("scripts/demo never prints a whole token: logins read it from standard input, and the printed part is the fixed prefix")
    func demoHidesTokens() throws {
        let demo = try String(contentsOf: SetupScriptTests.root.appendingPathComponent("scripts/demo"), encoding: .utf8)
        #expect(!demo.contains("--token \"$"), "a token on a command line the demo's `field` function echoes")
        #expect(demo.contains("--token -"))
        for line in demo.split(separator: "\n") where line.hasPrefix("echo") && line.contains("token") {
            #expect(!line.contains("${token}") && !line.contains("$token\"") && !line.contains(":0:12}"), "\(line)")
        }
    }
}
