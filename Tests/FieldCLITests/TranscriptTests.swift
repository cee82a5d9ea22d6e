import Foundation
import SyncCore
import TestSupport
import Testing

/// CLI transcripts compared whole against golden files in `Golden/`.
/// After an intended change of output, regenerate them with
/// `UPDATE_GOLDEN=1 swift test --filter TranscriptTests` and review the diff.
@Suite("CLI transcripts (golden files)")
struct TranscriptTests {
    /// Records where `actual` first differs from `Golden/<name>` (the kit's `Golden`).
    func compare(_ actual: String, toGolden name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if let difference = try Golden.difference(actual, fromGolden: name) {
            Issue.record(Comment(rawValue: difference), sourceLocation: sourceLocation)
        }
    }

    @Test("a scripted session drafts, fills every section for two children, checks and submits")
    func scriptedSession() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let script = try String(contentsOf: Golden.folder.appendingPathComponent("session.input"), encoding: .utf8)
        let result = try field.run([], input: script)
        try compare(result.output + "[exit \(result.status)]\n", toGolden: "session.expected")

        // The transcript's claims hold in the store itself.
        let store = try field.openStore()
        let referral = try store.referral(try store.referralID(matching: "0"))
        #expect(referral.status == .submitted)
        #expect(referral.items(of: "children").count == 2)
        #expect(try store.integrityProblems().isEmpty)
    }

    @Test("one-shot commands do the same, one process each")
    func oneShotCommands() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        var transcript = ""
        var minute = 0
        @discardableResult
        func field_(_ arguments: String...) throws -> String {
            minute += 1
            let result = try field.run(arguments, now: String(format: "2026-11-23T10:%02d:00Z", minute))
            transcript += "$ field " + arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") + "\n"
            transcript += result.output + (result.status == 0 ? "" : "[exit \(result.status)]\n")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let id = try field_("new", "--kind", "lado")
        try field_("set", id, "referrer.name", "Tom Baker")
        try field_("set", id, "referrer.role", "Youth worker")
        try field_("set", id, "referrer.agency", "Riverside Youth Club")
        try field_("add", id, "children")
        try field_("add", id, "children")
        try field_("set", id, "children.1.full_name", "Sam Ali")
        try field_("set", id, "children.2.full_name", "Jo Ali")
        try field_("set", id, "children.2.date_of_birth", "2011-05-02")
        try field_("set", id, "allegation.adult_name", "Mr K. Lee")
        try field_("set", id, "allegation.adult_role", "Volunteer football coach")
        try field_("set", id, "concern.summary", "Coach sends private messages to Sam late at night")
        try field_("set", id, "consent.status", "refused")
        try field_("submit", id)
        try field_("set", id, "consent.reason", "Mother refused; the coach's access to children must be assessed")
        try field_("set", id, "need.indicators", "relationships, basic-care-safety")
        try field_("set", id, "urgency.immediate_risk", "no")
        try field_("unset", id, "urgency.immediate_risk")
        try field_("remove", id, "children.1")
        try field_("show", id)
        try field_("check", id, "--json")
        try field_("submit", id)
        try field_("discard", id)
        try field_("list", "--json")
        try field_("history", id, "children")
        try field_("history", id, "referrer.name", "--json")
        try field_("sett", id, "concern.summary", "x")
        try field_("set", "ffff", "concern.summary", "x")
        try field_("new", "--kind", "adoption")
        try compare(transcript, toGolden: "oneshot.expected")
    }

    @Test("a value is kept exactly as typed, quotes, apostrophes, backslashes and # included: in a session's set, in fill and in a one-shot set")
    func valuesKeptAsTyped() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let typed: [(path: String, value: String)] = [
            ("concern.summary", #"Amy said "Dad's friend grabbed me" and cried"#),
            ("concern.allegations", #""He told me 'stop it'" \ twice, # at 9pm"#),
            ("concern.sources", #"Mum's note: C:\notes\amy.txt  (two  spaces)"#),
            ("concern.when", #"'Saturday' or "Sunday"? \"#),
        ]
        func stored() throws -> [String] {
            let store = try field.openStore()
            let values = try store.referral(try store.referralID(matching: id)).values
            return typed.map { values[$0.path] ?? "(none)" }
        }
        // The session: the value is everything after the path.
        let script = typed.map { "set \(id.prefix(13)) \($0.path) \($0.value)" }.joined(separator: "\n") + "\n"
        let session = try field.run([], input: script)
        #expect(session.status == 0, "\(session.output)")
        #expect(session.output == typed.map { "\($0.path) = \($0.value)\n" }.joined())
        #expect(try stored() == typed.map(\.value))
        // `field` in front and a tab after the path change nothing.
        let prefixed = try field.run([], input: "field set \(id) concern.summary\t\"Her words\" # exactly\n")
        #expect(prefixed.output == "concern.summary = \"Her words\" # exactly\n")
        // fill keeps them too (each answer on its own line, in the form's order).
        let cleared = typed.map { "unset \(id) \($0.path)" }.joined(separator: "\n") + "\n"
        #expect(try field.run([], input: cleared).status == 0)
        let fill = try field.run([], input: "fill \(id) --section concern\n\(typed[0].value)\n\(typed[1].value)\n\(typed[2].value)\n\n\(typed[3].value)\n.\n")
        #expect(fill.status == 0, "\(fill.output)")
        #expect(try stored() == typed.map(\.value))
        // A one-shot set takes its value from the shell's words, which the shell has unquoted.
        for (path, value) in typed {
            #expect(try field.run(["set", id, path, "changed"]).status == 0)
            #expect(try field.run(["set", id, path, value]).status == 0)
        }
        #expect(try stored() == typed.map(\.value))
    }

    @Test("the shipped example's phone numbers are labelled as such wherever they are given, until the authority is configured")
    func exampleAuthority() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        var transcript = ""
        @discardableResult
        func field_(_ arguments: String..., now: String = "2026-11-23T10:00:00Z") throws -> String {
            let result = try field.run(arguments, now: now)
            transcript += "$ field " + arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") + "\n"
            transcript += result.output.replacingOccurrences(of: field.folder.path, with: "$FIELD_HOME") + (result.status == 0 ? "" : "[exit \(result.status)]\n")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let id = try field_("new")
        try field_("set", id, "urgency.immediate_risk", "yes")
        try field_("contacts")
        try field_("status")
        // A fill at a keyboard-less session gives the same advice.
        try field_("unset", id, "urgency.immediate_risk")
        let fill = try field.run([], input: "fill \(id) --section urgency\nyes\n.\n", now: "2026-11-23T22:00:00Z")
        transcript += "$ field < (fill \(id) --section urgency: yes, .)\n" + fill.output
        // Configured: the user's own numbers, with no notice.
        try field_("contacts", "--init")
        try field_("contacts", "--init")
        let file = field.folder.appendingPathComponent("authority.json")
        let edited = try String(contentsOf: file, encoding: .utf8)
            .replacingOccurrences(of: "Worcestershire County Council (Family Front Door)", with: "Testshire Council (Children's Front Door)")
            .replacingOccurrences(of: "01905 822666", with: "01234 567890")
        try edited.write(to: file, atomically: true, encoding: .utf8)
        try field_("unset", id, "urgency.immediate_risk")
        try field_("set", id, "urgency.immediate_risk", "yes")
        try field_("contacts")
        try field_("status")
        try compare(transcript, toGolden: "authority.expected")
    }

    @Test("`fields --json` lists every path of the form with its type, question and policy")
    func fieldsJSON() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let result = try field.run(["fields", "--json"])
        #expect(result.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as! [[String: Any]]
        #expect(rows.count == ReferralForm.standard.patterns.count)
        let byPath = Dictionary(uniqueKeysWithValues: rows.map { ($0["path"] as! String, $0) })
        #expect(byPath["children.*.full_name"]?["type"] as? String == "text")
        #expect(byPath["need.indicators"]?["policy"] as? String == "set")
        #expect(byPath["consent.status"]?["question"] as? String == "Has a parent or carer consented to this referral?")
    }

    @Test("the form document is generated from the form definition")
    func formDocument() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let result = try field.run(["fields", "--markdown"])
        #expect(result.status == 0)
        if let difference = try Golden.difference(result.output, from: Repository.file("docs/form-fields.md"), named: "docs/form-fields.md") {
            Issue.record("docs/form-fields.md is stale (regenerate with `swift run field fields --markdown > docs/form-fields.md`): \(difference)")
        }
    }
}
