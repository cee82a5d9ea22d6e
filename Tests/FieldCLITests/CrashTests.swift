import Foundation
import SyncCore
import TestSupport
import Testing

/// `kill -9` of the real `field` process: between commands and in the middle
/// of a stream of writes. What the CLI confirmed must be there afterwards, and
/// the store must be consistent (SQLite's check and the store's invariants).
@Suite("Crash safety (kill -9)", .serialized)
struct CrashTests {
    @Test("every confirmed command survives a kill between commands")
    func killBetweenCommands() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let created = try field.run(["new"])
        let id = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let commands: [(String, expected: (Referral) -> Bool)] = [
            ("set \(id) referrer.name Jane Smith", { $0.values["referrer.name"] == "Jane Smith" }),
            ("add \(id) children", { $0.items(of: "children").count == 1 }),
            ("set \(id) children.1.full_name Amy", { $0.visibleValues.values.contains("Amy") }),
            ("add \(id) children", { $0.items(of: "children").count == 2 }),
            ("set \(id) children.2.full_name Ben", { $0.visibleValues.values.contains("Ben") }),
            ("set \(id) referrer.agency Health visiting", { $0.values["referrer.agency"] == "Health visiting" }),
            ("remove \(id) children.1", { $0.items(of: "children").count == 1 }),
            ("submit \(id)", { $0.status == .submitted }),
        ]
        for (index, (command, holds)) in commands.enumerated() {
            // A fresh session per command, killed as soon as it has answered.
            let session = try field.startSession(now: String(format: "2026-11-23T11:%02d:00Z", index))
            session.send(command)
            let answer = session.readLines(1)
            session.kill()
            #expect(!answer.isEmpty, "no answer to \(command)")
            let store = try field.openStore()
            #expect(try store.integrityProblems().isEmpty)
            #expect(holds(try store.referral(UUID(uuidString: id)!)), "lost after kill: \(command)")
        }
    }

    @Test("a kill in the middle of a stream of writes loses nothing confirmed and corrupts nothing", arguments: [1, 37, 150, 400])
    func killDuringWrites(after confirmations: Int) throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let session = try field.startSession(now: "2026-11-23T12:00:00Z")
        // Far more writes than will be confirmed before the kill, so the
        // process is busy writing when it dies.
        let paths = ["concern.summary", "concern.allegations", "concern.notes", "referrer.knowledge", "household.significant_others"]
        for round in 0..<(confirmations + 300) {
            session.send("set \(id) \(paths[round % paths.count]) value \(round)")
        }
        let confirmed = session.readLines(confirmations)
        session.kill()
        #expect(confirmed.count == confirmations)

        let store = try field.openStore()
        #expect(try store.integrityProblems().isEmpty)
        let referral = try store.referral(UUID(uuidString: id)!)
        let history = try store.history(of: referral.id)
        // Every confirmed write is in the history, in order…
        let written = history.filter { !$0.path.hasPrefix("@") }.map { "\($0.path) = \($0.newValue ?? "")" }
        #expect(Array(written.prefix(confirmed.count)) == confirmed)
        // …and the last of each field's lines is what the field shows, and what its pending change carries.
        for path in paths {
            let last = history.last { $0.path == path }
            #expect(referral.values[path] == last?.newValue)
            let pending = try store.pendingChanges().filter { $0.path == path }
            #expect(pending.last?.value == last?.newValue)
        }
        // The store keeps working after the crash.
        _ = try store.set("concern.when", of: referral.id, to: "after the crash")
        #expect(try store.integrityProblems().isEmpty)
    }
}
