import Foundation
import TestSupport
import SyncCore
import Testing

/// What an operator runs on the server's machine: listing users, devices and
/// the audit trail, revoking a device by the start of its id, and the one
/// sentence a command prints when it cannot do what it was asked.
@Suite("Operator commands")
struct OperatorCommandTests {
    /// One sentence on standard error, no usage text, exit 1.
    func expectRefusal(_ result: (status: Int32, output: String, error: String), naming value: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, "exit status", sourceLocation: sourceLocation)
        #expect(result.error.hasPrefix("Error: ") && result.error.contains(value), "\(result.error)", sourceLocation: sourceLocation)
        #expect(!result.error.contains("\n") && !result.error.contains("USAGE"), "\(result.error)", sourceLocation: sourceLocation)
    }

    @Test("user list shows name, role and when added, never a token or its hash")
    func userList() async throws {
        let server = try ServerProcess()
        let adaToken = try server.addUser("ada", role: .admin)
        let janeToken = try server.addUser("jane")
        let (status, output, _) = try server.commandWithErrors(["user", "list"])
        #expect(status == 0)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("NAME") && lines[0].contains("ROLE") && lines[0].contains("CREATED"))
        #expect(lines[1].hasPrefix("ada ") && lines[1].contains("admin"))
        #expect(lines[2].hasPrefix("jane ") && lines[2].contains("practitioner"))
        let hashes = try await server.database.strings("SELECT token_hash FROM users").compactMap { $0 }
        for secret in [adaToken, janeToken] + hashes {
            #expect(!output.contains(secret))
        }
        #expect(!output.contains("fld_"))
    }

    @Test("device list shows each device's user, registration, last sync and state; --user filters; revoke takes a unique start of the id")
    func deviceList() async throws {
        let server = try ServerProcess(now: "2026-11-23T10:00:00Z")
        let janeToken = try server.addUser("jane")
        let laptop = try await Device(server: server, token: janeToken)
        let phone = try await Device(server: server, token: janeToken)
        let ada = try await Device(server: server, token: try server.addUser("ada", role: .admin))
        defer { [laptop, phone, ada].forEach { $0.remove() } }
        try await laptop.sync()

        let all = try server.commandWithErrors(["device", "list"])
        #expect(all.status == 0)
        let lines = all.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("DEVICE") && lines[0].contains("LAST SYNC") && lines[0].contains("STATE"))
        func line(_ device: Device) -> String { lines.first { $0.hasPrefix(device.store.deviceID) } ?? "" }
        #expect(line(laptop).contains(" jane ") && line(laptop).contains("2026-11-23T10:00") && line(laptop).hasSuffix("active"))
        #expect(line(laptop).components(separatedBy: "2026-11-23T10:00").count == 3, "registered and last sync: \(line(laptop))")
        #expect(line(phone).contains(" never ") && line(phone).hasSuffix("active"))
        #expect(line(ada).contains(" ada "))

        let jane = try server.commandWithErrors(["device", "list", "--user", "jane"])
        #expect(jane.status == 0 && jane.output.split(separator: "\n").count == 3 && !jane.output.contains(ada.store.deviceID))
        expectRefusal(try server.commandWithErrors(["device", "list", "--user", "nobody"]), naming: "'nobody'")

        // A unique start of the id is enough, as for referrals in `field`.
        let prefix = String(laptop.store.deviceID.prefix(uniqueLength(of: laptop.store.deviceID, among: [phone.store.deviceID, ada.store.deviceID])))
        let revoked = try server.commandWithErrors(["device", "revoke", prefix, "--by", "team manager"])
        #expect(revoked.status == 0 && revoked.output.hasPrefix("Device \(laptop.store.deviceID) is revoked; it erases its referral data at its next contact"), "\(revoked.output)")
        await #expect(throws: SyncError.revoked(WipeReport())) { try await laptop.sync() }
        let after = try server.commandWithErrors(["device", "list", "--user", "jane"]).output
        let laptopLine = after.split(separator: "\n").first { $0.hasPrefix(laptop.store.deviceID) } ?? ""
        #expect(laptopLine.contains(" wiped ") && laptopLine.contains("(revoked ") && laptopLine.hasSuffix("by \(ServerProcess.operatingSystemUser))"), "\(laptopLine)")
        // The operating-system user is the actor; what --by said is the reason, never instead of it.
        let entry = try server.command(["audit", "show", "--action", "revoke"]).output
        #expect(entry.contains(" \(ServerProcess.operatingSystemUser) ") && entry.hasSuffix("reason=team manager") && !entry.contains(" operator "), "\(entry)")
    }

    @Test("an ambiguous, unknown or malformed device id gets one sentence and exit 1")
    func devicePrefixes() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        for id in ["01a20000-0000-4000-8000-000000000001", "01a20000-0000-4000-8000-000000000002"] {
            let body = Data(#"{"protocol":1,"device":"\#(id)"}"#.utf8)
            #expect(try await server.exchange("POST", "v1/register", token: token, device: id, body: body).0 == 200)
        }
        let ambiguous = try server.commandWithErrors(["device", "revoke", "01a2"])
        expectRefusal(ambiguous, naming: "'01a2'")
        #expect(ambiguous.error.contains("2 device ids"))
        expectRefusal(try server.commandWithErrors(["device", "revoke", "01a3"]), naming: "'01a3'")
        expectRefusal(try server.commandWithErrors(["device", "revoke", "no-such-device"]), naming: "'no-such-device'")
        let exact = try server.commandWithErrors(["device", "revoke", "01A20000-0000-4000-8000-000000000001"])
        #expect(exact.status == 0 && exact.output.hasPrefix("Device 01a20000-0000-4000-8000-000000000001 is revoked;"), "\(exact.output)")
        // A repeat revoke says it was already done, and changes nothing.
        let again = try server.commandWithErrors(["device", "revoke", "01a20000-0000-4000-8000-000000000001", "--by", "someone else"])
        #expect(again.status == 0 && again.output.hasPrefix("Device 01a20000-0000-4000-8000-000000000001 was already revoked at ")
                && again.output.hasSuffix(" by \(ServerProcess.operatingSystemUser); nothing changed."), "\(again.output)")
        let last = try server.commandWithErrors(["device", "revoke", "01a20000-0000-4000-8000-0000000000"])
        #expect(last.status == 1, "still two ids start so, revoked or not")
    }

    @Test("audit show lists entries oldest first, filtered by actor, action, record, time and count")
    func auditShow() async throws {
        let server = try ServerProcess(now: "2026-11-23T10:00:00Z")
        let laptop = try await Device(server: server, token: try server.addUser("jane"))
        defer { laptop.remove() }
        let record = try laptop.store.createReferral(kind: .socialCare)
        try laptop.store.set("concern.summary", of: record, to: "Amy said her stepfather hurt her arm")
        try await laptop.sync()
        #expect(try server.command(["device", "revoke", laptop.store.deviceID]).status == 0)

        func show(_ arguments: [String]) throws -> [String] {
            let (status, output, error) = try server.commandWithErrors(["audit", "show"] + arguments)
            #expect(status == 0, "\(error)")
            return output.split(separator: "\n").map(String.init)
        }
        let everything = try show([])
        #expect(everything[0].hasPrefix("#") && everything[0].contains("ACTION") && everything[0].contains("DETAIL"))
        #expect(everything.count >= 5)  // header, add-user, login, push, revoke
        #expect(!everything.joined().contains("stepfather"))
        let pushes = try show(["--actor", "jane", "--action", "push"])
        #expect(pushes.count == 2 && pushes[1].contains("records=\(record.lowercased)"))
        let aboutRecord = try show(["--record", String(record.lowercased.prefix(8))])
        #expect(aboutRecord.count == 2 && aboutRecord[1].contains(" push "))
        let revokes = try show(["--action", "revoke"])
        #expect(revokes.count == 2 && revokes[1].contains(" \(ServerProcess.operatingSystemUser) ") && revokes[1].contains("device=\(laptop.store.deviceID)"))
        let latest = try show(["--limit", "1"])
        #expect(latest.count == 2 && latest[1].contains(" revoke "))
        // The server stamps pushes with its (pinned) clock; the operator's revoke has the machine's.
        #expect(try show(["--since", "2026-11-23", "--action", "push"]).count == 2)
        #expect(try show(["--since", "2026-11-23T10:01", "--action", "push"]) == ["No audit entries match."])
        #expect(try show(["--since", "2999-01-01"]) == ["No audit entries match."])
        #expect(try show(["--actor", "nobody"]) == ["No audit entries match."])

        expectRefusal(try server.commandWithErrors(["audit", "show", "--since", "31/02/2021"]), naming: "'31/02/2021'")
        expectRefusal(try server.commandWithErrors(["audit", "show", "--since", "2021-02-31"]), naming: "'2021-02-31'")
        expectRefusal(try server.commandWithErrors(["audit", "show", "--record", "x%"]), naming: "'x%'")
    }

    @Test("a mistyped --db is refused in one sentence naming it, and no empty database is made; serve and user add create one")
    func missingDatabase() throws {
        let folder = try TemporaryFolder.make("operators")
        defer { try? FileManager.default.removeItem(at: folder) }
        let typo = folder.appendingPathComponent("sever.sqlite").path
        for command in [
            ["user", "list"], ["user", "rotate-token", "jane"], ["device", "list"], ["device", "revoke", "01a2"],
            ["audit", "show"], ["audit", "verify"], ["backup", "--to", folder.appendingPathComponent("copy.sqlite").path],
        ] {
            let result = try ServerProcess.commandWithErrors(command + ["--db", typo])
            expectRefusal(result, naming: "'\(typo)'")
            #expect(!FileManager.default.fileExists(atPath: typo), "\(command) made \(typo)")
        }
        let made = folder.appendingPathComponent("new.sqlite").path
        #expect(try ServerProcess.commandWithErrors(["user", "add", "ada", "--role", "admin", "--db", made]).status == 0)
        #expect(try ServerProcess.commandWithErrors(["user", "list", "--db", made]).output.contains("ada"))
    }
}

/// How many leading characters of `id` no id in `others` shares.
private func uniqueLength(of id: String, among others: [String]) -> Int {
    let shared = others.map { zip(id, $0).prefix { $0 == $1 }.count }.max() ?? 0
    return min(id.count, shared + 1)
}
