import Foundation
import TestSupport
import GRDB
@testable import SyncCore
import Testing

/// No push stuck for good (a tester's finding, issue 26 item 1), through the
/// real `sync-server` and `field` binaries: pushes are sized by their encoded
/// bytes, a value too large to send is refused when written, and a change no
/// server takes is set aside while the rest go.
@Suite("No push stuck for good: sized by encoded bytes, a value too large refused when written, an unsendable change set aside")
struct OutboxNeverStuckTests {
    @Test("free text of control characters (six bytes each once escaped) no longer makes every push exceed 8 MiB: everything queued, a later submitted referral included, reaches the server")
    func controlCharacterTextDoesNotStickThePush() throws {
        let server = try ServerProcess()
        let (jane, _) = try PractitionerLaptop.janeOnline(server)
        // 72 values of 20,000 control characters: 8.6 MB once escaped, which
        // the old estimate (twice the bytes) put in one push of 8.6 MB.
        let id = try jane.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let noise = String(repeating: "\u{01}", count: 20_000)
        let texts = ["full_name", "aliases", "gender_identity", "upn", "school", "current_location", "condition", "ethnicity", "first_language", "religion", "special_needs", "views"]
        for child in 1...6 {
            #expect(try jane.run(["add", id, "children"]).status == 0)
            for field in texts {
                let set = try jane.run(["set", id, "children.\(child).\(field)", noise])
                #expect(set.status == 0, "children.\(child).\(field): \(set.output.prefix(300))")
            }
        }
        let later = try PractitionerLaptop.referral(jane, summary: "Submitted after the long drafts")
        let sync = try jane.run(["sync"])
        #expect(sync.status == 0, "\(sync.output.prefix(600))")
        #expect(sync.output.contains("0 rejected"), "\(sync.output.prefix(600))")
        let status = try JSONSerialization.jsonObject(with: Data(try jane.run(["status", "--json"]).output.utf8))
        #expect("\(status)".contains("\"pending\" : 0") || !"\(status)".contains("pending = [1-9]"), "\(status)")
        let submitted = try server.command(["audit", "show", "--action", "push", "--limit", "50"]).output
        #expect(submitted.contains(later.lowercased()), "the later referral's push is not in the audit: \(submitted)")
    }

    @Test("a value too large to ever send is refused by field when it is written, in one sentence naming the field and the limit")
    func tooLargeValueRefusedOnWrite() throws {
        let folder = try FieldHome(user: "jane", seed: 72)
        let id = try folder.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        // 6,000 characters, each a letter and 40 combining accents: under 20,000 characters, over 256 KiB
        // (typed in a session: one argument may hold 128 KiB at most).
        let heavy = String(repeating: "a" + String(repeating: "\u{0300}", count: 40), count: 6_000)
        let refused = try folder.run([], input: "set \(id) concern.summary \(heavy)\n")
        #expect(refused.status == 1)
        #expect(refused.output.split(separator: "\n").count == 1, "\(refused.output.prefix(400))")
        #expect(refused.output.hasPrefix("Error: The value of 'concern.summary' would take ") && refused.output.contains("more than the 262144 one value may take"),
                "\(refused.output.prefix(400))")
    }

    @Test("a stored value no server takes (written before the rule) is refused on the device, and the changes queued behind it still go")
    func unsendableChangeDoesNotBlockTheQueue() async throws {
        let server = try ServerProcess()
        let device = try await Device(server: server, token: try server.addUser("jane"))
        defer { device.remove() }
        let stuck = try device.store.createReferral(kind: .socialCare)
        let huge = String(repeating: "a" + String(repeating: "\u{0300}", count: 40), count: 7_000)
        // As an older `field` stored it, without the size rule.
        _ = try await device.store.writer.write { db in try device.store.record([("concern.summary", huge)], in: stuck, db: db, now: Date()) }
        let later = try device.store.createReferral(kind: .socialCare)
        for (path, value) in [("referrer.name", "Jane Smith"), ("referrer.agency", "Health visiting"), ("concern.summary", "Sent behind the stuck one")] {
            try device.store.set(path, of: later, to: value)
        }
        let child = try device.store.addItem(to: "children", of: later)
        try device.store.set("children.\(child.lowercased).full_name", of: later, to: "Amy Smith")
        _ = try device.store.submit(later)

        let summary = try await device.sync()
        #expect(summary.rejected >= 1)
        #expect(try await server.database.strings("SELECT status FROM records WHERE id = ?", [later.lowercased]).first == "submitted")
        let refused = try device.store.pendingChanges().filter { $0.rejectedReason != nil }
        #expect(refused.count == 1 && refused[0].path == "concern.summary" && refused[0].rejectedReason?.hasPrefix("Not sent: the value takes") == true,
                "\(refused.map { ($0.path, $0.rejectedReason ?? "-") })")
        // A second sync sends nothing more and stays refused, never blocked.
        let again = try await device.sync()
        #expect(again.pushed == 0)
    }
}
