import Foundation
import SyncCore
import TestSupport
import Testing

/// Text that shows nothing is no answer (issue 13, item 5), through the real `field` binary.
@Suite("Invisible text")
struct InvisibleTextTests {
    @Test("a value of invisible characters only is empty, edges are trimmed, values are stored in NFC")
    func invisibleIsEmpty() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        // Zero-width space, word joiner, byte-order mark, a right-to-left override: nothing shows.
        let blank = try field.run(["set", id, "referrer.name", "\u{200B}\u{2060}\u{FEFF} \u{202E}"])
        #expect(blank.status == 1)
        #expect(blank.output == "Error: The value is empty; use `unset` to clear a field.\n", "\(blank.output)")
        // So the hard rule "a professional must give their name" still holds.
        let check = try field.run(["check", id, "--json"])
        #expect(check.output.contains("\"path\" : \"referrer.name\"") || check.output.contains("\"path\":\"referrer.name\""), "\(check.output)")

        // Invisible characters at the edges go; a decomposed é is stored composed.
        #expect(try field.run(["set", id, "concern.summary", "\u{200B}Rene\u{0301} said \"no\"\u{FEFF}"]).status == 0)
        let store = try field.openStore()
        let stored = try store.referral(UUID(uuidString: id)!).values["concern.summary"]
        #expect(stored == "Ren\u{00E9} said \"no\"")
        #expect(stored?.unicodeScalars.count == 14)
    }

    @Test("a value of quotation marks only (`set … \"\"`) is refused with one sentence, and nothing is stored (issue 26, item 8)")
    func quotesOnlyRefused() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["add", id, "children"]).status == 0)
        for typed in ["\"\"", "''", "\u{201C}\u{201D}", "\" \"", "\"\u{200B}\"", "\u{00AB}\u{00BB}"] {
            let refused = try field.run(["set", id, "children.1.full_name", typed])
            #expect(refused.status == 1)
            #expect(refused.output.split(separator: "\n").count == 1 && refused.output.contains("is only quotation marks"), "\(refused.output)")
        }
        // Typed in a session, the rest of a `set` line is the value verbatim: the same refusal.
        let session = try field.run([], input: "set \(id) children.1.full_name \"\"\n")
        #expect(session.status == 1 && session.output.contains("is only quotation marks"), "\(session.output)")
        let store = try field.openStore()
        let referral = try store.referral(UUID(uuidString: id)!)
        #expect(referral.values.first { $0.key.hasSuffix(".full_name") } == nil)
        // A value with words inside quotes is kept as typed.
        #expect(try field.run(["set", id, "children.1.full_name", "\"Amy\" Smith"]).status == 0)
    }

    @Test("a bidirectional control inside a name is refused with one line naming it")
    func bidiInNameRefused() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["add", id, "children"]).status == 0)
        let refused = try field.run(["set", id, "children.1.full_name", "Amy \u{202E}htimS"])
        #expect(refused.status == 1)
        #expect(refused.output.split(separator: "\n").count == 1, "\(refused.output)")
        #expect(refused.output.contains("<U+202E>") && refused.output.contains("bidirectional"), "\(refused.output)")
        // Elsewhere right-to-left text is kept as written.
        #expect(try field.run(["set", id, "concern.summary", "Said \u{2067}שלום\u{2069} at the door"]).status == 0)
    }

    @Test("the guidance counts a stored invisible-only value as not answered")
    func guidanceIgnoresBlank() {
        let referral = Referral(id: UUID(), createdAt: Date(), createdBy: "x", updatedAt: Date(),
                                values: ["referrer.name": "\u{200B}\u{200D}", "referrer.role": "Teacher", RecordPath.kind: "social-care"])
        let report = Guidance.check(referral)
        #expect(report.errors.contains { $0.path == "referrer.name" })
    }
}
