import Foundation
import TestSupport
import SyncCore
import Testing

/// What `field` says after a sync, a failed login and in `status`, through
/// the real binaries against a real server (golden `sync-words.expected`).
@Suite("Words that say what happened (golden file, real server)")
struct SyncWordsTests {
    @Test("sync gives one line per referral with news: acknowledged, decided, a conflict opened and resolved; the receipt is the server's")
    func syncNews() async throws {
        let door = try IntakeTranscriptTests.FrontDoor()
        let (t, jane, ian) = (door.transcript, door.jane, door.ian)
        let phone = try FieldHome(user: "jane", seed: 44, label: "jane-phone")
        try door.login(phone, token: door.janeToken)
        let admin = try FieldHome(user: "ada", seed: 45, hour: "2026-11-23T11", label: "ada")
        try door.login(admin, token: try door.server.addUser("ada", role: .admin))
        let id = try door.submitted()
        let short = String(id.prefix(13))
        try t.run(phone, "sync")
        try door.at("13:10")
        try t.run(ian, "intake", "ack", short)
        t.note("The acknowledgement reaches Jane's device, in words.")
        try t.run(jane, "sync")
        t.note("A sync with no news says nothing more than the counts.")
        try t.run(jane, "sync")
        try door.at("14:00")
        try t.run(ian, "intake", "decide", short, "--outcome", "advice-given", "--note", "Advice given to the school")
        try t.run(jane, "set", short, "concern.summary", "Amy now says her stepfather hit her")
        try t.run(phone, "set", short, "concern.summary", "Amy told her teacher: Dad's friend hit her again")
        try t.run(phone, "sync")
        t.note("The laptop hears of the decision and of the conflict its own edit made.")
        try t.run(jane, "sync")
        t.note("Each candidate is named by the device that wrote it, as its user knows it.")
        try t.run(jane, "status", short)
        try door.at("14:30")
        let conflicts = try #require(try JSONSerialization.jsonObject(with: Data(admin.run(["conflicts", "--json"]).output.utf8)) as? [[String: Any]])
        let conflict = try #require(conflicts.first?["id"] as? String)
        t.mask(conflict, as: "CONFLICT-ID")  // the server's random id
        try t.run(admin, "resolve", String(conflict.prefix(8)), "--pick", "1", "--reason", "The teacher's account is first-hand")
        try t.run(jane, "sync")
        try t.run(jane, "status")
        try door.compare(toGolden: "sync-words.expected")

        // sync --json carries the same news lines.
        try door.at("14:40")
        try t.run(ian, "intake", "decide", short, "--outcome", "advice-given", "--note", "Advice given again", "--change", "--reason", "The teacher's account")
        let synced = try #require(try JSONSerialization.jsonObject(with: Data(jane.run(["sync", "--json"]).output.utf8)) as? [String: Any])
        #expect(synced["news"] as? [String] == ["01a207a4-0b28 (Amy Smith): decision changed: Advice and information given"], "\(synced)")
        #expect(synced["pulled"] as? Int != nil)

        // intake show --json: the server's document, the decisions and the guidance's report.
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(ian.run(["intake", "show", short, "--json"]).output.utf8)) as? [String: Any])
        #expect((shown["referral"] as? [String: Any])?["id"] as? String == id)
        #expect(((shown["referral"] as? [String: Any])?["fields"] as? [String: String])?.values.contains("Amy Smith") == true)
        #expect((shown["decisions"] as? [[String: Any]])?.map { $0["note"] as? String } == ["Advice given to the school", "Advice given again"])
        #expect(((shown["guidance"] as? [String: Any])?["warnings"] as? [Any])?.isEmpty == false)
        let missing = try ian.run(["intake", "show", "ffff", "--json"])
        #expect(missing.status == 1)
        #expect(((try JSONSerialization.jsonObject(with: Data(missing.output.utf8)) as? [String: Any])?["error"] as? [String: String])?["message"]?.contains("'ffff'") == true, "\(missing.output)")

        // A login that fails promises nothing about a later sync (curl's reason varies, so not in the golden file).
        let failed = try FieldHome(user: "kim", seed: 46).run(["login", "--server", "http://127.0.0.1:9", "--token", "anything"])
        #expect(failed.status == 1)
        #expect(failed.output.hasPrefix("Error: Cannot reach the server at http://127.0.0.1:9 ("), "\(failed.output)")
        #expect(failed.output.hasSuffix("); this device is not logged in: check the address and run `field login` again.\n"), "\(failed.output)")
        #expect(!failed.output.contains("next sync"))
    }

    @Test("sync-server device revoke --help agrees with docs/operations.md: the device's own token stops working; the user's was never on it")
    func revokeHelp() throws {
        let help = try ServerProcess.command(["device", "revoke", "--help"]).output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("token of its own"), "\(help)")
        #expect(help.contains("never stored on the device"), "\(help)")
        #expect(!help.contains("the token lives on the device"), "\(help)")
        let docs = Repository.file("docs/operations.md")
        let operations = try String(contentsOf: docs, encoding: .utf8).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(operations.contains("the user's token was never stored on the device"))
        #expect(operations.contains("that token stops working at once"))
    }
}
