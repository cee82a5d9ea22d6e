import Foundation
import SyncCore
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Failed authentication is limited per device on the real server, with its
/// clock moved by the test (no sleeps); tokens never reach its logs.
@Suite("Failed-authentication limit")
struct AuthRateLimitTests {
    static let start = "2026-11-23T10:00:00Z"

    @Test("after 3 failures a device gets 429 with Retry-After, even with a good token, until the window passes; others are not affected")
    func limitPerDevice() async throws {
        let server = try ServerProcess(
            clock: Self.start, options: ["--auth-failure-limit", "3", "--auth-failure-window", "60"], logLevel: "trace")
        let token = try server.addUser("alice")
        let phone = "01a2072c-0c4b-76c0-9617-f5ead7f07a01", laptop = "01a2072c-0c4b-76c0-9617-f5ead7f07a02"
        let tablet = "01a2072c-0c4b-76c0-9617-f5ead7f07a03"
        let wrong = "fld_" + String(repeating: "0", count: 64)

        for _ in 1...3 {
            #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: phone).0 == 401)
        }
        // Blocked: the good token is not even checked.
        let (status, body, reply) = try await server.exchange("GET", "v1/pull", token: token, device: phone)
        #expect(status == 429)
        #expect(reply.value(forHTTPHeaderField: "Retry-After") == "60")
        #expect(reply.value(forHTTPHeaderField: "Content-Type") == "application/json")
        let message = (body["error"] as? [String: Any])?["message"] as? String
        #expect(message == "Too many failed sign-ins from device \(phone); try again in 60 seconds.")

        // Two failures on the tablet, a success on the laptop, a third failure on the tablet: blocked.
        for _ in 1...2 {
            #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: tablet).0 == 401)
        }
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: laptop).0 == 200)
        #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: tablet).0 == 401)
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: tablet).0 == 429)
        // The laptop and calls without a device (keyed by address) are not blocked.
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: laptop).0 == 200)
        #expect(try await server.exchange("GET", "v1/pull", token: token).0 == 200)

        // 30 seconds on, still blocked, with the rest of the window to wait: the
        // first failure was a few clock readings (ms) after 10:00:00, so 30 s and a bit, rounded up.
        try server.setTime("2026-11-23T10:00:30Z")
        let (later, _, laterReply) = try await server.exchange("GET", "v1/pull", token: token, device: phone)
        #expect(later == 429)
        #expect(laterReply.value(forHTTPHeaderField: "Retry-After") == "31")
        // Once the window has passed the token is checked again.
        try server.setTime("2026-11-23T10:01:01Z")
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: phone).0 == 200)
        #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: phone).0 == 401)

        // Not a token, good or bad, in the trace-level log.
        server.stop()
        let log = try String(contentsOf: server.log, encoding: .utf8)
        #expect(log.contains("request"), "the log is empty")
        #expect(!log.contains(token) && !log.contains(wrong) && !log.contains("Bearer"))
    }

    @Test("without Field-Device failures count per remote address")
    func limitPerAddress() async throws {
        let server = try ServerProcess(clock: Self.start, options: ["--auth-failure-limit", "2", "--auth-failure-window", "60"])
        let token = try server.addUser("alice")
        #expect(try await server.exchange("POST", "v1/register", token: nil).0 == 401)
        #expect(try await server.exchange("POST", "v1/register", token: "fld_nope").0 == 401)
        let (status, body, reply) = try await server.exchange("GET", "v1/pull", token: token)
        #expect(status == 429)
        #expect(reply.value(forHTTPHeaderField: "Retry-After") == "60")
        #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains("address 127.0.0.1") == true)
        // Health checks are not behind authentication.
        #expect(try await server.exchange("GET", "healthz", token: nil).0 == 200)
    }

    @Test("a client that names a new device on every guess still runs out, per address")
    func rotatingDevicesPerAddress() async throws {
        let server = try ServerProcess(
            clock: Self.start,
            options: ["--auth-failure-limit", "2", "--auth-failure-address-limit", "5", "--auth-failure-window", "60"])
        let token = try server.addUser("alice")
        for n in 1...5 {
            let device = String(format: "01a2072c-0c4b-76c0-9617-f5ead7f07b%02d", n)
            #expect(try await server.exchange("GET", "v1/pull", token: "fld_guess\(n)", device: device).0 == 401)
        }
        let (status, body, _) = try await server.exchange("GET", "v1/pull", token: token, device: "01a2072c-0c4b-76c0-9617-f5ead7f07b99")
        #expect(status == 429)
        #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains("address 127.0.0.1") == true)
        try server.setTime("2026-11-23T10:01:01Z")
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: "01a2072c-0c4b-76c0-9617-f5ead7f07b99").0 == 200)
    }
}
