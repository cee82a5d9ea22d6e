import Foundation
import SyncCore
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Failed authentication is limited per device on the real server, with its
/// clock moved by the test (no sleeps); tokens never reach its logs; a
/// valid token is never locked out by others' failures.
@Suite("Failed-authentication limit")
struct AuthRateLimitTests {
    static let start = "2026-11-23T10:00:00Z"

    @Test("after 3 failures a device's wrong tokens get 429 with Retry-After until the window passes; its valid token is never locked out")
    func limitPerDevice() async throws {
        let server = try ServerProcess(
            clock: Self.start, options: ["--auth-failure-limit", "3", "--auth-failure-window", "60"], logLevel: "trace")
        let token = try server.addUser("alice")
        let phone = "01a2072c-0c4b-76c0-9617-f5ead7f07a01", laptop = "01a2072c-0c4b-76c0-9617-f5ead7f07a02"
        let tablet = "01a2072c-0c4b-76c0-9617-f5ead7f07a03"
        let wrong = "fld_" + String(repeating: "0", count: 64)

        // Someone else names the phone in Field-Device with bad tokens (issue 26, item 7).
        for _ in 1...3 {
            #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: phone).0 == 401)
        }
        // Blocked: a further wrong token gets 429…
        let (status, body, reply) = try await server.exchange("GET", "v1/pull", token: wrong, device: phone)
        #expect(status == 429)
        #expect(reply.value(forHTTPHeaderField: "Retry-After") == "60")
        #expect(reply.value(forHTTPHeaderField: "Content-Type") == "application/json")
        let message = (body["error"] as? [String: Any])?["message"] as? String
        #expect(message == "Too many failed sign-ins from device \(phone); try again in 60 seconds.")
        // …but the phone's owner, with the valid token, is not locked out.
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: phone).0 == 200)

        // Two failures on the tablet, a success on the laptop, a third failure on the tablet: blocked.
        for _ in 1...2 {
            #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: tablet).0 == 401)
        }
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: laptop).0 == 200)
        #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: tablet).0 == 401)
        #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: tablet).0 == 429)
        // The laptop's and address-keyed guesses are counted apart.
        #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: laptop).0 == 401)

        // 30 seconds on, still blocked, with the rest of the window to wait: the
        // first failure was a few clock readings (ms) after 10:00:00, so 30 s and a bit, rounded up.
        try server.setTime("2026-11-23T10:00:30Z")
        let (later, _, laterReply) = try await server.exchange("GET", "v1/pull", token: wrong, device: phone)
        #expect(later == 429)
        #expect(laterReply.value(forHTTPHeaderField: "Retry-After") == "31")
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: phone).0 == 200)
        // Once the window has passed a wrong token is a plain 401 again.
        try server.setTime("2026-11-23T10:01:01Z")
        #expect(try await server.exchange("GET", "v1/pull", token: wrong, device: phone).0 == 401)
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: phone).0 == 200)

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
        let (status, body, reply) = try await server.exchange("GET", "v1/pull", token: "fld_nope2")
        #expect(status == 429)
        #expect(reply.value(forHTTPHeaderField: "Retry-After") == "60")
        #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains("address 127.0.0.1") == true)
        // The valid token from the same address still works.
        #expect(try await server.exchange("GET", "v1/pull", token: token).0 == 200)
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
        let (status, body, _) = try await server.exchange("GET", "v1/pull", token: "fld_guess6", device: "01a2072c-0c4b-76c0-9617-f5ead7f07b99")
        #expect(status == 429)
        #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains("address 127.0.0.1") == true)
        #expect(try await server.exchange("GET", "v1/pull", token: token, device: "01a2072c-0c4b-76c0-9617-f5ead7f07b99").0 == 200)
        try server.setTime("2026-11-23T10:01:01Z")
        #expect(try await server.exchange("GET", "v1/pull", token: "fld_guess7", device: "01a2072c-0c4b-76c0-9617-f5ead7f07b98").0 == 401)
    }
}
