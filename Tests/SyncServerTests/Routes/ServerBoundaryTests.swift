import Foundation
import GRDB
import SyncCore
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Bad input gets a 4xx with a JSON body naming the problem, never a 500, and
/// stores nothing; the server shuts down cleanly on SIGTERM.
@Suite("Server boundaries")
struct ServerBoundaryTests {
    static let device = "01a2072c-0c4b-76c0-9617-f5ead7f07aed"

    func push(_ changes: [[String: Any]], device: String = device, version: Int = 1) throws -> Data {
        try JSONSerialization.data(withJSONObject: ["protocol": version, "device": device, "changes": changes])
    }

    func change(_ seq: Int, path: String = "concern.summary", value: Any = "text") -> [String: Any] {
        ["seq": seq, "record": "01a2072c-0c4b-76c0-9617-f5ead7f07aee", "path": path, "value": value, "base_rev": 0, "hlc": "0001795000000000-0000-x"]
    }

    @Test("every malformed or unauthorised request is a 4xx with a readable JSON error")
    func badRequests() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let other = try server.addUser("bob")
        let register = try JSONSerialization.data(withJSONObject: ["protocol": 1, "device": Self.device])
        #expect(try await server.request("POST", "v1/register", token: token, body: register).0 == 200)

        let cases: [(String, String, String?, Data?, Int, String)] = [
            ("POST", "v1/push", nil, try push([change(1)]), 401, "bearer token"),
            ("POST", "v1/push", "fld_wrong", try push([change(1)]), 401, "not valid"),
            ("POST", "v1/push", token, Data("{not json".utf8), 400, "not valid JSON"),
            ("POST", "v1/push", token, Data(#"{"protocol":1,"device":"x"}"#.utf8), 400, "missing 'changes'"),
            ("POST", "v1/push", token, try push([change(1)], version: 2), 400, "Protocol version 2"),
            ("POST", "v1/push", token, try push((1...1_001).map { change($0) }), 400, "at most 1000 changes"),
            ("POST", "v1/push", token, Data(repeating: 32, count: SyncProtocol.maximumBody + 10), 413, "larger than"),
            ("POST", "v1/push", other, try push([change(1)]), 403, "not registered to bob"),
            ("POST", "v1/register", other, register, 403, "registered to another user"),
            ("POST", "v1/register", token, try JSONSerialization.data(withJSONObject: ["protocol": 1, "device": "NOT-A-UUID"]), 400, "'NOT-A-UUID'"),
            ("GET", "v1/pull?since=-4", token, nil, 400, "'-4'"),
            ("GET", "v1/pull?since=0&limit=0", token, nil, 400, "'limit'"),
            ("GET", "v1/pull?since=0&limit=999999", token, nil, 400, "'999999'"),
        ]
        for (method, path, bearer, body, status, words) in cases {
            var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
            request.httpMethod = method
            request.httpBody = body
            if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
            let (data, response) = try await URLSession.shared.data(for: request)
            let code = (response as! HTTPURLResponse).statusCode
            #expect(code == status, "\(method) \(path): \(code) \(String(decoding: data, as: UTF8.self))")
            let message = try? JSONDecoder().decode(ErrorBody.self, from: data).error.message
            #expect(message?.contains(words) == true, "\(method) \(path): \(message ?? String(decoding: data, as: UTF8.self))")
        }
        // Nothing was stored by any of them.
        #expect(try await server.database.int("SELECT count(*) FROM change_log") == 0)
    }

    @Test("changes the form does not allow are rejected one by one with a reason, the rest applied")
    func rejectedChanges() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let register = try JSONSerialization.data(withJSONObject: ["protocol": 1, "device": Self.device])
        _ = try await server.request("POST", "v1/register", token: token, body: register)
        let body = try push([
            change(1), change(2, path: "concern.summry"), change(3, path: "children.1.full_name"),
            change(4, path: "children.01a2072c-0c4b-76c0-9617-f5ead7f07aef.date_of_birth", value: "14/03/2019"),
            change(5, path: "@status", value: "acknowledged"), change(6, path: "concern.when", value: "Saturday"),
        ])
        let (status, json) = try await server.request("POST", "v1/push", token: token, body: body)
        #expect(status == 200)
        let outcomes = (json["outcomes"] as! [[String: Any]]).map { ($0["outcome"] as! String, $0["reason"] as? String) }
        #expect(outcomes.map(\.0) == ["applied", "rejected", "rejected", "rejected", "rejected", "applied"])
        #expect(outcomes[1].1?.contains("'concern.summry'") == true)
        #expect(outcomes[3].1?.contains("'14/03/2019'") == true)
        #expect((json["receipt"] as? [String: Any])?["changes"] as? Int == 2)
    }

    @Test("over-limit values get a one-sentence refusal naming the value")
    func limits() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let register = try JSONSerialization.data(withJSONObject: ["protocol": 1, "device": Self.device])
        _ = try await server.request("POST", "v1/register", token: token, body: register)
        // Inside a push: that change is rejected with the reason, the others applied.
        let long = String(repeating: "x", count: FieldType.maximumTextLength + 1)
        let (status, json) = try await server.request("POST", "v1/push", token: token, body: try push([
            change(1, value: long), change(2, path: "concern.summary.a.b"), change(3),
            change(4, path: "concern.notes").merging(["hlc": "0001795000000000-0000-" + String(repeating: "d", count: 100)]) { $1 },
            change(-7, path: "concern.notes"), change(5, path: "concern.notes").merging(["base_rev": -1]) { $1 },
        ]))
        #expect(status == 200)
        let reasons = (json["outcomes"] as! [[String: Any]]).map { $0["reason"] as? String }
        #expect(reasons[0] == "The value of 'concern.summary' has 20001 characters; the most is 20000.")
        #expect(reasons[1] == "The path 'concern.summary.a.b' has 4 parts; a stored path has at most 3.")
        #expect(reasons[2] == nil)
        #expect(reasons[4] == "Change number -7 is not one a device gives (1 or more).")
        #expect(reasons[5] == "Base revision -1 of change 5 is not a revision (0 or more).")
        #expect(reasons[3] == "The clock stamp '0001795000000000-0000-dddddddddddddddddd…' has 122 characters; the most is 80.")

        // Front-door bodies: a 400 naming the length, before any lookup of the id.
        let intake = try server.addUser("ian", role: .intake), admin = try server.addUser("ada", role: .admin)
        let intakeDevice = "01a2072c-0c4b-76c0-9617-f5ead7f07b01", adminDevice = "01a2072c-0c4b-76c0-9617-f5ead7f07b02"
        for (bearer, device) in [(intake, intakeDevice), (admin, adminDevice)] {
            let body = try JSONSerialization.data(withJSONObject: ["protocol": 1, "device": device])
            #expect(try await server.request("POST", "v1/register", token: bearer, body: body).0 == 200)
        }
        let note = try JSONEncoder().encode(DecisionRequest(outcome: "advice-given", note: long))
        let (noteStatus, noteReply, _) = try await server.exchange(
            "POST", "v1/intake/referrals/01a2072c-0c4b-76c0-9617-f5ead7f07aee/decision", token: intake, device: intakeDevice, body: note)
        #expect(noteStatus == 400)
        #expect((noteReply["error"] as? [String: Any])?["message"] as? String == "The feedback note has 20001 characters; the most is 20000.")
        let reason = try JSONEncoder().encode(ResolutionRequest(pick: 1, value: nil, reason: String(repeating: "r", count: 2_001)))
        let (reasonStatus, reasonReply, _) = try await server.exchange(
            "POST", "v1/conflicts/01a2072c-0c4b-76c0-9617-f5ead7f07aee/resolve", token: admin, device: adminDevice, body: reason)
        #expect(reasonStatus == 400)
        #expect((reasonReply["error"] as? [String: Any])?["message"] as? String == "The reason has 2001 characters; the most is 2000.")
    }

    @Test("found by schemathesis: another method on a known path is a 405 with Allow, an unknown path a JSON 404, a wipe report from a device that is not revoked a 409, an unknown conflicts filter a 400")
    func unroutedAndWipe() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let cases: [(String, String, Int, String?, String)] = [
            ("DELETE", "healthz", 405, "GET", "DELETE is not a method of this route; it answers GET."),
            ("PUT", "v1/pull", 405, "GET", "PUT is not a method of this route; it answers GET."),
            ("GET", "v1/intake/referrals/01a2072c-0c4b-76c0-9617-f5ead7f07aee/acknowledge", 405, "POST",
             "GET is not a method of this route; it answers POST."),
            ("GET", "v1/nowhere", 404, nil, "There is no route '/v1/nowhere'."),
        ]
        for (method, path, status, allow, message) in cases {
            // No token: the method is checked before authentication, as for any unrouted request.
            let (code, json, reply) = try await server.exchange(method, path, token: nil)
            #expect(code == status, "\(method) \(path)")
            #expect(reply.value(forHTTPHeaderField: "Allow") == allow, "\(method) \(path)")
            #expect((json["error"] as? [String: Any])?["message"] as? String == message, "\(method) \(path)")
        }
        let register = try JSONSerialization.data(withJSONObject: ["protocol": 1, "device": Self.device])
        #expect(try await server.request("POST", "v1/register", token: token, body: register).0 == 200)
        let (notRevoked, json, _) = try await server.exchange("POST", "v1/devices/wiped", token: token, device: Self.device)
        #expect(notRevoked == 409)
        #expect((json["error"] as? [String: Any])?["message"] as? String == "Device \(Self.device) is not revoked; only a revoked device reports a wipe.")
        #expect(try await server.exchange("POST", "v1/devices/wiped", token: token).0 == 403)
        #expect(try server.chainAudit())
        #expect(try await server.database.rows("SELECT count(*) FROM audit WHERE action = 'wiped'") == [["0"]])
        // A conflicts filter that is neither open nor all is refused, not read as "open".
        let admin = try server.addUser("ada", role: .admin)
        let (filter, refusal, _) = try await server.exchange("GET", "v1/conflicts?status=closed", token: admin)
        #expect(filter == 400)
        #expect((refusal["error"] as? [String: Any])?["message"] as? String == "'status' must be open or all; got 'closed'.")
        #expect(try await server.exchange("GET", "v1/conflicts?status=open", token: admin).0 == 200)
    }

    @Test("health and metrics answer without a token; metrics count what was applied")
    func healthAndMetrics() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let device = try await Device(server: server, token: token)
        defer { device.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        try device.store.set("concern.summary", of: record, to: "Confidential words")
        try await device.sync()
        #expect(try await server.request("GET", "healthz", token: nil).0 == 200)
        let (data, _) = try await URLSession.shared.data(from: server.url.appendingPathComponent("metrics"))
        let metrics = String(decoding: data, as: UTF8.self)
        #expect(metrics.contains("sync_changes_applied_total 3"))
        #expect(metrics.contains("sync_conflicts_total 0"))
        #expect(!metrics.contains("Confidential"))
    }

    @Test("SIGTERM during pushes: the server stops cleanly and no batch is half-applied")
    func gracefulShutdown() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("alice")
        let device = try await Device(server: server, token: token)
        defer { device.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        // Stopped by a flag, not by cancelling: FoundationNetworking traps when
        // a task is cancelled during a request.
        let stop = StopFlag()
        let pushing = Task {
            for round in 0..<2_000 where !stop.isSet {
                try device.store.set("concern.notes", of: record, to: "note \(round)")
                try device.store.set("concern.summary", of: record, to: "summary \(round)")
                _ = try? await device.sync()
            }
        }
        // Let pushes flow, then ask the server to stop.
        while try await server.database.int("SELECT count(*) FROM change_log") ?? 0 < 20 { await Task.yield() }
        server.process!.signal(SIGTERM)
        let termination = server.process!.wait()
        #expect(termination.exited, "\(termination)")
        stop.set()
        _ = await pushing.result
        // Every stored outcome has its change in the log, and each receipt counts exactly what it acknowledged.
        let outcomes = try await server.database.int("SELECT count(*) FROM applied") ?? -1
        let logged = try await server.database.int("SELECT count(*) FROM change_log WHERE seq IS NOT NULL") ?? -2
        let receipted = try await server.database.int("SELECT CAST(coalesce(sum(changes), 0) AS BIGINT) FROM receipts") ?? -3
        #expect(outcomes == logged)
        #expect(outcomes == receipted)
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
