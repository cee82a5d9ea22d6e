import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SyncCore
import TestSupport
import Testing
@testable import SyncServer

/// The routes' status codes and JSON bodies, in process: the application
/// `serve` runs (`buildApplication`: every route and middleware) on a real
/// SQLite file in a temporary folder, asked through Hummingbird's router test
/// client (`app.test(.router)`, no socket). They run in milliseconds, beside
/// the end-to-end tests through the real `sync-server` (`ServerBoundaryTests`,
/// `AuditTableTests`).
@Suite("Routes in process: status codes and JSON bodies")
struct RouterStatusTests {
    /// A store on a fresh SQLite file with a user of each role, and the application over it.
    final class World: @unchecked Sendable {
        let folder: URL
        let storage: SQLiteStorage
        /// Tokens, as `sync-server user add` prints them.
        private(set) var practitioner = "", intake = "", admin = ""
        /// A device registered to the practitioner by the test.
        let device = "01a2072c-0c4b-76c0-9617-f5ead7f07aed"

        init() async throws {
            folder = try TemporaryFolder.make("router-tests")
            storage = try SQLiteStorage(path: folder.appendingPathComponent("server.sqlite").path)
            practitioner = try await addUser("jane", role: .practitioner)
            intake = try await addUser("ian", role: .intake)
            admin = try await addUser("ada", role: .admin)
        }

        deinit { try? FileManager.default.removeItem(at: folder) }

        /// Adds a user as `sync-server user add` does; their token.
        func addUser(_ name: String, role: Role) async throws -> String {
            let token = Tokens.make()
            _ = try await storage.addUser(name: name, role: role, tokenHash: Tokens.hash(token), by: "router-tests", at: Timestamp.string(Date()))
            return token
        }

        /// Runs `test` against the application, in process.
        func test<Value: Sendable>(_ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
            var logger = Logger(label: "router-tests")
            logger.logLevel = .critical
            let app = try buildApplication(ServerConfiguration(), storage: storage, metrics: ServerMetrics(), logger: logger)
            return try await app.test(.router, test)
        }
    }

    /// A request's headers: the bearer token and Field-Device, when given.
    static func headers(token: String?, device: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        if let token { fields[.authorization] = "Bearer \(token)" }
        if let device { fields[HTTPField.Name("Field-Device")!] = device }
        fields[.contentType] = "application/json"
        return fields
    }

    static func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }
    static func body(_ value: some Encodable) throws -> ByteBuffer { ByteBuffer(bytes: try JSONEncoder().encode(value)) }

    /// The `{"error": {"message": …}}` of a reply; nil when it has none.
    static func message(_ response: TestResponse) -> String? {
        let json = try? JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["message"] as? String
    }

    /// Expects `status` and a JSON error whose message contains `words`.
    static func expectRefusal(
        _ response: TestResponse, _ status: HTTPResponse.Status, _ words: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(response.status): \(String(buffer: response.body))", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(response.headers)", sourceLocation: sourceLocation)
        let message = message(response)
        #expect(message?.contains(words) == true, "\(message ?? String(buffer: response.body))", sourceLocation: sourceLocation)
    }

    @Test("health answers 200 {\"status\":\"ok\"} without a token; an unknown route is a JSON 404, another method a 405 with Allow")
    func healthAndUnrouted() async throws {
        let world = try await World()
        try await world.test { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(health.headers[.contentType] == "application/json")
            #expect(String(buffer: health.body) == #"{"status":"ok"}"#)

            Self.expectRefusal(try await client.execute(uri: "/v1/nowhere", method: .get), .notFound, "There is no route '/v1/nowhere'.")
            let other = try await client.execute(uri: "/healthz", method: .delete)
            Self.expectRefusal(other, .methodNotAllowed, "DELETE is not a method of this route; it answers GET.")
            #expect(other.headers[.allow] == "GET")
        }
    }

    @Test("register without a token or with a wrong one is a 401 with a JSON sentence; a device id that is not a UUID a 400 naming it")
    func registerRefusals() async throws {
        let world = try await World()
        try await world.test { client in
            let register = Self.body(#"{"protocol":1,"device":"\#(world.device)"}"#)
            Self.expectRefusal(
                try await client.execute(uri: "/v1/register", method: .post, headers: Self.headers(token: nil), body: register), .unauthorized, "bearer token")
            Self.expectRefusal(
                try await client.execute(uri: "/v1/register", method: .post, headers: Self.headers(token: "fld_wrong"), body: register),
                .unauthorized, "not valid")
            Self.expectRefusal(
                try await client.execute(
                    uri: "/v1/register", method: .post, headers: Self.headers(token: world.practitioner),
                    body: Self.body(#"{"protocol":1,"device":"NOT-A-UUID"}"#)),
                .badRequest, "'NOT-A-UUID'")
        }
    }

    @Test("bad JSON and bad values are a 400 whose sentence names them, and store nothing")
    func badInput() async throws {
        let world = try await World()
        try await world.test { client in
            let token = Self.headers(token: world.practitioner)
            Self.expectRefusal(
                try await client.execute(uri: "/v1/push", method: .post, headers: token, body: Self.body("{not json")), .badRequest, "not valid JSON")
            Self.expectRefusal(
                try await client.execute(uri: "/v1/push", method: .post, headers: token, body: Self.body(#"{"protocol":1,"device":"x"}"#)),
                .badRequest, "missing 'changes'")
            Self.expectRefusal(try await client.execute(uri: "/v1/pull?since=-4", method: .get, headers: token), .badRequest, "'-4'")
            Self.expectRefusal(try await client.execute(uri: "/v1/pull?since=0&limit=999999", method: .get, headers: token), .badRequest, "'999999'")
            Self.expectRefusal(
                try await client.execute(uri: "/v1/conflicts?status=closed", method: .get, headers: Self.headers(token: world.admin)),
                .badRequest, "'status' must be open or all; got 'closed'.")
        }
        #expect(try await world.storage.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM change_log") } == 0)
    }

    @Test("each role is refused the routes of the others with a 403 and a sentence")
    func roleDenials() async throws {
        let world = try await World()
        try await world.test { client in
            let practitioner = Self.headers(token: world.practitioner)
            for uri in ["/v1/intake/queue", "/v1/conflicts"] {
                let denied = try await client.execute(uri: uri, method: .get, headers: practitioner)
                #expect(denied.status == .forbidden, "\(uri): \(denied.status)")
                #expect(Self.message(denied)?.isEmpty == false, "\(uri): \(String(buffer: denied.body))")
            }
            let revoke = try await client.execute(uri: "/v1/devices/\(world.device)/revoke", method: .post, headers: practitioner)
            #expect(revoke.status == .forbidden && Self.message(revoke) != nil, "\(revoke.status)")
            let offer = try Self.body(AttachmentOffer(sha256: String(repeating: "a", count: 64), size: 10, mediaType: "image/png"))
            let intakeOffer = try await client.execute(uri: "/v1/attachments", method: .post, headers: Self.headers(token: world.intake), body: offer)
            #expect(intakeOffer.status == .forbidden && Self.message(intakeOffer) != nil, "\(intakeOffer.status)")
            // Referral content is pushed by practitioners only, and read at the front door by intake only.
            let push = try Self.body(PushRequest(device: world.device, changes: []))
            Self.expectRefusal(
                try await client.execute(uri: "/v1/push", method: .post, headers: Self.headers(token: world.intake), body: push),
                .forbidden, "Only practitioners push referral content; ian is intake.")
            Self.expectRefusal(
                try await client.execute(
                    uri: "/v1/intake/referrals/01a2072c-0c4b-76c0-9617-f5ead7f07a99", method: .get, headers: Self.headers(token: world.admin)),
                .forbidden, "This needs the intake role; ada is admin.")
        }
    }

    @Test("a registered device pushes a change (applied, with a receipt) and pulls it back; a second pull from its cursor is empty")
    func pushAndPull() async throws {
        let world = try await World()
        let record = "01a2072c-0c4b-76c0-9617-f5ead7f07aee"
        try await world.test { client in
            let token = Self.headers(token: world.practitioner, device: world.device)
            let registered = try await client.execute(
                uri: "/v1/register", method: .post, headers: token, body: try Self.body(RegisterRequest(device: world.device)))
            #expect(registered.status == .ok, "\(String(buffer: registered.body))")
            let registration = try JSONDecoder().decode(RegisterResponse.self, from: Data(String(buffer: registered.body).utf8))
            #expect(registration.user == "jane" && registration.role == .practitioner && registration.device == world.device)

            let change = WireChange(
                seq: 1, record: record, path: "concern.summary", value: "Bruises on both arms", baseRevision: 0,
                hlc: "0001795000000000-0000-\(world.device)")
            let pushed = try await client.execute(
                uri: "/v1/push", method: .post, headers: token, body: try Self.body(PushRequest(device: world.device, changes: [change])))
            #expect(pushed.status == .ok, "\(String(buffer: pushed.body))")
            let reply = try JSONDecoder().decode(PushResponse.self, from: Data(String(buffer: pushed.body).utf8))
            #expect(reply.outcomes.map(\.outcome) == [.applied])
            #expect(reply.receipt != nil)

            let pulled = try await client.execute(uri: "/v1/pull?since=0", method: .get, headers: token)
            #expect(pulled.status == .ok, "\(String(buffer: pulled.body))")
            let page = try JSONDecoder().decode(PullResponse.self, from: Data(String(buffer: pulled.body).utf8))
            #expect(page.changes.map { [$0.record, $0.path, $0.value ?? "-", $0.author] } == [[record, "concern.summary", "Bruises on both arms", "jane"]])
            #expect(!page.more)
            let again = try await client.execute(uri: "/v1/pull?since=\(page.cursor)", method: .get, headers: token)
            let empty = try JSONDecoder().decode(PullResponse.self, from: Data(String(buffer: again.body).utf8))
            #expect(again.status == .ok && empty.changes.isEmpty)
        }
    }

    @Test("a referral that is not there is a 404 naming its id, to read and to acknowledge")
    func missingReferral() async throws {
        let world = try await World()
        try await world.test { client in
            let id = "01a2072c-0c4b-76c0-9617-f5ead7f07a99"
            Self.expectRefusal(
                try await client.execute(uri: "/v1/intake/referrals/\(id)", method: .get, headers: Self.headers(token: world.intake)),
                .notFound, "No submitted referral has id '\(id)'.")
            // A staff write comes from a registered device: without one it is refused before the referral is looked up.
            let acknowledge = "/v1/intake/referrals/\(id)/acknowledge"
            Self.expectRefusal(
                try await client.execute(uri: acknowledge, method: .post, headers: Self.headers(token: world.intake)), .forbidden, "Field-Device")
            let desk = "01a2072c-0c4b-76c0-9617-f5ead7f07ad5"
            let intake = Self.headers(token: world.intake, device: desk)
            let registered = try await client.execute(uri: "/v1/register", method: .post, headers: intake, body: try Self.body(RegisterRequest(device: desk)))
            #expect(registered.status == .ok, "\(String(buffer: registered.body))")
            Self.expectRefusal(try await client.execute(uri: acknowledge, method: .post, headers: intake), .notFound, "No submitted referral has id '\(id)'.")
        }
    }

    @Test("an attachment offer is refused for a bad hash (400), size (400, 413) or kind (415), and an unknown file's status is a 404")
    func attachmentOfferRefusals() async throws {
        let world = try await World()
        try await world.test { client in
            let token = Self.headers(token: world.practitioner, device: world.device)
            let registered = try await client.execute(
                uri: "/v1/register", method: .post, headers: token, body: try Self.body(RegisterRequest(device: world.device)))
            #expect(registered.status == .ok)
            let hash = String(repeating: "ab", count: 32)
            let cases: [(AttachmentOffer, HTTPResponse.Status, String)] = [
                (AttachmentOffer(sha256: "ABC", size: 10, mediaType: "image/png"), .badRequest, "'sha256' must be the file's SHA-256"),
                (AttachmentOffer(sha256: hash, size: 0, mediaType: "image/png"), .badRequest, "'size' must be the file's size in bytes (1 or more); got 0."),
                (AttachmentOffer(sha256: hash, size: 10, mediaType: "text/plain"), .unsupportedMediaType, "'text/plain' is not a kind of file"),
                (AttachmentOffer(sha256: hash, size: 1 << 40, mediaType: "image/png"), .contentTooLarge, "The file is \(1 << 40) bytes"),
            ]
            for (offer, status, words) in cases {
                Self.expectRefusal(
                    try await client.execute(uri: "/v1/attachments", method: .post, headers: token, body: try Self.body(offer)), status, words)
            }
            // Without Field-Device the offer names the header it needs.
            Self.expectRefusal(
                try await client.execute(
                    uri: "/v1/attachments", method: .post, headers: Self.headers(token: world.practitioner),
                    body: try Self.body(AttachmentOffer(sha256: hash, size: 10, mediaType: "image/png"))),
                .forbidden, "Field-Device")
            Self.expectRefusal(
                try await client.execute(uri: "/v1/attachments/\(hash)", method: .get, headers: token), .notFound, "was offered")
        }
    }

    @Test("the console sends whoever has not signed in to its sign-in page; the page itself answers 200 HTML")
    func consoleSignInRedirect() async throws {
        let world = try await World()
        try await world.test { client in
            for uri in ["/console", "/console/referrals/01a2072c-0c4b-76c0-9617-f5ead7f07aee"] {
                let page = try await client.execute(uri: uri, method: .get)
                #expect(page.status == .seeOther, "\(uri): \(page.status)")
                #expect(page.headers[.location] == "/console/sign-in", "\(uri): \(page.headers)")
            }
            let signIn = try await client.execute(uri: "/console/sign-in", method: .get)
            #expect(signIn.status == .ok)
            #expect(signIn.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: signIn.body).contains("<form"))
        }
    }
}
