import Foundation
import SyncCore
import Testing
import TestSupport

/// Intake and admin commands keep no referral on the device, but their token
/// is sealed in the encrypted store: a session is their way in, asking for
/// the passphrase once (docs/security.md, "Online roles"). Through the real
/// `field` at a pseudo-terminal and a real `sync-server`.
@Suite("Online roles: one passphrase per session")
struct OnlineRoleTests {
    /// A referral submitted by jane, and ian's intake home logged in.
    static func frontDoor() throws -> (server: ServerProcess, ian: FieldHome, id: String) {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let jane = try FieldHome(user: "jane", seed: 42)
        let ian = try FieldHome(user: "ian", seed: 43, hour: "2026-11-23T11")
        #expect(try jane.run(["login", "--server", server.url.absoluteString, "--token", server.addUser("jane")]).status == 0)
        #expect(try ian.run(["login", "--server", server.url.absoluteString, "--token", server.addUser("ian", role: .intake)]).status == 0)
        let id = try jane.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        for (path, value) in [("referrer.name", "Jane Smith"), ("referrer.agency", "Health Visiting"), ("concern.summary", "Bruises")] {
            #expect(try jane.run(["set", id, path, value]).status == 0)
        }
        #expect(try jane.run(["add", id, "children"]).status == 0)
        #expect(try jane.run(["set", id, "children.1.full_name", "Amy Smith"]).status == 0)
        #expect(try jane.run(["submit", id]).status == 0)
        #expect(try jane.run(["sync"]).status == 0)
        return (server, ian, id)
    }

    /// ian's environment at a terminal: no FIELD_PASSPHRASE, so it is asked.
    static func terminalEnvironment(_ home: FieldHome) -> [String: String] {
        var environment = home.environment(now: "2026-11-23T12:30:00Z")
        environment["FIELD_PASSPHRASE"] = nil
        return environment
    }

    @Test("a session asks the passphrase once for every intake and admin command that follows")
    func sessionUnlocksOnce() throws {
        let (server, ian, id) = try Self.frontDoor()
        _ = server
        let terminal = try TerminalSession(FieldHome.executable.path, environment: Self.terminalEnvironment(ian))
        terminal.waitFor("field> ")
        terminal.type("intake queue\r")
        terminal.waitFor("Passphrase for \(ian.folder.path): ")
        terminal.type(FieldHome.passphrase + "\r")
        #expect(terminal.waitFor("field> ").contains("Amy Smith"), "\(terminal.transcript)")
        terminal.type("intake show \(id.prefix(13))\r")
        #expect(terminal.waitFor("field> ").contains("Bruises"), "\(terminal.transcript)")
        terminal.type("intake ack \(id.prefix(13))\r")
        #expect(terminal.waitFor("field> ").contains("Referral \(id) acknowledged"), "\(terminal.transcript)")
        terminal.type("exit\r")
        #expect(terminal.finish() == 0, "\(terminal.transcript)")
        #expect(terminal.transcript.components(separatedBy: "Passphrase for").count == 2, "asked more than once: \(terminal.transcript)")
        #expect(!terminal.transcript.contains(FieldHome.passphrase), "the passphrase was echoed: \(terminal.transcript)")
        #expect(!terminal.transcript.contains("Tip:"), "\(terminal.transcript)")
    }

    @Test("an admin's session: `conflicts` and `resolve` after one passphrase")
    func adminSession() throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let ada = try FieldHome(user: "ada", seed: 45)
        #expect(try ada.run(["login", "--server", server.url.absoluteString, "--token", server.addUser("ada", role: .admin)]).status == 0)
        let terminal = try TerminalSession(FieldHome.executable.path, environment: Self.terminalEnvironment(ada))
        terminal.waitFor("field> ")
        terminal.type("conflicts\r")
        terminal.waitFor("Passphrase for \(ada.folder.path): ")
        terminal.type(FieldHome.passphrase + "\r")
        #expect(terminal.waitFor("field> ").contains("No open conflicts."), "\(terminal.transcript)")
        terminal.type("resolve 0abc --pick 1 --reason Checked\r")
        #expect(terminal.waitFor("field> ").contains("No open conflict has an id starting '0abc'"), "\(terminal.transcript)")
        terminal.type("exit\r")
        #expect(terminal.finish() == 1, "the failed resolve makes the session exit 1: \(terminal.transcript)")
        #expect(terminal.transcript.components(separatedBy: "Passphrase for").count == 2, "asked more than once: \(terminal.transcript)")
    }

    @Test("one-shot at a terminal: each command asks, and says a session asks once; without a terminal the error names both ways in")
    func oneShotSaysSessionAsksOnce() throws {
        let (server, ian, _) = try Self.frontDoor()
        _ = server
        let terminal = try TerminalSession(FieldHome.executable.path, ["intake", "queue"], environment: Self.terminalEnvironment(ian))
        #expect(terminal.waitFor("Passphrase for").contains(
            "Tip: `field` on its own starts a session that asks for the passphrase once for all its intake and admin commands."),
            "\(terminal.transcript)")
        terminal.type(FieldHome.passphrase + "\r")
        #expect(terminal.waitFor("Amy Smith").contains("Amy Smith"), "\(terminal.transcript)")
        #expect(terminal.finish() == 0, "\(terminal.transcript)")

        let piped = try ian.run(["intake", "queue"], environment: ["FIELD_PASSPHRASE": nil])
        #expect(piped.status == 1)
        #expect(piped.output == "Error: The device's store is encrypted and no passphrase was given; set FIELD_PASSPHRASE, or run `field` at a terminal, where a session asks for it once.\n", "\(piped.output)")
    }
}
