import Foundation
import TestSupport
import GRDB
import Testing
@testable import SyncCore

/// The device's store at rest: what a person who finds the laptop can read
/// from its files without the passphrase.
@Suite("Encryption at rest of the device store")
struct EncryptionTests {
    /// Sentences that must never be found in clear in the store's files.
    static let secrets = [
        "Amelia Thornbury-Okafor",
        "Bruises shaped like fingertips on both upper arms",
        "Mother's partner Declan threatened to take the children to Lisbon",
        "14 Quarry Lane, Worcester WR5 3EX",
        "Grandmother says the flat has no heating since October",
        "Refused because Priya Natarajan-Booth is not a valid value",
    ]

    /// Every byte of the database, WAL and journal files, file by file.
    static func files(of test: TestStore) throws -> [(name: String, bytes: Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: test.folder.path)
        #expect(names.contains("field.sqlite"))
        return try names.filter { $0.hasPrefix("field.sqlite") }.sorted().map {
            ($0, try Data(contentsOf: test.folder.appendingPathComponent($0)))
        }
    }

    static func expectNoSecrets(in test: TestStore, extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (name, bytes) in try files(of: test) {
            for secret in secrets + extra {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "'\(secret)' is in clear in \(name)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Writes every kind of content the store holds: values, history
    /// (old and new), pending changes, a group item, and the server token.
    static func writeSecrets(_ store: LocalStore) throws -> UUID {
        let id = try store.createReferral(kind: .socialCare)
        let child = try store.addItem(to: "children", of: id)
        try store.set("children.\(child.lowercased).full_name", of: id, to: secrets[0])
        try store.set("concern.summary", of: id, to: secrets[1])
        try store.set("concern.summary", of: id, to: secrets[2])
        try store.set("household.address", of: id, to: secrets[3])
        try store.saveLogin(ServerLogin(server: "http://127.0.0.1:9", token: "tok_SECRET_device_token_4f1c", user: "alice", role: .practitioner))
        // A conflict the server reports, with a competing value as candidate.
        let conflict = ConflictState(
            id: "0193a000-0000-7000-8000-00000000c0f1", status: "open",
            candidates: [ConflictCandidate(value: secrets[4], author: "bob", device: "d2", time: "2026-11-23T09:00:00Z", hlc: "1-0-d2")])
        try store.applyPull(PullResponse(
            changes: [PulledChange(
                revision: 7, record: id.lowercased, path: "referrer.address", value: secrets[4], author: "bob", device: "d2",
                hlc: "0000000000001-0000-d2", at: "2026-11-23T09:00:00Z", conflict: conflict)],
            cursor: 7, more: false))
        // A refusal whose reason quotes the value refused.
        try store.set("referrer.name", of: id, to: "Jane")
        let sent = try store.changesToPush(limit: 100).filter { $0.path == "referrer.name" }
        try store.applyPush(
            PushResponse(outcomes: [ChangeOutcome(seq: sent[0].seq, outcome: .rejected, reason: secrets[5])], receipt: nil),
            sent: sent)
        return id
    }

    @Test("no written sentence is in clear in the database, WAL or journal, open or closed, and all read back")
    func noPlaintextOnDisk() throws {
        let test = try TestStore()
        let id = try Self.writeSecrets(test.store)
        // While the store is open, the WAL holds the newest pages.
        #expect(try Self.files(of: test).contains { $0.name == "field.sqlite-wal" && !$0.bytes.isEmpty })
        try Self.expectNoSecrets(in: test, extra: ["tok_SECRET_device_token_4f1c"])

        let reopened = try test.reopen()
        let referral = try reopened.referral(id)
        #expect(referral.values.values.contains(Self.secrets[0]))
        #expect(referral.values["concern.summary"] == Self.secrets[2])
        #expect(try reopened.history(of: id, path: "concern.summary").map(\.oldValue) == [nil, Self.secrets[1]])
        #expect(try reopened.pendingChanges().contains { $0.value == Self.secrets[2] })
        #expect(try reopened.login()?.token == "tok_SECRET_device_token_4f1c")
        #expect(try reopened.summaries().first?.label == Self.secrets[0])
        #expect(try reopened.syncStatus(of: id)[0].conflicts.first?.candidates.first?.value == Self.secrets[4])
        #expect(try reopened.syncStatus(of: id)[0].rejected.first?.rejectedReason == Self.secrets[5])
        #expect(try reopened.integrityProblems() == [])

        // Closed: every connection gone, the WAL checkpointed into the file.
        try DatabaseQueue(path: test.path).writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try Self.expectNoSecrets(in: test, extra: ["tok_SECRET_device_token_4f1c"])
    }

    @Test("a wrong passphrase is refused with a clear error and changes nothing")
    func wrongPassphrase() throws {
        let test = try TestStore()
        let id = try Self.writeSecrets(test.store)
        // The database and its WAL (where the newest pages are while the store is open).
        func contents() throws -> [String: Data] {
            Dictionary(uniqueKeysWithValues: try Self.files(of: test).filter { !$0.name.hasSuffix("-shm") }.map { ($0.name, $0.bytes) })
        }
        let before = try contents()
        #expect(before.count == 2)
        #expect(throws: StoreError.wrongPassphrase) {
            _ = try LocalStore(path: test.path, author: "thief", passphrase: "guess guess guess", keyDerivation: .testing)
        }
        #expect(StoreError.wrongPassphrase.description == "The passphrase does not open this device's store; nothing was changed.")
        #expect(try contents() == before)
        #expect(try test.reopen().referral(id).values["concern.summary"] == Self.secrets[2])
    }

    @Test("a new store refuses a passphrase shorter than 8 characters")
    func weakPassphrase() throws {
        let folder = try TemporaryFolder.make("weak")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: StoreError.weakPassphrase(length: 4)) {
            _ = try LocalStore(path: folder.appendingPathComponent("s.sqlite").path, author: "a", passphrase: "1234", keyDerivation: .testing)
        }
    }

    @Test("changing the passphrase keeps every referral; the old passphrase stops working")
    func changePassphrase() throws {
        let test = try TestStore()
        let id = try Self.writeSecrets(test.store)
        let before = try test.store.referral(id)
        try test.store.changePassphrase(from: TestStore.passphrase, to: "a brand new passphrase", keyDerivation: .testing)
        #expect(throws: StoreError.wrongPassphrase) {
            _ = try LocalStore(path: test.path, author: "a", passphrase: TestStore.passphrase, keyDerivation: .testing)
        }
        let reopened = try LocalStore(path: test.path, author: "a", passphrase: "a brand new passphrase", keyDerivation: .testing)
        #expect(try reopened.referral(id).values == before.values)
        #expect(try reopened.history(of: id).count == test.store.history(of: id).count)
        // A wrong current passphrase changes nothing.
        #expect(throws: StoreError.wrongPassphrase) {
            try reopened.changePassphrase(from: "not the passphrase", to: "yet another one", keyDerivation: .testing)
        }
        _ = try LocalStore(path: test.path, author: "a", passphrase: "a brand new passphrase", keyDerivation: .testing)
    }

    @Test("a sealed value moved to another field, or content written in clear behind the store's back, is refused")
    func tamperingIsDetected() throws {
        let test = try TestStore()
        let id = try Self.writeSecrets(test.store)
        try test.store.set("referrer.name", of: id, to: "Jane Smith")
        let key = id.lowercased
        let file = try DatabaseQueue(path: test.path)
        try file.write { db in
            try db.execute(sql: """
                UPDATE field_value SET value = (SELECT value FROM field_value WHERE referral_id = ?1 AND path = 'concern.summary')
                WHERE referral_id = ?1 AND path = 'referrer.name'
                """, arguments: [key])
        }
        #expect(throws: StoreError.unreadable(record: key, path: "referrer.name")) { _ = try test.store.referral(id) }
        try file.write { db in
            try db.execute(sql: "UPDATE field_value SET value = 'planted' WHERE referral_id = ? AND path = 'referrer.name'", arguments: [key])
        }
        #expect(throws: StoreError.unreadable(record: key, path: "referrer.name")) { _ = try test.store.referral(id) }
    }

    @Test("a store written before encryption is sealed on first unlock, its clear text purged from the file")
    func upgradesPlaintextStore() throws {
        let folder = try TemporaryFolder.make("legacy")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("field.sqlite").path
        let record = "0193a000-0000-7000-8000-000000000001"
        // The store as the release before encryption left it (schema v4, values in clear).
        let legacy = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(legacy, upTo: "v4-received")
        try legacy.write { db in
            try db.execute(sql: """
                INSERT INTO device (id, device_id, author, next_seq, created_at, token)
                VALUES (1, 'd1', 'alice', 4, '2026-11-23T09:00:00Z', 'tok_legacy_secret')
                """)
            try db.execute(sql: """
                INSERT INTO referral (id, created_at, created_by, updated_at) VALUES (?, '2026-11-23T09:00:00Z', 'alice', '2026-11-23T09:00:00Z')
                """, arguments: [record])
            for (seq, path, value) in [(1, "@kind", "social-care"), (2, "@status", "draft"), (3, "concern.summary", Self.secrets[1])] {
                let hlc = "000000000000\(seq)-0000-d1"
                try db.execute(
                    sql: "INSERT INTO field_value (referral_id, path, value, updated_at) VALUES (?, ?, ?, 'x')",
                    arguments: [record, path, value])
                try db.execute(sql: """
                    INSERT INTO history (referral_id, path, old_value, new_value, author, device_id, at, hlc)
                    VALUES (?, ?, NULL, ?, 'alice', 'd1', 'x', ?)
                    """, arguments: [record, path, value, hlc])
                try db.execute(sql: """
                    INSERT INTO outbox (seq, referral_id, path, value, base_rev, hlc, author, created_at)
                    VALUES (?, ?, ?, ?, 0, ?, 'alice', 'x')
                    """, arguments: [seq, record, path, value, hlc])
            }
        }
        try legacy.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).range(of: Data(Self.secrets[1].utf8)) != nil)

        let store = try LocalStore(path: path, author: "alice", passphrase: TestStore.passphrase, keyDerivation: .testing)
        let id = UUID(uuidString: record)!
        #expect(try store.referral(id).values["concern.summary"] == Self.secrets[1])
        #expect(try store.pendingChanges().map(\.value) == ["social-care", "draft", Self.secrets[1]])
        #expect(try store.login() == nil)  // no server address was saved, but the token is sealed all the same
        #expect(try store.integrityProblems() == [])
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasPrefix("field.sqlite") {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            #expect(bytes.range(of: Data(Self.secrets[1].utf8)) == nil, "clear text left in \(name)")
            #expect(bytes.range(of: Data("tok_legacy_secret".utf8)) == nil, "token left in \(name)")
        }
    }

    @Test("sealed values hide their length, round-trip the empty string, and item markers alone stay in clear")
    func sealing() throws {
        let test = try TestStore()
        let cipher = test.store.cipher
        let record = "0193a000-0000-7000-8000-000000000001"
        func length(_ value: String) -> Int? {
            if case .blob(let data) = cipher.seal(value, record: record, path: "concern.risk_level").storage { return data.count }
            return nil
        }
        #expect(length("yes") != nil)
        #expect(length("yes") == length("no"))
        #expect(length("low") == length("medium"))
        #expect(try cipher.open(cipher.seal("", record: record, path: "concern.summary"), record: record, path: "concern.summary") == "")
        let long = String(repeating: "é", count: 1000)
        #expect(try cipher.open(cipher.seal(long, record: record, path: "concern.summary"), record: record, path: "concern.summary") == long)
        #expect(ContentCipher.isStructural("children.0193a000-0000-7000-8000-000000000002"))
        #expect(!ContentCipher.isStructural("@conflict.0193a000-0000-7000-8000-000000000002"))
        #expect(!ContentCipher.isStructural("notes.0193a000-0000-7000-8000-000000000002"))
        #expect(!ContentCipher.isStructural("children.0193a000-0000-7000-8000-000000000002.full_name"))
    }

    @Test("a store whose keyring was removed refuses to make a new one over its sealed data")
    func missingKeyring() throws {
        let test = try TestStore()
        _ = try Self.writeSecrets(test.store)
        try DatabaseQueue(path: test.path).write { try $0.execute(sql: "DELETE FROM keyring") }
        #expect(!LocalStore.hasKeyring(at: test.path))
        #expect(throws: StoreError.keyringMissing) {
            _ = try LocalStore(path: test.path, author: "a", passphrase: "any passphrase at all", keyDerivation: .testing)
        }
    }
}
