import Foundation
import SyncCore
import TestSupport
import Testing

/// The passphrase as a person meets it through the real `field` binary.
@Suite("The store's passphrase, through the CLI")
struct PassphraseTests {
    @Test("a wrong or missing passphrase is refused with one sentence and a non-zero exit, and nothing changes")
    func wrongPassphrase() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["set", id, "concern.summary", "Bruises on both arms"]).status == 0)
        let record = UUID(uuidString: id)!
        func snapshot() throws -> [String] {
            let store = try field.openStore()
            return try store.history(of: record).map { "\($0.path)=\($0.newValue ?? "-")" }
                + store.pendingChanges().map { "\($0.seq) \($0.path)=\($0.value ?? "-")" }
        }
        let before = try snapshot()

        let wrong = try field.run(["set", id, "concern.summary", "Overwritten"], environment: ["FIELD_PASSPHRASE": "not the passphrase"])
        #expect(wrong.status == 1)
        #expect(wrong.output == "Error: The passphrase does not open this device's store; nothing was changed.\n")
        let missing = try field.run(["list"], environment: ["FIELD_PASSPHRASE": nil])
        #expect(missing.status != 0)
        #expect(missing.output.contains("set FIELD_PASSPHRASE"))
        #expect(try snapshot() == before)
        #expect(try field.openStore().referral(record).values["concern.summary"] == "Bruises on both arms")
    }

    @Test("`field passphrase` changes it without losing anything; the old one stops working")
    func change() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["set", id, "concern.summary", "Left alone overnight"]).status == 0)

        let short = try field.run(["passphrase"], environment: ["FIELD_NEW_PASSPHRASE": "short"])
        #expect(short.status == 1)
        #expect(short.output == "Error: A passphrase of 5 characters is too short; use at least 8.\n")

        let changed = try field.run(["passphrase"], environment: ["FIELD_NEW_PASSPHRASE": "a much longer passphrase"])
        #expect(changed.status == 0, "\(changed.output)")
        #expect(try field.run(["list"]).status == 1)
        let shown = try field.run(["show", id], environment: ["FIELD_PASSPHRASE": "a much longer passphrase"])
        #expect(shown.status == 0)
        #expect(shown.output.contains("Left alone overnight"))
    }
}
