import Foundation
import SyncCore
import TestSupport
import Testing

/// `field profile`: the referrer's details given once start every new draft
/// (golden `profile.expected`), through the real `field` binary.
@Suite("field profile: the referrer's details once, in every new draft")
struct ProfileTests {
    @Test("field profile sets the referrer's details once; every new draft starts with them")
    func profile() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
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
        let file = field.folder.appendingPathComponent("profile.json").path
        let permissions = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
    }
}
