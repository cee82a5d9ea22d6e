import Crypto
import Foundation
import SyncCore
import Testing
import TestSupport
@testable import SyncServer
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Signed receipts and the audit chain's head held outside the server
/// (issue 29; docs/security.md), through the real binaries: `field` on a
/// practitioner's laptop, the real `sync-server` on SQLite or PostgreSQL
/// (`SYNC_TEST_BACKEND`), and the tamperer's own tools (`sqlite3`, `psql`).
@Suite("Signed receipts: proved offline, refused when tampered; a shortened audit trail caught")
struct SignedReceiptTests {
    /// A server, a practitioner's laptop logged in to it, and one submitted referral, synced.
    struct Setting {
        let server: ServerProcess
        let laptop: FieldHome
        let referral: String
        let folder: URL

        init(seed: Int) throws {
            server = try ServerProcess()
            let token = try server.addUser("jane")
            laptop = try FieldHome(user: "jane", seed: seed)
            let login = try laptop.run(["login", "--server", server.url.absoluteString, "--token", token])
            #expect(login.status == 0, "\(login.output)")
            let pinned = try laptop.run(["receipt", "keys"])
            #expect(pinned.status == 0 && pinned.output.contains("\"kty\" : \"OKP\""), "login pinned the server's key: \(pinned.output)")
            referral = try Self.refer(laptop, child: "Ava Reed")
            folder = try TemporaryFolder.make("receipts")
        }

        /// A referral about `child`, submitted and synced; its id.
        static func refer(_ home: FieldHome, child: String) throws -> String {
            let id = try home.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try home.run(["add", id, "children"]).status == 0)
            for (path, value) in [("referrer.name", "Jane Smith"), ("referrer.agency", "Health visiting"), ("concern.summary", "Bruising seen"),
                                  ("children.1.full_name", child)] {
                #expect(try home.run(["set", id, path, value]).status == 0)
            }
            #expect(try home.run(["submit", id]).status == 0)
            let synced = try home.run(["sync"])
            #expect(synced.status == 0 && synced.output.contains("Receipt R-"), "\(synced.output)")
            return id
        }

        /// `field receipt export` of `reference` to a file in the folder; the file's path.
        func export(_ reference: String, as name: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            let result = try laptop.run(["receipt", "export", reference, "--to", path])
            #expect(result.status == 0, "\(result.output)")
            return path
        }

        /// The JWK set the laptop pinned, written to a file.
        func keysFile() throws -> String {
            let keys = try laptop.run(["receipt", "keys"])
            #expect(keys.status == 0, "\(keys.output)")
            let path = folder.appendingPathComponent("keys.json").path
            try Data(keys.output.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// Runs SQL on the server's store with the operator's own shell: `sqlite3` or `psql`.
        func tamper(_ sql: String) throws {
            let (termination, output): (Termination, String)
            switch server.database {
            case .sqlite(let path):
                (termination, output) = try ChildProcess.run("/usr/bin/sqlite3", [path, sql], error: .pipe)
            case .postgres(let url):
                (termination, output) = try ChildProcess.run(TestPostgres.binaries + "/psql", [url, "-v", "ON_ERROR_STOP=1", "-c", sql], error: .pipe)
            }
            #expect(termination.status == 0, "tampering failed: \(output)")
        }

        func remove() {
            server.stop()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    static func signed(_ path: String) throws -> SignedReceipt {
        try JSONDecoder().decode(SignedReceipt.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ receipt: SignedReceipt, to path: String) throws {
        try receipt.encoded().write(to: URL(fileURLWithPath: path))
    }

    @Test("a receipt checks out on the laptop with the server gone, and with only the file and the public key; one altered byte, an unknown key or a removed change is refused with one sentence")
    func provedOfflineAndTampered() async throws {
        let setting = try Setting(seed: 2901)
        defer { setting.remove() }
        let reference = try #require(try setting.laptop.run(["status", setting.referral, "--json"]).output
            .components(separatedBy: "\"reference\" : \"").dropFirst().first?.prefix(11)).description
        let keys = try setting.keysFile()
        let exported = try setting.export(reference, as: "submission.json")
        // An existing file is never overwritten (it could be the laptop's own store).
        let again = try setting.laptop.run(["receipt", "export", reference, "--to", exported])
        #expect(again.status != 0 && again.output.contains("it already exists"), "\(again.output)")
        #expect((try FileManager.default.attributesOfItem(atPath: exported)[.posixPermissions] as? Int) == 0o600)
        // What `sync-server receipt verify` with the store checks, before the store is touched.
        let held = try setting.server.command(["receipt", "verify", exported])
        #expect(held.status == 0 && held.output.contains("the server holds every change it names"), "\(held.output)")
        setting.server.stop()

        // No network: the server is gone.
        let verified = try setting.laptop.run(["receipt", "verify", reference])
        #expect(verified.status == 0 && verified.output.contains("checks out: signed by the server's key"), "\(verified.output)")
        let shown = try setting.laptop.run(["receipt", "show", reference])
        #expect(shown.output.contains("Audit trail entry") && shown.output.contains(reference), "\(shown.output)")
        let offline = try ServerProcess.command(["receipt", "verify", exported, "--key", keys])
        #expect(offline.status == 0 && offline.output.contains("is genuine"), "\(offline.output)")

        // Checked with code that is not ours (Python's cryptography): the format is the standard one.
        if TestPython.has(module: "cryptography") {
            let script = Repository.root.appendingPathComponent("Tests/Receipts/receipt_check.py").path
            let (termination, output) = try ChildProcess.run(TestPython.path, [script, exported, keys], error: .pipe)
            #expect(termination.status == 0 && output.hasPrefix("ok R-"), "\(output)")
        } else {
            #expect(!TestPython.required, "SYNC_TEST_REQUIRE_BROWSER=1 but \(TestPython.path) lacks cryptography (scripts/test installs it)")
        }

        let original = try Self.signed(exported)
        var document = try original.unverifiedDocument()
        let tampered = setting.folder.appendingPathComponent("tampered.json").path
        func refused(_ receipt: SignedReceipt, saying expected: String) throws {
            try Self.write(receipt, to: tampered)
            let result = try ServerProcess.command(["receipt", "verify", tampered, "--key", keys])
            #expect(result.status == 1 && result.output.contains(expected), "\(result.output)")
            #expect(result.output.split(separator: "\n").count == 1, "one sentence: \(result.output)")
        }
        // One byte of the payload: a digit of the time.
        var payload = try #require(Base64URL.decode(original.payload))
        let time = try #require(payload.firstRange(of: Data(document.serverTime.utf8)))
        payload[time.lowerBound + 3] = payload[time.lowerBound + 3] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        try refused(SignedReceipt(protected: original.protected, payload: Base64URL.encode(payload), signature: original.signature),
                    saying: "altered after signing")
        // One byte of the signature.
        var signature = try #require(Base64URL.decode(original.signature))
        signature[0] ^= 0x01
        try refused(SignedReceipt(protected: original.protected, payload: original.payload, signature: Base64URL.encode(signature)),
                    saying: "altered after signing")
        // A change removed from the list, the signature kept.
        let removed = try #require(document.referrals.firstIndex { $0.changes.count > 1 })
        document.referrals[removed].changes.removeLast()
        try refused(SignedReceipt(protected: original.protected, payload: Base64URL.encode(try document.encoded()), signature: original.signature),
                    saying: "altered after signing")
        // The same document signed by a key that is not the server's.
        let forger = ReceiptSigningKey(Curve25519.Signing.PrivateKey())
        try refused(try SignedReceipt.sign(try original.unverifiedDocument(), with: forger), saying: "which is not one of the server's keys")

        // The laptop's own copy altered in its store (receipts are not secret; their signature is the point).
        try setting.laptop.run(["receipt", "show"])  // the store exists and is migrated
        let store = setting.laptop.folder.appendingPathComponent("field.sqlite").path
        let forged = String(decoding: try SignedReceipt.sign(try original.unverifiedDocument(), with: forger).encoded(), as: UTF8.self)
        let (termination, output) = try ChildProcess.run("/usr/bin/sqlite3", [store, "UPDATE receipt SET signed = '\(forged)' WHERE reference = '\(document.receipt)'"], error: .pipe)
        #expect(termination.status == 0, "\(output)")
        let refusedOnLaptop = try setting.laptop.run(["receipt", "verify", reference])
        #expect(refusedOnLaptop.status == 1 && refusedOnLaptop.output.contains("which is not one of the server's keys"), "\(refusedOnLaptop.output)")
    }

    @Test("a change the server no longer holds, deleted with the database's own shell, fails `receipt verify` on the server's store")
    func changeNoLongerHeld() async throws {
        let setting = try Setting(seed: 2902)
        defer { setting.remove() }
        let exported = try setting.export(String(setting.referral.prefix(13)), as: "submission.json")
        let document = try Self.signed(exported).unverifiedDocument()
        let referral = try #require(document.referrals.first)
        let change = try #require(referral.changes.first)
        try setting.tamper("DELETE FROM change_log WHERE device_id = '\(document.device)' AND seq = \(change.seq)")
        let result = try setting.server.command(["receipt", "verify", exported])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output == "Receipt \(document.receipt) names change \(change.seq) of referral \(referral.id), which the server no longer holds as acknowledged.")
    }

    @Test("the newest audit entries deleted (sqlite3 or psql): `audit verify` alone calls the chain intact, the next device sync and `audit verify --receipts` do not")
    func shortenedChainCaught() async throws {
        let setting = try Setting(seed: 2903)
        defer { setting.remove() }
        _ = try Setting.refer(setting.laptop, child: "Ben Reed")
        let receipts = setting.folder.appendingPathComponent("held")
        try FileManager.default.createDirectory(at: receipts, withIntermediateDirectories: true)
        let shown = try JSONSerialization.jsonObject(with: Data(try setting.laptop.run(["receipt", "show", "--json"]).output.utf8)) as? [[String: Any]]
        let newest = try #require(shown?.first?["reference"] as? String)
        let exported = try setting.export(newest, as: "held/newest.json")
        let head = try #require(try Self.signed(exported).unverifiedDocument().audit)
        let before = try setting.server.command(["audit", "verify", "--receipts", receipts.path])
        #expect(before.status == 0 && before.output.contains("1 of 1 receipt"), "\(before.output)")

        #expect(try setting.server.chainAudit())
        try setting.tamper("DELETE FROM audit WHERE id >= \(head.position)")
        let plain = try setting.server.command(["audit", "verify"])
        #expect(plain.status == 0 && plain.output.contains("intact"), "a shortened chain still links up: \(plain.output)")
        let checked = try setting.server.command(["audit", "verify", "--receipts", receipts.path])
        #expect(checked.status == 1, "\(checked.output)")
        #expect(checked.output.contains("newest.json: The server's audit trail no longer contains receipt \(newest)"), "\(checked.output)")
        #expect(checked.output.contains("the newest were removed") && checked.output.contains("0 of 1 receipt"), "\(checked.output)")

        // The device presents its head at the next sync, and is told, even when that sync also pushes (its
        // new receipt names the shortened chain as it now is: the head from before the push is the one checked).
        #expect(try setting.laptop.run(["set", setting.referral, "concern.summary", "Bruising seen again"]).status == 0)
        let synced = try setting.laptop.run(["sync"])
        #expect(synced.status == 0, "\(synced.output)")
        #expect(synced.output.contains("Warning: The server's audit trail no longer contains receipt \(newest) of "), "\(synced.output)")
        let status = try setting.laptop.run(["status"])
        #expect(status.output.contains("no longer contains receipt \(newest)"), "the finding stays in view: \(status.output)")
        let log = try String(contentsOf: setting.server.log, encoding: .utf8)
        #expect(log.contains("the audit chain does not hold the head a device presented"))
        let metrics = try String(contentsOf: URL(string: setting.server.url.absoluteString + "/metrics")!, encoding: .utf8)
        #expect(metrics.contains("audit_heads_not_held_total 1"), "\(metrics.split(separator: "\n").filter { $0.contains("audit_heads") })")
    }

    @Test("an audit entry rewritten and every hash after it recomputed: the chain verifies, the receipts' heads do not")
    func rewrittenChainCaught() async throws {
        let setting = try Setting(seed: 2904)
        defer { setting.remove() }
        let exported = try setting.export(String(setting.referral.prefix(13)), as: "submission.json")
        let head = try #require(try Self.signed(exported).unverifiedDocument().audit)
        #expect(try setting.server.chainAudit())
        // The tamperer rewrites the push's entry and re-chains everything from it.
        let rows = try await setting.server.database.rows("SELECT id, at, actor, action, record_id, detail, previous_hash FROM audit WHERE id >= \(head.position) ORDER BY id")
        var previous = try #require(rows.first?[6])
        for row in rows {
            let id = Int64(row[0]!)!
            let detail = id == head.position ? "device=- applied=0" : row[5]!
            let hash = AuditTrail.hash(previous: previous, id: id, AuditEvent(at: row[1]!, actor: row[2]!, action: row[3]!, record: row[4], detail: detail))
            try setting.tamper("UPDATE audit SET detail = '\(detail)', previous_hash = '\(previous)', hash = '\(hash)' WHERE id = \(id)")
            previous = hash
        }
        #expect(try setting.server.command(["audit", "verify"]).status == 0, "a rewritten chain links up")
        let checked = try setting.server.command(["receipt", "verify", exported])
        #expect(checked.status == 1 && checked.output.contains("its entry \(head.position) has another hash: it was rewritten"), "\(checked.output)")
        let synced = try setting.laptop.run(["sync"])
        #expect(synced.output.contains("was rewritten"), "\(synced.output)")
    }

    @Test("`key rotate` while serving: the next receipt is signed by the new key, which the laptop fetches and pins; the old receipts still check out; /v1/keys serves both; the key file is 0600")
    func rotation() async throws {
        let setting = try Setting(seed: 2905)
        defer { setting.remove() }
        let mode = try FileManager.default.attributesOfItem(atPath: setting.server.receiptKey)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let first = try Self.signed(try setting.export(String(setting.referral.prefix(13)), as: "first.json"))
        let rotated = try setting.server.command(["key", "rotate", "--receipt-key", setting.server.receiptKey, "--by", "yearly rotation"])
        #expect(rotated.status == 0 && rotated.output.contains("is retired"), "\(rotated.output)")
        #expect((try FileManager.default.attributesOfItem(atPath: setting.server.receiptKey)[.posixPermissions] as? Int) == 0o600)
        // The running server signs the next receipt with the new key.
        let id = try Setting.refer(setting.laptop, child: "Cara Reed")
        let second = try Self.signed(try setting.export(String(id.prefix(13)), as: "second.json"))
        let newKid = try second.header().kid
        let firstKid = try first.header().kid
        #expect(newKid != firstKid)
        let all = try setting.laptop.run(["receipt", "verify", String(setting.referral.prefix(13))])
        #expect(all.status == 0, "the first key's receipt still checks out: \(all.output)")
        let keys = try JSONDecoder().decode(ReceiptKeySet.self, from: Data(contentsOf: URL(string: setting.server.url.absoluteString + "/v1/keys")!))
        #expect(keys.keys.count == 2 && keys.keys.filter { $0.retired != nil }.map(\.kid) == [firstKid])
        #expect(try setting.laptop.run(["receipt", "keys"]).output.contains(newKid), "the laptop pinned the new key")
        #expect(try setting.server.chainAudit())
        let audit = try setting.server.command(["audit", "show", "--action", "rotate-receipt-key"])
        #expect(audit.output.contains("reason=yearly rotation"), "\(audit.output)")
    }

    @Test("bad audit heads presented with a pull get a 400 naming the value")
    func badHeads() async throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let token = try server.addUser("jane")
        for (query, named) in [("audit_position=0&audit_hash=" + String(repeating: "a", count: 64), "'0'"),
                               ("audit_position=3", "''"), ("audit_position=3&audit_hash=XYZ", "'XYZ'")] {
            let (status, body) = try await server.request("GET", "v1/pull?since=0&\(query)", token: token)
            #expect(status == 400, "\(query)")
            #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains(named) == true, "\(body)")
        }
    }
}
