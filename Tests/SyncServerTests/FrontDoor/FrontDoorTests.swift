import Foundation
import GRDB
import SyncCore
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Intake and admins on the real server: acknowledgement, decisions,
/// deadlines, conflict resolution and who may call what.
@Suite("Front door: intake and admin")
struct FrontDoorTests {
    @Test("end to end: drafted offline, received, acknowledged, decided; a conflict resolved by an admin")
    func endToEnd() async throws {
        // Monday 23 November 2026, 10:00 in London.
        let server = try ServerProcess(now: "2026-11-23T10:00:00Z")
        let jane = try server.addUser("jane")
        let laptop = try await Device(server: server, token: jane)
        let phone = try await Device(server: server, token: jane)
        let intake = try await Device(server: server, token: try server.addUser("ian", role: .intake))
        let admin = try await Device(server: server, token: try server.addUser("ada", role: .admin))
        defer { [laptop, phone, intake, admin].forEach { $0.remove() } }

        // Drafted offline, then synced: a receipt.
        let record = try laptop.store.createReferral(kind: .socialCare)
        try laptop.store.set("referrer.name", of: record, to: "Jane Smith")
        try laptop.store.set("referrer.agency", of: record, to: "Health visiting")
        try laptop.store.set("concern.summary", of: record, to: "Bruises on both arms")
        _ = try laptop.store.submit(record)
        let first = try await laptop.sync()
        let receipt = try #require(first.receipt)

        // Intake sees it as due, with its receipt, and reads it.
        let queue = try await intake.client.queue()
        #expect(queue.map(\.id) == [record.lowercased])
        let entry = try #require(queue.first)
        #expect(entry.receipt == receipt)
        #expect(entry.acknowledged == false && entry.overdue == false)
        #expect(entry.ackDue == "2026-11-24T23:59:59Z")
        let document = try await intake.client.submittedReferral(record.lowercased)
        #expect(document.fields["concern.summary"] == "Bruises on both arms")
        #expect(document.owner == "jane")

        let ack = try await intake.client.acknowledge(record.lowercased)
        #expect(ack.by == "ian")
        _ = try await intake.client.decide(record.lowercased, outcome: .section47, note: "Strategy discussion today. Thank you.")
        let decided = try #require(try await intake.client.queue().first)
        #expect(decided.acknowledged && decided.outcome == "s47-enquiry")

        // The referrer's next sync brings acknowledgement and outcome.
        try await laptop.sync()
        let status = try #require(try laptop.store.syncStatus(of: record).first)
        #expect(status.frontDoor[IntakePath.acknowledgedBy] == "ian")
        #expect(status.frontDoor[IntakePath.outcome] == "s47-enquiry")
        #expect(status.frontDoor[IntakePath.outcomeNote] == "Strategy discussion today. Thank you.")
        #expect(status.receivedAt != nil)

        // Two devices edit the same field; an admin resolves it with a reason.
        try await phone.sync()
        try laptop.store.set("concern.summary", of: record, to: "Laptop: bruises on both upper arms")
        try phone.store.set("concern.summary", of: record, to: "Phone: bruise on left arm")
        try await laptop.sync()
        #expect(try await phone.sync().conflicts == 1)
        let open = try await admin.client.conflicts()
        #expect(open.count == 1)
        let conflict = try #require(open.first)
        #expect(conflict.question == "What is the cause for concern?")
        #expect(Set(conflict.candidates.map(\.value)) == ["Laptop: bruises on both upper arms", "Phone: bruise on left arm"])
        let merged = "Bruises on both upper arms (laptop); left arm worst (phone)"
        let resolution = try await admin.client.resolve(conflict.id, pick: nil, value: merged, reason: "Both visitors saw bruising; merged")
        #expect(resolution.by == "ada")
        #expect(try await admin.client.conflicts().isEmpty)
        // Found by schemathesis: resolving it again is a 409 (the conflict's state), not a 400.
        let again = try JSONEncoder().encode(ResolutionRequest(pick: 1, value: nil, reason: "Again"))
        let (againStatus, reply, _) = try await server.exchange(
            "POST", "v1/conflicts/\(conflict.id)/resolve", token: try admin.store.login()!.token, device: admin.store.deviceID, body: again)
        #expect(againStatus == 409)
        #expect((reply["error"] as? [String: Any])?["message"] as? String == "Conflict \(conflict.id) is already resolved.")

        for device in [laptop, phone] {
            try await device.sync()
            #expect(try device.value(record, "concern.summary") == merged)
            let settled = try #require(try device.store.syncStatus(of: record).first)
            #expect(settled.conflicts.isEmpty)
            // The practitioner sees who resolved it and why.
            #expect(settled.resolved.map(\.resolution.by) == ["ada"])
            #expect(settled.resolved.first?.resolution.reason == "Both visitors saw bruising; merged")
        }
        // The history keeps every candidate and the decision, who, when and why.
        let resolved = try #require(try await admin.client.conflicts(all: true).first)
        #expect(resolved.status == "resolved" && resolved.resolution?.reason == "Both visitors saw bruising; merged")
        let history = try await server.database.strings(
            "SELECT value FROM change_log WHERE record_id = ? AND path = 'concern.summary' ORDER BY revision", [record.lowercased])
        for value in ["Bruises on both arms", "Laptop: bruises on both upper arms", "Phone: bruise on left arm", merged] {
            #expect(history.contains(value))
        }

        // An edit made on a device that had not seen the resolution is a new conflict, not an overwrite.
        try phone.store.set("concern.summary", of: record, to: "Phone again")
        try laptop.store.set("concern.summary", of: record, to: "Laptop again")
        try await laptop.sync()
        #expect(try await phone.sync().conflicts == 1)
    }

    @Test("deadlines: overdue in the queue, and the referrer told to escalate after three working days")
    func deadlines() async throws {
        // Friday 27 November 2026, 15:00: due by the end of Monday.
        let server = try ServerProcess(now: "2026-11-27T15:00:00Z")
        let device = try await Device(server: server, token: try server.addUser("jane"))
        let intake = try await Device(server: server, token: try server.addUser("ian", role: .intake))
        defer { device.remove(); intake.remove() }
        let record = try device.store.createReferral(kind: .socialCare)
        try device.store.set("referrer.name", of: record, to: "Jane Smith")
        try device.store.set("referrer.role", of: record, to: "Teacher")
        _ = try device.store.submit(record)
        try await device.sync()
        let entry = try #require(try await intake.client.queue().first)
        #expect(entry.ackDue == "2026-11-30T23:59:59Z")
        #expect(!entry.overdue)
        // The server restarted on Tuesday morning: the referral is overdue.
        server.kill()
        server.now = "2026-12-01T08:00:00Z"
        try server.start()
        let later = HTTPTransport(server: server.url, token: try intake.store.login()!.token, device: intake.store.deviceID)
        let (_, body) = try await later.get("v1/intake/queue", query: [])
        #expect(try #require(try JSONDecoder().decode([QueueEntry].self, from: body).first).overdue)
        let referrer = try await Device(reconnecting: device, to: server)
        let frontDoor = try await Device(reconnecting: intake, to: server)

        // The referrer's `field status` on a fixed clock: fine on Wednesday, escalate on Thursday.
        let referrerHome = try FieldHome(
            user: "device-user", seed: nil, clock: .machine, passphrase: Device.passphrase, folder: device.folder, removesFolder: false)
        func status(at now: String) throws -> [String: Any] {
            let (output, _) = try referrerHome.run(["status", record.lowercased, "--json"], now: now)
            return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        }
        // Device files are `field.sqlite` in the device folder, as the CLI expects.
        #expect(try status(at: "2026-12-02T18:00:00Z")["escalate"] is NSNull)
        #expect(try status(at: "2026-12-03T00:30:00Z")["escalate"] as? String == "no acknowledgement after 3 working days: contact the team manager")
        _ = try await frontDoor.client.acknowledge(record.lowercased)
        try await referrer.sync()
        let after = try status(at: "2026-12-10T00:00:00Z")
        #expect(after["escalate"] is NSNull)
        #expect((after["acknowledged"] as? [String: Any])?["by"] as? String == "ian")
    }

    @Test("every route answers each role as the role matrix says; forbidden calls are 403 with a message")
    func roleMatrix() async throws {
        let server = try ServerProcess()
        let tokens = [
            Role.practitioner: try server.addUser("pat"), .intake: try server.addUser("ian", role: .intake),
            .admin: try server.addUser("ada", role: .admin),
        ]
        var devices: [Role: Device] = [:]
        for (role, token) in tokens { devices[role] = try await Device(server: server, token: token) }
        defer { devices.values.forEach { $0.remove() } }
        // A submitted referral, a draft, and an open conflict to act on.
        let practitioner = devices[.practitioner]!
        let submitted = try practitioner.store.createReferral(kind: .socialCare)
        try practitioner.store.set("referrer.name", of: submitted, to: "Pat")
        try practitioner.store.set("referrer.role", of: submitted, to: "Teacher")
        _ = try practitioner.store.submit(submitted)
        let draft = try practitioner.store.createReferral(kind: .earlyHelp)
        try await practitioner.sync()
        let second = try await Device(server: server, token: tokens[.practitioner]!)
        defer { second.remove() }
        try await second.sync()
        try practitioner.store.set("concern.summary", of: submitted, to: "A")
        try second.store.set("concern.summary", of: submitted, to: "B")
        try await practitioner.sync()
        try await second.sync()
        let conflict = try #require(try await devices[.admin]!.client.conflicts().first).id

        let push = try JSONEncoder().encode(PushRequest(device: "", changes: []))
        let decision = try JSONEncoder().encode(DecisionRequest(outcome: "advice-given", note: "Advice given by phone"))
        let resolution = try JSONEncoder().encode(ResolutionRequest(pick: 1, value: nil, reason: "Checked"))
        let s = submitted.lowercased
        let routes: [(String, String, Data?, allowed: Set<Role>)] = [
            ("POST", "v1/register", nil, [.practitioner, .intake, .admin]),
            ("GET", "v1/pull?since=0", nil, [.practitioner, .intake, .admin]),
            ("POST", "v1/push", push, [.practitioner]),
            ("GET", "v1/intake/queue", nil, [.intake]),
            ("GET", "v1/intake/referrals/\(s)", nil, [.intake]),
            ("POST", "v1/intake/referrals/\(s)/acknowledge", Data("{}".utf8), [.intake]),
            ("POST", "v1/intake/referrals/\(s)/decision", decision, [.intake]),
            ("GET", "v1/conflicts", nil, [.admin]),
            ("POST", "v1/conflicts/\(conflict)/resolve", resolution, [.admin]),
            // Past the role guard, an unknown device is a 404.
            ("POST", "v1/devices/01a2072c-0000-7000-8000-000000000000/revoke", Data("{}".utf8), [.admin]),
        ]
        for (method, path, body, allowed) in routes {
            for role in [Role.practitioner, .intake, .admin] {
                var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
                request.httpMethod = method
                var data = body
                if path == "v1/push" { data = try JSONEncoder().encode(PushRequest(device: devices[role]!.store.deviceID, changes: [])) }
                if path == "v1/register" { data = try JSONEncoder().encode(RegisterRequest(device: devices[role]!.store.deviceID)) }
                request.httpBody = data
                request.setValue("Bearer \(tokens[role]!)", forHTTPHeaderField: "Authorization")
                request.setValue(devices[role]!.store.deviceID, forHTTPHeaderField: "Field-Device")
                let (reply, response) = try await URLSession.shared.data(for: request)
                let code = (response as! HTTPURLResponse).statusCode
                if allowed.contains(role) {
                    #expect(code == (path.hasSuffix("/revoke") ? 404 : 200), "\(role) \(method) \(path): \(code) \(String(decoding: reply, as: UTF8.self))")
                } else {
                    #expect(code == 403, "\(role) \(method) \(path): \(code)")
                    let message = try? JSONDecoder().decode(ErrorBody.self, from: reply).error.message
                    #expect(message?.contains(role.rawValue) == true, "\(message ?? "no message")")
                }
            }
        }
        // Intake never sees a draft: not in a pull, and a 404 (not 403) when asked by id.
        let intakeTransport = HTTPTransport(server: server.url, token: tokens[.intake]!, device: devices[.intake]!.store.deviceID)
        let (status, _) = try await intakeTransport.get("v1/intake/referrals/\(draft.lowercased)", query: [])
        #expect(status == 404)
        let (_, pulled) = try await intakeTransport.get("v1/pull", query: [URLQueryItem(name: "since", value: "0")])
        let page = try JSONDecoder().decode(PullResponse.self, from: pulled)
        #expect(!page.changes.contains { $0.record == draft.lowercased })
        #expect(page.changes.contains { $0.record == s })
        // Another practitioner sees none of Pat's referrals.
        let other = try await Device(server: server, token: try server.addUser("olga"))
        defer { other.remove() }
        try await other.sync()
        #expect(try other.store.summaries().isEmpty)
    }

    @Test("no answer tells a user who may not see a referral whether its id exists")
    func noExistenceOracle() async throws {
        let server = try ServerProcess()
        let practitioner = try await Device(server: server, token: try server.addUser("pat"))
        let intake = try await Device(server: server, token: try server.addUser("ian", role: .intake))
        defer { practitioner.remove(); intake.remove() }
        let submitted = try practitioner.store.createReferral(kind: .socialCare)
        try practitioner.store.set("referrer.name", of: submitted, to: "Pat")
        try practitioner.store.set("referrer.role", of: submitted, to: "Teacher")
        _ = try practitioner.store.submit(submitted)
        let draft = try practitioner.store.createReferral(kind: .earlyHelp)
        try practitioner.store.set("concern.summary", of: draft, to: "Not yet sent")
        try await practitioner.sync()
        let never = "01a2072c-0c4b-76c0-9617-f5ead7f07aff"
        let decision = try JSONEncoder().encode(DecisionRequest(outcome: "advice-given", note: "Advice given"))
        let routes: [(String, String, Data?)] = [
            ("GET", "v1/intake/referrals/ID", nil), ("POST", "v1/intake/referrals/ID/acknowledge", nil),
            ("POST", "v1/intake/referrals/ID/decision", decision),
        ]
        let tokens = (intake: try intake.store.login()!.token, practitioner: try practitioner.store.login()!.token)

        func answer(_ method: String, _ path: String, _ id: String, _ body: Data?, token: String, device: String) async throws -> String {
            let (status, json, _) = try await server.exchange(method, path.replacingOccurrences(of: "ID", with: id), token: token, device: device, body: body)
            let message = ((json["error"] as? [String: Any])?["message"] as? String ?? "").replacingOccurrences(of: id, with: "ID")
            return "\(status) \(message)"
        }
        for (method, path, body) in routes {
            // Intake: a draft and an id never seen get the same 404, word for word.
            let forDraft = try await answer(method, path, draft.lowercased, body, token: tokens.intake, device: intake.store.deviceID)
            let forNever = try await answer(method, path, never, body, token: tokens.intake, device: intake.store.deviceID)
            #expect(forDraft.hasPrefix("404 "), "\(method) \(path): \(forDraft)")
            #expect(forDraft == forNever, "\(method) \(path)")
            // A practitioner, even the referral's owner: the same 403 for a submitted, a draft and an unknown id.
            var seen = Set<String>()
            for id in [submitted.lowercased, draft.lowercased, never] {
                seen.insert(try await answer(method, path, id, body, token: tokens.practitioner, device: practitioner.store.deviceID))
            }
            #expect(seen.count == 1 && seen.first!.hasPrefix("403 "), "\(method) \(path): \(seen)")
        }
        // Nothing was acknowledged or decided by those calls.
        #expect(try await server.database.rows("SELECT count(*) FROM change_log WHERE path LIKE '@acknowledged%'") == [["0"]])
    }
}
