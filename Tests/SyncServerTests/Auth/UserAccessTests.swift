import Foundation
import GRDB
@testable import SyncCore
import Testing

/// Access that ends with its reason (a tester's finding, issue 26 item 7):
/// `user disable`, `enable`, `set-role` and `rotate-token` through the real
/// binaries, devices and console sessions included.
@Suite("A user's access ends with its reason: disable, enable, set-role, rotate-token")
struct UserAccessTests {
    @Test("user disable ends console sessions and refuses devices (their unsent work kept, never applied); enable lets them send it; set-role; rotate-token ends device tokens")
    func disableEnableAndRoles() async throws {
        let server = try ServerProcess()
        let (jane, token) = try PractitionerLaptop.janeOnline(server)
        let id = try PractitionerLaptop.referral(jane, summary: "Written while disabled")
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
}
