import Foundation
import GRDB
import Testing
@testable import SyncCore

@Suite("The local store, on a real SQLite file")
struct LocalStoreTests {
    @Test("a new referral is a draft of its kind, written through history and outbox")
    func create() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .lado)
        let referral = try test.store.referral(id)
        #expect(referral.kind == .lado)
        #expect(referral.status == .draft)
        #expect(referral.createdBy == "alice")
        #expect(try test.store.history(of: id).map(\.path) == ["@kind", "@status"])
        #expect(try test.store.pendingChanges().map(\.seq) == [1, 2])
    }

    @Test("every edit is in the history with who, when, old and new value")
    func history() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("concern.summary", of: id, to: "Bruise on arm")
        try test.store.set("concern.summary", of: id, to: "Bruises on both arms")
        try test.store.unset("concern.summary", of: id)
        let lines = try test.store.history(of: id, path: "concern.summary")
        #expect(lines.map(\.oldValue) == [nil, "Bruise on arm", "Bruises on both arms"])
        #expect(lines.map(\.newValue) == ["Bruise on arm", "Bruises on both arms", nil])
        #expect(lines.allSatisfy { $0.author == "alice" && $0.device == test.store.deviceID })
        #expect(lines.map(\.at) == lines.map(\.at).sorted())
        #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.hlc < $1.hlc })
    }

    @Test("edits of one field before a sync coalesce into one pending change keeping its first base revision")
    func coalescing() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        // As if a pull had brought revision 41 of this field from the server.
        try DatabaseQueue(path: test.path).write { db in
            try db.execute(
                sql: "INSERT INTO field_value (referral_id, path, value, base_rev, updated_at) VALUES (?, 'concern.summary', ?, 41, '2026-11-23T08:00:00Z')",
                arguments: [id.lowercased, test.store.cipher.seal("server text", record: id.lowercased, path: "concern.summary")])
        }
        try test.store.set("concern.summary", of: id, to: "first")
        try test.store.set("concern.summary", of: id, to: "second")
        try test.store.set("concern.summary", of: id, to: "third")
        let pending = try test.store.pendingChanges().filter { $0.path == "concern.summary" }
        #expect(pending.count == 1)
        #expect(pending[0].value == "third")
        #expect(pending[0].baseRevision == 41)
        #expect(pending[0].edits == 3)
        #expect(pending[0].seq == 3)
        #expect(try test.store.history(of: id, path: "concern.summary").count == 3)
    }

    @Test("a sent change is frozen: a later edit queues a new change with a new seq")
    func sentChangesAreFrozen() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("referrer.name", of: id, to: "Jane")
        let sent = try test.store.pendingChanges().map(\.seq)
        try test.store.markSent(sent)
        try test.store.set("referrer.name", of: id, to: "Jane Smith")
        let pending = try test.store.pendingChanges().filter { $0.path == "referrer.name" }
        #expect(pending.map(\.value) == ["Jane", "Jane Smith"])
        #expect(pending[0].sentAt != nil && pending[1].sentAt == nil)
        #expect(pending[1].seq > pending[0].seq)
    }

    @Test("setting a field to the value it holds records nothing")
    func noOpWrite() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("concern.domestic_abuse", of: id, to: "yes")
        let writes = try test.store.set("concern.domestic_abuse", of: id, to: "Y")
        #expect(writes.map(\.changed) == [false])
        #expect(try test.store.history(of: id, path: "concern.domestic_abuse").count == 1)
    }

    @Test("group items have their own ids; removal hides them but loses nothing")
    func groups() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        let amy = try test.store.addItem(to: "children", of: id)
        let ben = try test.store.addItem(to: "children", of: id)
        try test.store.set("children.1.full_name", of: id, to: "Amy")
        try test.store.set("children.2.full_name", of: id, to: "Ben")
        #expect(try test.store.referral(id).items(of: "children") == [amy, ben])
        try test.store.removeItem("children.1", of: id)
        let referral = try test.store.referral(id)
        #expect(referral.items(of: "children") == [ben])
        #expect(referral.visibleValues["children.\(amy.lowercased).full_name"] == nil)
        #expect(referral.values["children.\(amy.lowercased).full_name"] == "Amy")
        #expect(try test.store.history(of: id, path: "children.\(amy.lowercased)").map(\.newValue) == ["present", "Amy", nil])
        #expect(throws: StoreError.itemRemoved(path: "children.\(amy.lowercased).full_name")) {
            try test.store.set("children.\(amy.lowercased).full_name", of: id, to: "Amy B")
        }
        #expect(throws: FormError.unknownGroup(name: "childs", suggestion: "children")) {
            try test.store.addItem(to: "childs", of: id)
        }
    }

    @Test("calling about immediate risk records when, unless a time was given")
    func callTime() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        let writes = try test.store.set("urgency.call_made", of: id, to: "yes")
        #expect(writes.map(\.path) == ["urgency.call_made", "urgency.call_at"])
        #expect(writes[1].newValue?.hasPrefix("2026-11-23T09:00") == true)
    }

    @Test("ids are found by a unique prefix; ambiguous and unknown prefixes are refused")
    func prefixes() throws {
        let test = try TestStore()
        let first = try test.store.createReferral(kind: .socialCare)
        let second = try test.store.createReferral(kind: .socialCare)
        #expect(try test.store.referralID(matching: String(first.lowercased.prefix(20))) == first)
        #expect(try test.store.referralID(matching: second.uuidString) == second)
        #expect(throws: StoreError.self) { try test.store.referralID(matching: "01") }
        #expect(throws: StoreError.unknownReferral("ffff")) { try test.store.referralID(matching: "ffff") }
        #expect(throws: StoreError.unknownReferral("%")) { try test.store.referralID(matching: "%") }
    }

    @Test("submit refuses on hard rules only, and discard keeps the record")
    func submitAndDiscard() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        #expect(throws: StoreError.self) { try test.store.submit(id) }
        #expect(try test.store.referral(id).status == .draft)
        try test.store.set("referrer.name", of: id, to: "Jane Smith")
        try test.store.set("referrer.agency", of: id, to: "Health visiting")
        let report = try test.store.submit(id)
        #expect(report.errors.isEmpty && !report.warnings.isEmpty)
        #expect(try test.store.referral(id).status == .submitted)
        #expect(throws: StoreError.alreadySubmitted(id)) { try test.store.discard(id) }

        let draft = try test.store.createReferral(kind: .earlyHelp)
        try test.store.discard(draft)
        #expect(try test.store.referral(draft).status == .discarded)
        #expect(throws: StoreError.discarded(draft)) { try test.store.set("concern.summary", of: draft, to: "x") }
    }

    @Test("a field of another kind is refused")
    func kindScopedFields() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        #expect(throws: FormError.fieldNotForKind(path: "allegation.adult_name", kind: .socialCare)) {
            try test.store.set("allegation.adult_name", of: id, to: "Mr X")
        }
    }

    @Test("a failed action writes nothing")
    func atomicity() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        let before = try (test.store.history(of: id), test.store.pendingChanges(), test.store.referral(id))
        #expect(throws: FormError.self) { try test.store.set("children.1.full_name", of: id, to: "Nobody") }
        #expect(throws: FormError.self) { try test.store.set("urgency.call_at", of: id, to: "soon") }
        #expect(try test.store.history(of: id) == before.0)
        #expect(try test.store.pendingChanges() == before.1)
        #expect(try test.store.referral(id) == before.2)
    }

    @Test("everything survives closing and reopening the file; the device keeps its id and author")
    func reopen() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .preBirth)
        try test.store.set("concern.summary", of: id, to: "Mother disclosed violence")
        let reopened = try test.reopen()
        #expect(reopened.deviceID == test.store.deviceID)
        #expect(try reopened.author() == "alice")
        #expect(try reopened.referral(id) == test.store.referral(id))
        #expect(try reopened.integrityProblems().isEmpty)
        // Seqs continue where they stopped.
        try reopened.set("concern.when", of: id, to: "Last night")
        #expect(try reopened.pendingChanges().map(\.seq) == [1, 2, 3, 4])
    }

    @Test("the list shows each referral's kind, status, first child and pending count")
    func summaries() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.addItem(to: "children", of: id)
        try test.store.set("children.1.full_name", of: id, to: "Amy")
        let other = try test.store.createReferral(kind: .earlyHelp)
        let rows = try test.store.summaries()
        #expect(rows.map(\.id) == [other, id])
        #expect(rows[1].label == "Amy")
        #expect(rows[1].pendingChanges == 4)
        #expect(rows[0].kind == .earlyHelp)
    }
}
