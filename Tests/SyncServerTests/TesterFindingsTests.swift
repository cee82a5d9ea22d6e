import Foundation
import GRDB
@testable import SyncCore
import Testing

/// What a tester found on 127.0.0.1 (issue 26), each reproduction turned
/// into a test through the real `sync-server` and `field` binaries.
@Suite("Tester's findings: a push stuck for good, work erased without a word, output that injects, access that outlives its reason")
struct TesterFindingsTests {
    /// Jane's laptop logged in to a fresh server; her token.
    static func janeOnline(_ server: ServerProcess, seed: Int = 71) throws -> (FieldHome, String) {
        let jane = try FieldHome(user: "jane", seed: seed)
        let token = try server.addUser("jane")
        #expect(try jane.run(["login", "--server", server.url.absoluteString, "--token", token]).status == 0)
        return (jane, token)
    }

    /// A referral drafted on `home` through `field`, submitted unless `submit` is false; its id.
    static func referral(_ home: FieldHome, summary: String = "Bruises on both upper arms", immediateRisk: Bool = false, submit: Bool = true) throws -> String {
        let id = try home.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        var values = [("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team"), ("concern.summary", summary)]
        if immediateRisk { values += [("urgency.immediate_risk", "yes"), ("urgency.call_made", "yes")] }
        for (path, value) in values {
            let set = try home.run(["set", id, path, value])
            #expect(set.status == 0, "set \(path): \(set.output)")
        }
        #expect(try home.run(["add", id, "children"]).status == 0)
        #expect(try home.run(["set", id, "children.1.full_name", "Amy Smith"]).status == 0)
        if submit {
            let submitted = try home.run(["submit", id])
            #expect(submitted.status == 0, "submit: \(submitted.output)")
        }
        return id
    }

    // MARK: Item 1: pushes sized by their encoded bytes

    @Test("free text of control characters (six bytes each once escaped) no longer makes every push exceed 8 MiB: everything queued, a later submitted referral included, reaches the server")
    func controlCharacterTextDoesNotStickThePush() throws {
        let server = try ServerProcess()
        let (jane, _) = try Self.janeOnline(server)
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
        let later = try Self.referral(jane, summary: "Submitted after the long drafts")
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

    // MARK: Item 3: other people's text never drives the terminal

    @Test("escape sequences in other people's text (ESC, CSI, OSC, BEL, CR, backspace) reach intake show and field status as <U+…>, never raw")
    func controlCharactersShownNotObeyed() throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let (jane, _) = try Self.janeOnline(server)
        let ian = try FieldHome(user: "ian", seed: 73, hour: "2026-11-23T11")
        #expect(try ian.run(["login", "--server", server.url.absoluteString, "--token", try server.addUser("ian", role: .intake)]).status == 0)
        let hostile = "No further action\u{1B}[2J\u{1B}[H\u{1B}]0;pwned\u{07}\u{1B}]52;c;ZXZpbA==\u{07}\rFAKE: s47 enquiry opened\u{08}\u{08}\u{9B}31m"
        let id = try Self.referral(jane, summary: hostile)
        #expect(try jane.run(["sync"]).status == 0)

        let raw: [Character] = ["\u{1B}", "\u{07}", "\r", "\u{08}", "\u{9B}"]
        let shown = try ian.run(["intake", "show", String(id.prefix(13))])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(!shown.output.contains(where: raw.contains), "raw control characters in intake show")
        #expect(shown.output.contains("No further action<U+001B>[2J<U+001B>[H<U+001B>]0;pwned<U+0007>"), "\(shown.output)")
        #expect(shown.output.contains("<U+000D>FAKE: s47 enquiry opened<U+0008><U+0008><U+009B>31m"), "\(shown.output)")

        let decided = try ian.run(["intake", "decide", String(id.prefix(13)), "--outcome", "advice-given", "--note", "Advice given\u{1B}[1A\u{1B}[2K\rOutcome: s47"])
        #expect(decided.status == 0, "\(decided.output)")
        #expect(try jane.run(["sync"]).status == 0)
        let status = try jane.run(["status", id])
        #expect(!status.output.contains(where: raw.contains), "raw control characters in field status")
        #expect(status.output.contains("Advice given<U+001B>[1A<U+001B>[2K<U+000D>Outcome: s47"), "\(status.output)")
        // The practitioner's own show and history of a value written elsewhere the same way.
        for command in [["show", id], ["history", id]] {
            let output = try jane.run(command).output
            #expect(!output.contains(where: raw.contains) && output.contains("<U+001B>[2J"), "\(command[0]): \(output.prefix(500))")
        }
        // The JSON keeps the value as written (escaped by JSON itself).
        let json = try jane.run(["status", id, "--json"]).output
        #expect(json.contains("\\u001b[1A") || json.contains("\\u001B[1A"), "\(json)")
    }

    // MARK: Item 2: revocation never destroys submitted work silently

    @Test("revoking a laptop with a submitted, never-synced immediate-risk referral: the practitioner is told what was lost and what to do; the wipe report, the audit and device list show it; a new login works")
    func revocationReportsErasedWork() async throws {
        let server = try ServerProcess()
        let (jane, token) = try Self.janeOnline(server)
        let synced = try Self.referral(jane, summary: "Synced before the revocation")
        #expect(try jane.run(["sync"]).status == 0)
        let urgent = try Self.referral(jane, summary: "Child not safe now; mum collects at 15:15", immediateRisk: true)
        let draft = try Self.referral(jane, summary: "Only a draft", submit: false)
        let device = try #require(try server.command(["device", "list", "--user", "jane"]).output
            .firstMatch(of: try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")).map { String($0.0) })
        #expect(try server.command(["device", "revoke", device]).status == 0)
        let again = try server.command(["device", "revoke", device])
        #expect(again.status == 0 && again.output.contains("was already revoked"), "\(again.output)")

        let sync = try jane.run(["sync"])
        #expect(sync.status == 1)
        #expect(sync.output.contains("including work the server never received"), "\(sync.output)")
        #expect(sync.output.contains("referral \(urgent.prefix(13)) (submitted, a child at immediate risk"), "\(sync.output)")
        #expect(sync.output.contains("referral \(draft.prefix(13)) (draft"), "\(sync.output)")
        #expect(!sync.output.contains(String(synced.prefix(13))), "the synced referral was not lost: \(sync.output)")
        #expect(sync.output.contains("phone it now (`field contacts` lists the numbers)"), "\(sync.output)")
        #expect(sync.output.contains("run `field login`: it registers as a new device"), "\(sync.output)")
        #expect(!sync.output.contains("15:15"), "referral content in the message")

        let listed = try server.command(["device", "list", "--user", "jane"]).output
        #expect(listed.contains("ALERT: 2 referral(s) with unsent work erased (1 submitted, 1 at immediate risk)"), "\(listed)")
        let audit = try server.command(["audit", "show", "--action", "wiped"]).output
        #expect(audit.contains("erased_unsent=2 submitted=1 immediate_risk=1") && audit.contains(urgent.lowercased()), "\(audit)")
        #expect(!audit.contains("15:15"))
        // The console's Devices page says so too, for an admin.
        _ = try server.addUser("ada", role: .admin)
        #expect(try server.command(["user", "set-password", "ada"], input: "ada's console password\n").status == 0)
        let browser = ConsoleBoundaryTests.Client(server.url)
        #expect(try await browser.signIn("ada", "ada's console password").status == 303)
        let page = try await browser.send("GET", "/console/devices").body
        #expect(page.contains("UNSENT WORK ERASED") && page.contains(urgent.lowercased()) && page.contains("1 at immediate risk"), "\(page.prefix(2000))")

        // The way back: the same laptop logs in again as a new device.
        let login = try jane.run(["login", "--server", server.url.absoluteString, "--token", token])
        #expect(login.status == 0, "\(login.output)")
        #expect(!login.output.contains(device), "\(login.output)")
        #expect(try jane.run(["sync"]).status == 0)
    }

    @Test("revoked with --send-submitted-first (a leaver's laptop): its submitted referrals reach the server before the wipe; drafts are reported erased")
    func revocationSendsSubmittedFirst() async throws {
        let server = try ServerProcess()
        let (jane, _) = try Self.janeOnline(server)
        let submitted = try Self.referral(jane, summary: "Submitted, never synced", immediateRisk: true)
        let draft = try Self.referral(jane, summary: "Only a draft", submit: false)
        let device = try #require(try server.command(["device", "list", "--user", "jane"]).output
            .firstMatch(of: try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")).map { String($0.0) })
        let revoked = try server.command(["device", "revoke", device, "--send-submitted-first"])
        #expect(revoked.status == 0 && revoked.output.contains("sends its submitted referrals"), "\(revoked.output)")

        let sync = try jane.run(["sync"])
        #expect(sync.status == 1)
        #expect(sync.output.contains("1 submitted referral(s) were sent to the server"), "\(sync.output)")
        #expect(sync.output.contains("referral \(draft.prefix(13)) (draft"), "\(sync.output)")
        #expect(!sync.output.contains("referral \(submitted.prefix(13))"), "\(sync.output)")
        #expect(try await server.database.strings("SELECT status FROM records WHERE id = ?", [submitted.lowercased]).first == "submitted")
        #expect(try await server.database.strings("SELECT id FROM records WHERE id = ?", [draft.lowercased]).isEmpty)
        let listed = try server.command(["device", "list", "--user", "jane"]).output
        #expect(listed.contains("1 submitted referral(s) sent first") && listed.contains("ALERT: 1 referral(s) with unsent work erased (0 submitted)"), "\(listed)")
    }

    @Test("a revoked laptop still erases itself when its user's token was rotated after the revocation, or the user disabled; the report reaches the admin")
    func revocationSurvivesRotationAndDisabling() throws {
        let server = try ServerProcess()
        let (jane, _) = try Self.janeOnline(server)
        let lost = try Self.referral(jane, summary: "Submitted on the stolen laptop")
        let device = try #require(try server.command(["device", "list", "--user", "jane"]).output
            .firstMatch(of: try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")).map { String($0.0) })
        // The procedure for a stolen laptop: revoke it, then rotate the user's token.
        #expect(try server.command(["device", "revoke", device]).status == 0)
        #expect(try server.command(["user", "rotate-token", "jane"]).status == 0)
        let sync = try jane.run(["sync"])
        #expect(sync.status == 1 && sync.output.contains("referral \(lost.prefix(13)) (submitted"), "\(sync.output)")
        #expect(try server.command(["device", "list", "--user", "jane"]).output.contains("ALERT: 1 referral(s)"))

        // A disabled user's revoked laptop erases itself too.
        let ines = try FieldHome(user: "ines", seed: 75)
        #expect(try ines.run(["login", "--server", server.url.absoluteString, "--token", try server.addUser("ines")]).status == 0)
        let kept = try Self.referral(ines, summary: "Submitted before the account was disabled")
        let inesDevice = try #require(try server.command(["device", "list", "--user", "ines"]).output
            .firstMatch(of: try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")).map { String($0.0) })
        #expect(try server.command(["user", "disable", "ines"]).status == 0)
        #expect(try server.command(["device", "revoke", inesDevice]).status == 0)
        let erased = try ines.run(["sync"])
        #expect(erased.status == 1 && erased.output.contains("referral \(kept.prefix(13)) (submitted"), "\(erased.output)")
        #expect(try server.command(["device", "list", "--user", "ines"]).output.contains("wiped "))
    }

    @Test("a wipe report's ids and statuses are checked, and nothing a device or a user name holds drives the operator's terminal")
    func wipeReportsAndNamesAreInert() async throws {
        let server = try ServerProcess()
        let device = try await Device(server: server, token: try server.addUser("jane"))
        defer { device.remove() }
        #expect(try server.command(["device", "revoke", device.store.deviceID]).status == 0)
        let token = try #require(try device.store.login()?.token)
        let hostile = #"{"erased":[{"id":"\u001b]0;PWNED\u0007\u001b[2J\rFAKE","status":"submitted","immediate_risk":true,"unsent_changes":1}]}"#
        let (status, body, _) = try await server.exchange("POST", "v1/devices/wiped", token: token, device: device.store.deviceID, body: Data(hostile.utf8))
        #expect(status == 400, "\(body)")
        let message = (body["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("<U+001B>]0;PWNED") && !message.contains("\u{1B}"), "\(message)")
        let listed = try server.command(["device", "list"]).output
        #expect(!listed.contains("\u{1B}") && !listed.contains("wiped "), "\(listed)")

        let named = try server.commandWithErrors(["user", "add", "ev\u{1B}[2Jil", "--role", "practitioner"])
        #expect(named.status != 0 && named.error.contains("ev<U+001B>[2Jil") && !named.error.contains("\u{1B}"), "\(named.error)")
    }

    @Test("a device revoked to send submitted work first still cannot push a draft")
    func sendSubmittedRefusesDrafts() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        let device = try await Device(server: server, token: token)
        defer { device.remove() }
        let draft = try device.store.createReferral(kind: .socialCare)
        try device.store.set("concern.summary", of: draft, to: "A draft")
        #expect(try server.command(["device", "revoke", device.store.deviceID, "--send-submitted-first"]).status == 0)
        let change = WireChange(seq: 1, record: draft.lowercased, path: "concern.summary", value: "A draft", baseRevision: 0,
                                hlc: "0001795999429679-0000-\(device.store.deviceID)")
        let body = try JSONEncoder().encode(PushRequest(device: device.store.deviceID, changes: [change], epoch: nil, cursor: 0))
        let (status, reply, _) = try await server.exchange("POST", "v1/push", token: try device.store.login()!.token, device: device.store.deviceID, body: body)
        #expect(status == 410)
        #expect(((reply["error"] as? [String: Any])?["code"] as? String) == ErrorCode.deviceRevokedSendSubmitted)
        #expect(try await server.database.strings("SELECT id FROM records WHERE id = ?", [draft.lowercased]).isEmpty)
    }

    // MARK: Item 7: access that ends with its reason

    @Test("user disable ends console sessions and refuses devices (their unsent work kept, never applied); enable lets them send it; set-role; rotate-token ends device tokens")
    func disableEnableAndRoles() async throws {
        let server = try ServerProcess()
        let (jane, token) = try Self.janeOnline(server)
        let id = try Self.referral(jane, summary: "Written while disabled")
        let (status, output) = try server.command(["user", "disable", "jane", "--by", "team manager"])
        #expect(status == 0 && output == "jane is disabled: their console sessions have ended and their devices are refused.", "\(output)")
        #expect(try server.command(["user", "disable", "jane"]).output == "jane was already disabled; nothing changed.")

        let refused = try jane.run(["sync"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("(403): The account jane has been disabled by the operator"), "\(refused.output)")
        #expect(try await server.database.strings("SELECT id FROM records WHERE id = ?", [id.lowercased]).isEmpty)
        #expect(try await server.request("GET", "v1/pull", token: token).0 == 403)
        let users = try server.command(["user", "list"]).output
        #expect(users.contains("disabled ") && users.contains("by \(ServerProcess.operatingSystemUser)"), "\(users)")

        #expect(try server.command(["user", "enable", "jane"]).output == "jane is enabled again.")
        #expect(try jane.run(["sync"]).status == 0)
        #expect(try await server.database.strings("SELECT status FROM records WHERE id = ?", [id.lowercased]).first == "submitted")

        let role = try server.command(["user", "set-role", "jane", "intake"])
        #expect(role.status == 0 && role.output == "jane is now intake (was practitioner); their console sessions have ended.", "\(role.output)")
        #expect(try server.command(["user", "set-role", "jane", "intake"]).output == "jane already is intake; nothing changed.")
        let bad = try server.commandWithErrors(["user", "set-role", "jane", "boss"])
        #expect(bad.status != 0 && bad.error.contains("boss"), "\(bad.error)")
        #expect(try server.command(["user", "set-role", "nobody", "admin"]).status == 1)

        // rotate-token: the device's own token stops with the user's; a new login with the new token works.
        let rotated = try server.commandWithErrors(["user", "rotate-token", "jane"])
        #expect(rotated.status == 0 && rotated.output.hasPrefix("fld_") && rotated.error.contains("must log in again"), "\(rotated.error)")
        let stale = try jane.run(["sync"])
        #expect(stale.status == 1 && stale.output.contains("(401): The token is not valid"), "\(stale.output)")
        #expect(try jane.run(["login", "--server", server.url.absoluteString, "--token", rotated.output]).status == 0)
        let audit = try server.command(["audit", "show", "--limit", "50"]).output
        for action in ["disable-user", "enable-user", "set-role", "rotate-token"] { #expect(audit.contains(action), "no \(action) in \(audit)") }
        #expect(audit.contains("user=jane reason=team manager"), "\(audit)")
    }

    @Test("a disabled user's console session ends at once, and signing in again is refused with a sentence")
    func disabledConsoleSession() async throws {
        let server = try ServerProcess()
        _ = try server.addUser("ian", role: .intake)
        #expect(try server.command(["user", "set-password", "ian"], input: "ian's console password\n").status == 0)
        let browser = ConsoleBoundaryTests.Client(server.url)
        #expect(try await browser.signIn("ian", "ian's console password").status == 303)
        #expect(try await browser.send("GET", "/console/queue").status == 200)
        #expect(try server.command(["user", "disable", "ian"]).status == 0)
        let after = try await browser.send("GET", "/console/queue")
        #expect(after.status != 200 && !after.body.contains("Queue"), "a disabled user's session still opened the queue (\(after.status))")
        let again = try await browser.signIn("ian", "ian's console password")
        #expect(again.status == 403 && again.body.contains("This account has been disabled"), "\(again.status): \(again.body.prefix(300))")
        // Login CSRF (item 5): without the sign-in page's cookie, the constant the server once expected signs no one in.
        #expect(try server.command(["user", "enable", "ian"]).status == 0)
        let forged = ConsoleBoundaryTests.Client(server.url)
        let posted = try await forged.send("POST", "/console/sign-in", form: ["username": "ian", "password": "ian's console password", "csrf": "-"])
        #expect(posted.status == 403 && posted.body.contains("did not come from the console") && forged.cookies["field_console"] == nil,
                "\(posted.status): \(posted.body.prefix(300))")
    }

    // MARK: Item 8: restore refuses while a server holds the database

    @Test("restore refuses while a server serves the database, and --force overrides; once stopped it restores")
    func restoreRefusedWhileServed() throws {
        let server = try ServerProcess()
        guard case .sqlite(let path) = server.database else { return }
        _ = try server.addUser("jane")
        let backup = server.folder.appendingPathComponent("backup.sqlite").path
        try DatabaseQueue(path: path).backup(to: DatabaseQueue(path: backup))
        let refused = try server.commandWithErrors(["restore", "--from", backup])
        #expect(refused.status == 1)
        #expect(refused.error == "Error: The database is in use by a running sync-server serve (it holds a lock on '\(path)'); stop every server instance first, or pass --force if you know it is safe.",
                "\(refused.error)")
        // A symbolic or a hard link names the same file: refused too.
        let symbolic = server.folder.appendingPathComponent("link.sqlite").path
        let hard = server.folder.appendingPathComponent("hard.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: symbolic, withDestinationPath: path)
        try FileManager.default.linkItem(atPath: path, toPath: hard)
        for link in [symbolic, hard] {
            let viaLink = try ServerProcess.commandWithErrors(["restore", "--from", backup, "--db", link])
            #expect(viaLink.status == 1 && viaLink.error.contains("in use by a running sync-server serve"), "\(link): \(viaLink.error)")
        }
        try FileManager.default.removeItem(atPath: symbolic)
        try FileManager.default.removeItem(atPath: hard)
        server.kill()
        let restored = try server.command(["restore", "--from", backup])
        #expect(restored.status == 0, "\(restored.output)")
        try server.start()
        let forced = try server.command(["restore", "--force"])
        #expect(forced.status == 0, "\(forced.output)")
    }
}
