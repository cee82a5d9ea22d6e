import Foundation
import TestSupport
import GRDB
@testable import SyncCore
import Testing

/// Revocation never destroys submitted work silently (a tester's finding,
/// issue 26 item 2), through the real `sync-server` and `field` binaries.
extension RevocationTests {
    @Test("revoking a laptop with a submitted, never-synced immediate-risk referral: the practitioner is told what was lost and what to do; the wipe report, the audit and device list show it; a new login works")
    func revocationReportsErasedWork() async throws {
        let server = try ServerProcess()
        let (jane, token) = try PractitionerLaptop.janeOnline(server)
        let synced = try PractitionerLaptop.referral(jane, summary: "Synced before the revocation")
        #expect(try jane.run(["sync"]).status == 0)
        let urgent = try PractitionerLaptop.referral(jane, summary: "Child not safe now; mum collects at 15:15", immediateRisk: true)
        let draft = try PractitionerLaptop.referral(jane, summary: "Only a draft", submit: false)
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
        let (jane, _) = try PractitionerLaptop.janeOnline(server)
        let submitted = try PractitionerLaptop.referral(jane, summary: "Submitted, never synced", immediateRisk: true)
        let draft = try PractitionerLaptop.referral(jane, summary: "Only a draft", submit: false)
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
        let (jane, _) = try PractitionerLaptop.janeOnline(server)
        let lost = try PractitionerLaptop.referral(jane, summary: "Submitted on the stolen laptop")
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
        let kept = try PractitionerLaptop.referral(ines, summary: "Submitted before the account was disabled")
        let inesDevice = try #require(try server.command(["device", "list", "--user", "ines"]).output
            .firstMatch(of: try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")).map { String($0.0) })
        #expect(try server.command(["user", "disable", "ines"]).status == 0)
        #expect(try server.command(["device", "revoke", inesDevice]).status == 0)
        let erased = try ines.run(["sync"])
        #expect(erased.status == 1 && erased.output.contains("referral \(kept.prefix(13)) (submitted"), "\(erased.output)")
        #expect(try server.command(["device", "list", "--user", "ines"]).output.contains("wiped "))
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
}
