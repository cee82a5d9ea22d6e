import Foundation
import TestSupport
import GRDB
@testable import SyncCore
import Testing

/// Other people's text never drives a terminal (a tester's finding, issue 26
/// item 3): escape sequences in a referral, a decision, a wipe report or a
/// user's name reach `intake show`, `field status` and the operator's
/// listings as `<U+…>`, through the real binaries.
@Suite("Other people's text never drives a terminal: intake show, field status, the operator's listings")
struct TerminalTextTests {
    @Test("escape sequences in other people's text (ESC, CSI, OSC, BEL, CR, backspace) reach intake show and field status as <U+…>, never raw")
    func controlCharactersShownNotObeyed() throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let (jane, _) = try PractitionerLaptop.janeOnline(server)
        let ian = try FieldHome(user: "ian", seed: 73, hour: "2026-11-23T11")
        #expect(try ian.run(["login", "--server", server.url.absoluteString, "--token", try server.addUser("ian", role: .intake)]).status == 0)
        let hostile = "No further action\u{1B}[2J\u{1B}[H\u{1B}]0;pwned\u{07}\u{1B}]52;c;ZXZpbA==\u{07}\rFAKE: s47 enquiry opened\u{08}\u{08}\u{9B}31m"
        let id = try PractitionerLaptop.referral(jane, summary: hostile)
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
}
