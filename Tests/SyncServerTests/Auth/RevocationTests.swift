import Foundation
import GRDB
import SyncCore
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A lost laptop: the admin revokes it, and the next time it reaches the
/// server it is refused and erases its referral data.
@Suite("Device revocation and remote wipe")
struct RevocationTests {
    @Test("a revoked device is refused, erases its referral data and reports it; the user's other devices carry on")
    func revokeAndWipe() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        let laptop = try await Device(server: server, token: token)
        let phone = try await Device(server: server, token: token)
        let admin = try await Device(server: server, token: try server.addUser("ada", role: .admin))
        defer { [laptop, phone, admin].forEach { $0.remove() } }
        let record = try laptop.store.createReferral(kind: .socialCare)
        try laptop.store.set("concern.summary", of: record, to: "Amy said her stepfather hurt her arm")
        try await laptop.sync()

        let (status, _) = try await HTTPTransport(server: server.url, token: try admin.store.login()!.token, device: admin.store.deviceID)
            .post("v1/devices/\(laptop.store.deviceID)/revoke", body: Data("{}".utf8))
        #expect(status == 200)

        await #expect(throws: SyncError.revoked(WipeReport())) { try await laptop.sync() }
        #expect(try laptop.store.summaries().isEmpty)
        #expect(try laptop.store.login() == nil)
        #expect(try laptop.store.integrityProblems().isEmpty)
        for suffix in ["", "-wal"] {
            let bytes = (try? Data(contentsOf: laptop.folder.appendingPathComponent("field.sqlite" + suffix))) ?? Data()
            #expect(bytes.range(of: Data("stepfather hurt".utf8)) == nil, "plaintext left in field.sqlite\(suffix)")
        }
        let wiped = try await server.database.strings("SELECT wiped_at FROM devices WHERE id = ?", [laptop.store.deviceID]).first ?? nil
        #expect(try server.chainAudit())
        let actions = try await server.database.strings("SELECT action FROM audit ORDER BY id").compactMap { $0 }
        #expect(wiped != nil)
        #expect(actions.contains("revoke") && actions.contains("wiped"))

        try await phone.sync()
        #expect(try phone.value(record, "concern.summary") == "Amy said her stepfather hurt her arm")
    }

    @Test("each device signs in with its own token, bound to it: revoking the device ends that token, not the user's")
    func deviceTokens() async throws {
        let server = try ServerProcess()
        let userToken = try server.addUser("jane")
        let laptop = try await Device(server: server, token: userToken)
        let admin = try await Device(server: server, token: try server.addUser("ada", role: .admin))
        defer { [laptop, admin].forEach { $0.remove() } }
        let laptopToken = try #require(try laptop.store.login()?.token)
        #expect(laptopToken.hasPrefix("fld_dev_") && laptopToken.count == 72)
        // Only its hash is kept.
        let stored = try await server.database.rows("SELECT token_hash FROM devices WHERE id = ?", [laptop.store.deviceID])[0][0]
        #expect(stored != nil && stored != laptopToken && stored?.count == 64)
        // The device token works for its own device only.
        #expect(try await server.exchange("GET", "v1/pull", token: laptopToken, device: laptop.store.deviceID).0 == 200)
        let (other, body, _) = try await server.exchange("GET", "v1/pull", token: laptopToken, device: admin.store.deviceID)
        #expect(other == 401)
        #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains("belongs to another device") == true)
        #expect(try await server.exchange("GET", "v1/pull", token: laptopToken).0 == 401)

        let (revoked, _) = try await HTTPTransport(server: server.url, token: try admin.store.login()!.token, device: admin.store.deviceID)
            .post("v1/devices/\(laptop.store.deviceID)/revoke", body: Data("{}".utf8))
        #expect(revoked == 200)
        // Revoked: its token only reaches the 410 that tells it to erase its data.
        #expect(try await server.exchange("GET", "v1/pull", token: laptopToken, device: laptop.store.deviceID).0 == 410)
        #expect(try await server.exchange("POST", "v1/register", token: laptopToken, device: laptop.store.deviceID,
                                          body: Data(#"{"protocol":1,"device":"\#(laptop.store.deviceID)"}"#.utf8)).0 == 410)
        // The user's own token still signs a new device in.
        let phone = try await Device(server: server, token: userToken)
        defer { phone.remove() }
        #expect(try await phone.sync().pushed == 0)
        #expect(try phone.store.login()?.token != laptopToken)
    }

    @Test("an operator revokes from the command line and rotates the user's token")
    func commandLine() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        let laptop = try await Device(server: server, token: token)
        defer { laptop.remove() }
        func run(_ arguments: [String]) throws -> (Int32, String) { try server.command(arguments) }
        #expect(try run(["device", "revoke", laptop.store.deviceID]).0 == 0)
        #expect(try run(["device", "revoke", "no-such-device"]).0 != 0)
        await #expect(throws: SyncError.revoked(WipeReport())) { try await laptop.sync() }
        let (status, newToken) = try run(["user", "rotate-token", "jane"])
        #expect(status == 0 && newToken.hasPrefix("fld_") && newToken != token)
        #expect(try await server.request("GET", "v1/pull", token: token).0 == 401)
        #expect(try await server.request("GET", "v1/pull", token: newToken).0 == 200)
    }
}
