import Foundation
import GRDB
import SyncCore
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a push must never do to the server's record, each once found by a
/// review: hostile values that crashed the server, status going backwards,
/// reused change numbers, edits hidden by a resolution, merges undone by a rebase, refused changes blocking a field.
@Suite("Pushes that could harm the record: hostile values, status going back, reused numbers, hidden edits, undone merges, clocks ahead")
struct PushSafetyTests {
    func raw(_ server: ServerProcess, _ path: String, token: String, json: String, device: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
        request.httpMethod = "POST"
        request.httpBody = Data(json.utf8)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let device { request.setValue(device, forHTTPHeaderField: "Field-Device") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    func change(_ seq: Int, _ record: String, _ path: String, _ value: String, hlc: String = "0001795417493958-0000-x") -> String {
        #"{"seq":\#(seq),"record":"\#(record)","path":"\#(path)","value":\#(value),"base_rev":0,"hlc":"\#(hlc)"}"#
    }

    @Test("hostile values are refused per change, and the server stays up")
    func hostileValues() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("pat")
        let device = UUIDv7Generator().next().lowercased
        _ = try await raw(server, "v1/register", token: token, json: #"{"protocol":1,"device":"\#(device)"}"#)
        let record = UUIDv7Generator().next().lowercased
        let item = UUIDv7Generator().next().lowercased
        let changes = [
            change(1, record, "referrer.type", #""-9223372036854775808""#),
            change(2, record, "children.\(item).date_of_birth", #""\u0662\u0660\u0662\u0666-01-01""#),
            change(3, record, "concern.summary", #""far future""#, hlc: "9001795417493958-0000-x"),
            change(4, record, "concern.when", #""counter""#, hlc: "0001795417493958-2147483647-x"),
            change(5, record, "concern.where", #""twice""#), change(5, record, "concern.where", #""twice""#),
            change(6, record, "concern.summary", #""nul \u0000 inside""#),
        ].joined(separator: ",")
        let (status, body) = try await raw(server, "v1/push", token: token, json: #"{"protocol":1,"device":"\#(device)","changes":[\#(changes)]}"#)
        #expect(status == 200, "\(body)")
        let outcomes = try JSONDecoder().decode(PushResponse.self, from: Data(body.utf8)).outcomes.map(\.outcome)
        // A stamp far in the future is not refused: bounded to the server's time, the device's own kept.
        #expect(outcomes == [.rejected, .rejected, .applied, .rejected, .applied, .rejected, .rejected])
        let stamps = try await server.database.rows("SELECT hlc, sent_hlc FROM change_log WHERE path = 'concern.summary'")
        #expect(stamps.count == 1 && stamps.first?[1] == "9001795417493958-0000-x")
        let bounded = try #require(stamps.first?[0].flatMap { HLCStamp($0) })
        #expect(bounded.wall <= Int64(Date().timeIntervalSince1970 * 1000) && bounded.device == "x")
        // A NUL where an id belongs (PostgreSQL text cannot hold one) is a 4xx, not a 500.
        let (nul, _) = try await raw(server, "v1/push", token: token, json: #"{"protocol":1,"device":"a\u0000b","changes":[]}"#)
        #expect((400..<500).contains(nul))
        #expect(try await server.request("GET", "healthz", token: nil).0 == 200)
        #expect(throws: FormError.self) { try FieldType.choice([FieldOption("a", "A")]).normalize("-9223372036854775808", now: Date()) }
        #expect(CalendarDate(parsing: "\u{0662}\u{0660}\u{0662}\u{0666}-01-01") == nil)
    }

    @Test("a device that has not caught up cannot discard or un-submit a submitted referral")
    func statusOnlyMovesForward() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        let laptop = try await Device(server: server, token: token)
        let phone = try await Device(server: server, token: token)
        defer { laptop.remove(); phone.remove() }
        let record = try laptop.store.createReferral(kind: .socialCare)
        try laptop.store.set("referrer.name", of: record, to: "Jane")
        try laptop.store.set("referrer.role", of: record, to: "Nurse")
        try await laptop.sync()
        try await phone.sync()
        _ = try laptop.store.submit(record)
        try await laptop.sync()
        try phone.store.discard(record)
        let summary = try await phone.sync()
        #expect(summary.rejected == 1)
        #expect(try phone.store.referral(record).status == .submitted)  // the pull brought the submission back
        #expect(try await server.database.strings("SELECT status FROM records WHERE id = ?", [record.lowercased]) == ["submitted"])
    }

    @Test("a reused change number is refused, not taken for a retry")
    func reusedSeq() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("pat")
        let device = UUIDv7Generator().next().lowercased
        _ = try await raw(server, "v1/register", token: token, json: #"{"protocol":1,"device":"\#(device)"}"#)
        let record = UUIDv7Generator().next().lowercased
        let first = #"{"protocol":1,"device":"\#(device)","changes":[\#(change(1, record, "concern.summary", #""original""#))]}"#
        let second = #"{"protocol":1,"device":"\#(device)","changes":[\#(change(1, record, "concern.summary", #""after a restore""#))]}"#
        _ = try await raw(server, "v1/push", token: token, json: first)
        let retry = try JSONDecoder().decode(PushResponse.self, from: Data(try await raw(server, "v1/push", token: token, json: first).1.utf8))
        #expect(retry.outcomes[0].outcome == .duplicate)
        let reused = try JSONDecoder().decode(PushResponse.self, from: Data(try await raw(server, "v1/push", token: token, json: second).1.utf8))
        #expect(reused.outcomes[0].outcome == .rejected)
        // Logging in again tells the device where to number from.
        let (_, body) = try await raw(server, "v1/register", token: token, json: #"{"protocol":1,"device":"\#(device)"}"#)
        #expect(try JSONDecoder().decode(RegisterResponse.self, from: Data(body.utf8)).lastSeq == 1)
    }

    @Test("an edit made after seeing an open conflict joins it, so a resolution cannot hide it")
    func editJoinsOpenConflict() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        let a = try await Device(server: server, token: token)
        let b = try await Device(server: server, token: token)
        let admin = try await Device(server: server, token: try server.addUser("ada", role: .admin))
        defer { [a, b, admin].forEach { $0.remove() } }
        let record = try a.store.createReferral(kind: .socialCare)
        try await a.sync()
        try await b.sync()
        try a.store.set("concern.summary", of: record, to: "A")
        try b.store.set("concern.summary", of: record, to: "B")
        try await a.sync()
        try await b.sync()
        try b.store.set("concern.summary", of: record, to: "B2, after seeing the conflict")
        try await b.sync()
        let conflict = try await admin.client.conflicts()[0]
        #expect(conflict.candidates.map(\.value).contains("B2, after seeing the conflict"))
    }

    @Test("a newer edit made while a merged push was in flight does not undo the merge")
    func rebaseOnlyWhenAppliedAsSent() async throws {
        // Pinned, with the devices' clocks half a minute apart just behind it (see SyncTests.TwoDevices).
        let server = try ServerProcess(now: "2026-11-23T10:00:00Z")
        let token = try server.addUser("jane")
        var a: Device!
        final class EditDuringPush: SyncTransport, @unchecked Sendable {
            let inner: any SyncTransport
            var hook: (() throws -> Void)?
            init(_ inner: any SyncTransport) { self.inner = inner }
            func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data) { try await inner.get(path, query: query) }
            func post(_ path: String, bytes: Data, contentType: String, headers: [String]) async throws -> (status: Int, body: Data) {
                try await inner.post(path, bytes: bytes, contentType: contentType, headers: headers)
            }

            func post(_ path: String, body: Data) async throws -> (status: Int, body: Data) {
                let reply = try await inner.post(path, body: body)
                if path == "v1/push", let hook { self.hook = nil; try hook() }
                return reply
            }
        }
        var transport: EditDuringPush!
        a = try await Device(server: server, token: token, clock: SteppingClock(start: Timestamp.date("2026-11-23T09:59:00Z")!, step: 0.001)) { inner in
            transport = EditDuringPush(inner)
            return transport
        }
        let b = try await Device(server: server, token: token, clock: SteppingClock(start: Timestamp.date("2026-11-23T09:59:30Z")!, step: 0.001))
        defer { a.remove(); b.remove() }
        let record = try a.store.createReferral(kind: .socialCare)
        try a.store.set("concern.notes", of: record, to: "Visit 1.")
        try await a.sync()
        try await b.sync()
        try b.store.set("concern.notes", of: record, to: "Visit 1.\nB: school worried.")
        try await b.sync()
        try a.store.set("concern.notes", of: record, to: "Visit 1.\nA: bruise seen.")
        let store = a.store
        transport.hook = {
            // While the push (which the server merges) is in flight, A adds another note.
            let current = try store.referral(record).values["concern.notes"] ?? ""
            try store.set("concern.notes", of: record, to: current + "\nA: follow-up booked.")
        }
        try await a.sync()
        try await a.sync()
        try await b.sync()
        let notes = try b.value(record, "concern.notes") ?? ""
        #expect(notes.contains("B: school worried."), "\(notes)")
        #expect(notes.contains("A: follow-up booked."), "\(notes)")
        #expect(try a.value(record, "concern.notes") == notes)
    }

    @Test("a device whose clock runs days ahead is not refused, and cannot win every later lww race")
    func clockAheadIsBounded() async throws {
        let server = try ServerProcess()
        let token = try server.addUser("jane")
        let laptop = try await Device(server: server, token: token)
        // A phone whose clock runs three days ahead.
        let phone = try await Device(server: server, token: token, clock: SteppingClock(start: Date().addingTimeInterval(3 * 86_400)))
        defer { laptop.remove(); phone.remove() }
        let record = try laptop.store.createReferral(kind: .socialCare)
        try await laptop.sync()
        // The phone learns on its first sync that its clock is off, and says so once.
        let joined = try await phone.sync()
        #expect(joined.clock.map { $0.offsetMilliseconds > 71 * 3_600_000 } == true, "\(String(describing: joined.clock))")
        // referrer.phone is last-writer-wins: the phone's stamp, three days ahead, would beat every later edit.
        try phone.store.set("referrer.phone", of: record, to: "01632 960001")
        let first = try await phone.sync()
        #expect(first.rejected == 0 && first.applied == 1)
        #expect(first.clock == nil, "the offset is told once")
        try laptop.store.set("referrer.phone", of: record, to: "01632 960002")
        try await laptop.sync()
        try await phone.sync()
        #expect(try phone.value(record, "referrer.phone") == "01632 960002")
        #expect(try laptop.value(record, "referrer.phone") == "01632 960002")
        // The phone's next stamps run at the server's time.
        try phone.store.set("referrer.phone", of: record, to: "01632 960003")
        let pending = try #require(try phone.store.pendingChanges().first)
        #expect(pending.hlc.wall < Int64(Date().timeIntervalSince1970 * 1000) + LocalStore.clockTolerance)
    }
}
