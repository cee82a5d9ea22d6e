import Foundation
import SyncCore
import TestSupport
import Testing

/// Scripting `field`: JSON everywhere `--json` is given, failures included,
/// help without merge-policy jargon, and shell completion of ids, paths and
/// sections, through the real binary.
@Suite("Scripting: --json errors, list --json, help, completion")
struct ScriptingTests {
    func json(_ output: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(output.utf8))
    }

    @Test("with --json, a failure prints {\"error\":{\"message\":…}} on standard output and exits non-zero")
    func jsonErrors() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        for (arguments, status, sentence) in [
            (["show", "ffff", "--json"], Int32(1), "ffff"),
            (["status", "ffff", "--json"], 1, "ffff"),
            (["new", "--kind", "adoption", "--json"], 64, "adoption"),
            (["lsit", "--json"], 64, "lsit"),
            (["sync", "--json"], 1, "field login"),
        ] {
            let result = try field.run(arguments)
            #expect(result.status == status, "\(arguments): \(result.output)")
            let body = try #require(try json(result.output) as? [String: Any], "\(arguments): \(result.output)")
            let message = try #require((body["error"] as? [String: Any])?["message"] as? String)
            #expect(message.contains(sentence), "\(arguments): \(message)")
            #expect(body.count == 1)
        }
        // check's own exit status 2 comes with its report, not an error body.
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try field.run(["set", id, "referrer.type", "professional"])
        let check = try field.run(["check", id, "--json"])
        #expect(check.status == 2)
        #expect((try json(check.output) as? [String: Any])?["errors"] != nil)
        // Without --json, errors stay sentences on standard error.
        let plain = try field.run(["show", "ffff"])
        #expect(plain.status == 1 && plain.output.hasPrefix("Error: "))
    }

    @Test("list --json gives each referral's pending change count and first child's name")
    func listJSON() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try field.run(["add", id, "children"])
        _ = try field.run(["set", id, "children.1.full_name", "Amy Smith"])
        let other = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let rows = try #require(try json(try field.run(["list", "--json"]).output) as? [[String: Any]])
        let amy = try #require(rows.first { $0["id"] as? String == id })
        #expect(amy["child"] as? String == "Amy Smith")
        #expect(amy["pending"] as? Int == 4)
        let empty = try #require(rows.first { $0["id"] as? String == other })
        #expect(empty["child"] is NSNull && empty["pending"] as? Int == 2)
    }

    @Test("fields and --help keep merge-policy jargon out of the practitioner's view, and list choices once")
    func noJargon() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let fields = try field.run(["fields"]).output
        for jargon in [", lww)", ", append)", ", set)", "manual"] { #expect(!fields.contains(jargon), "\(jargon)") }
        #expect(fields.contains("referrer.phone  (text)"))
        for command in [["fields", "--help"], ["new", "--help"], ["--help"], ["set", "--help"]] {
            let help = try field.run(command).output
            for jargon in ["lww", "merge policy", "manual"] { #expect(!help.contains(jargon), "\(command): \(jargon)") }
        }
        let new = try field.run(["new", "--help"]).output
        #expect(new.components(separatedBy: "pre-birth").count == 2, "choices listed once: \(new)")
    }

    @Test("shell completion offers this device's referral ids, the form's paths and its sections")
    func completion() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let first = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        func complete(_ arguments: [String]) throws -> [String] {
            let result = try field.run(["---completion"] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.output)")
            return result.output.split(separator: "\n").map(String.init)
        }
        #expect(Set(try complete(["set", "--", "positional@0", "0", "0", ""])) == [first, second])
        #expect(try complete(["show", "--", "positional@0", "0", "13", String(second.prefix(13))]).contains(second))
        let paths = try complete(["set", "--", "positional@1", "1", "9", first, "children."])
        #expect(paths.contains("children.1.full_name") && paths.allSatisfy { $0.hasPrefix("children.") }, "\(paths)")
        #expect(try complete(["fill", "--", "--section", "0", "2", "co"]).contains("concern"))
        #expect(try complete(["add", "--", "positional@1", "1", "2", first, "ch"]) == ["children"])
        let script = try field.run(["--generate-completion-script", "bash"])
        #expect(script.status == 0 && script.output.contains("---completion"))
        // No passphrase in the environment: no ids, and no question asked.
        let locked = try field.run(["---completion", "set", "--", "positional@0", "0", "0", ""], environment: ["FIELD_PASSPHRASE": nil])
        #expect(locked.status == 0 && locked.output.isEmpty, "\(locked.output)")
    }
}
