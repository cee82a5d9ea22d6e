import Foundation
import TestSupport
import SyncCore
import Testing

/// The front door through the real binaries: practitioners and intake
/// workers each with their own `field` home, one real `sync-server`. Each
/// test's transcript is compared whole with a golden file.
@Suite("Intake transcripts (golden files, real server)")
struct IntakeTranscriptTests {
    /// A server at noon on Monday 23 November 2026 (devices work in the morning), and its users' homes, logged in.
    struct FrontDoor {
        let server: ServerProcess
        let transcript = Transcript()
        let jane: FieldHome
        let ian: FieldHome
        let janeToken: String

        init() throws {
            server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
            jane = try FieldHome(user: "jane", seed: 42)
            ian = try FieldHome(user: "ian", seed: 43, hour: "2026-11-23T11")
            transcript.mask(server.url.absoluteString, as: "http://127.0.0.1:PORT")
            janeToken = try server.addUser("jane")
            try login(jane, token: janeToken)
            try login(ian, token: try server.addUser("ian", role: .intake))
        }

        func login(_ home: FieldHome, token: String) throws {
            transcript.mask(token, as: "TOKEN")
            try transcript.run(home, "login", "--server", server.url.absoluteString, "--token", token)
        }

        /// Jane drafts, submits and syncs a referral; returns its id.
        func submitted(
            child: String = "Amy Smith", sibling: String? = nil, agency: String = "Worcester Health Visiting Team", kind: String = "social-care",
            immediateRisk: Bool = false
        ) throws -> String {
            let id = try transcript.run(jane, "new", "--kind", kind)
            try transcript.run(jane, "set", id, "referrer.name", "Jane Smith")
            try transcript.run(jane, "set", id, "referrer.agency", agency)
            try transcript.run(jane, "add", id, "children")
            try transcript.run(jane, "set", id, "children.1.full_name", child)
            if let sibling {
                try transcript.run(jane, "add", id, "children")
                try transcript.run(jane, "set", id, "children.2.full_name", sibling)
            }
            try transcript.run(jane, "set", id, "concern.summary", "Bruises on both upper arms")
            if immediateRisk {
                try transcript.run(jane, "set", id, "urgency.immediate_risk", "yes")
                try transcript.run(jane, "set", id, "urgency.call_made", "yes")
            }
            try transcript.run(jane, "submit", id)
            try transcript.run(jane, "sync")
            return id
        }

        /// Moves the server's clock (the devices keep their own).
        func at(_ time: String) throws { try server.setTime("2026-11-23T\(time):00Z") }

        func compare(toGolden name: String) throws {
            if let difference = try transcript.differenceFromGolden(name) { Issue.record(Comment(rawValue: difference)) }
        }
    }

    @Test("a decision is changed only explicitly, with a reason; every decision stays, in intake show and the referrer's status")
    func decisionHistory() async throws {
        let door = try FrontDoor()
        let (t, jane, ian) = (door.transcript, door.jane, door.ian)
        let id = try door.submitted()
        let short = String(id.prefix(13))
        try door.at("13:10")
        try t.run(ian, "intake", "decide", short, "--outcome", "s47-enquiry", "--note", "Strategy meeting today; thank you")
        try door.at("15:45")
        t.note("A second decision without --change is refused, and changes nothing.")
        try t.run(ian, "intake", "decide", short, "--outcome", "advice-given", "--note", "Advice given")
        try t.run(ian, "intake", "decide", short, "--outcome", "advice-given", "--note", "Advice given", "--change")
        try t.run(ian, "intake", "decide", short, "--outcome", "advice-given", "--note", "Advice given", "--reason", "Police checked")
        try t.run(ian, "intake", "decide", short, "--outcome", "early-help-or-other-agency", "--note", "Family support worker allocated",
                  "--change", "--reason", "Police found no injury; the school's account explains the bruises")
        try t.run(ian, "intake", "show", short)
        try door.at("17:30")
        try t.run(jane, "sync")
        try t.run(jane, "status", short)
        try t.run(jane, "status", short, "--json")
        try door.compare(toGolden: "intake-decisions.expected")

        // The server keeps both decisions in the change log, and audits the change.
        let decisions = try await door.server.database.strings(
            "SELECT value FROM change_log WHERE record_id = ? AND path LIKE '@decision.%' ORDER BY revision", [id]).compactMap { $0 }
        #expect(decisions.count == 2)
        #expect(decisions.first?.contains("s47-enquiry") == true)
        #expect(try door.server.chainAudit())
        let actions = try await door.server.database.strings("SELECT action FROM audit WHERE record_id = ? ORDER BY id", [id]).compactMap { $0 }
        #expect(actions.filter { $0 == "decide" }.count == 1)
        #expect(actions.filter { $0 == "change-decision" }.count == 1)

        // The refusal is a 409 whose message says how to change the decision.
        let token = try door.server.addUser("ines", role: .intake)
        let body = try JSONEncoder().encode(DecisionRequest(outcome: "advice-given", note: "Again"))
        let register = try JSONEncoder().encode(RegisterRequest(device: "01a2072c-0000-7000-8000-00000000000a"))
        _ = try await door.server.exchange("POST", "v1/register", token: token, body: register)
        let (status, reply, _) = try await door.server.exchange(
            "POST", "v1/intake/referrals/\(id)/decision", token: token, device: "01a2072c-0000-7000-8000-00000000000a", body: body)
        #expect(status == 409)
        let message = (reply["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("already decided") && message.contains("change: true"), "\(message)")
    }

    @Test("intake sees what changed after its decision: the queue flags it, and intake show gives every candidate of an open conflict on its field")
    func changesAfterDecision() async throws {
        let door = try FrontDoor()
        let (t, jane, ian) = (door.transcript, door.jane, door.ian)
        let phone = try FieldHome(user: "jane", seed: 44, label: "jane-phone")
        try door.login(phone, token: door.janeToken)
        let id = try door.submitted()
        let short = String(id.prefix(13))
        let other = try door.submitted(child: "Kai Brown", agency: "Northside Youth Club")
        try t.run(phone, "sync")
        try door.at("13:10")
        try t.run(ian, "intake", "ack", String(other.prefix(13)))
        try t.run(ian, "intake", "decide", short, "--outcome", "advice-given", "--note", "Advice given to the school")
        try t.run(ian, "intake", "queue")
        t.note("After the decision, both of Jane's devices write a new disclosure to the same field, and the laptop adds a field.")
        try door.at("14:00")
        try t.run(jane, "set", short, "concern.summary", "Amy now says her stepfather hit her")
        try t.run(jane, "set", short, "concern.when", "Sunday night")
        try t.run(phone, "set", short, "concern.summary", "Amy told her teacher: Dad's friend hit her again")
        try t.run(jane, "sync")
        try t.run(phone, "sync")
        try door.at("14:30")
        try t.run(ian, "intake", "queue")
        try t.run(ian, "intake", "queue", "--json")
        try t.run(ian, "intake", "show", short)
        try door.compare(toGolden: "intake-changes.expected")

        let queue = try #require(try JSONSerialization.jsonObject(with: Data(try ian.run(["intake", "queue", "--json"]).output.utf8)) as? [[String: Any]])
        let decided = try #require(queue.first { $0["id"] as? String == id })
        #expect(decided["changed"] as? Bool == true && decided["open_conflicts"] as? Int == 1)
        let untouched = try #require(queue.first { $0["id"] as? String == other })
        #expect(untouched["changed"] as? Bool == false && untouched["open_conflicts"] as? Int == 0)
    }

    @Test("the queue triages: child, agency, immediate risk and LADO shown; immediate risk first, then by deadline; views --open, --overdue, --decided, --all")
    func triage() async throws {
        let door = try FrontDoor()
        let (t, ian) = (door.transcript, door.ian)
        // Monday noon: two referrals; Tuesday morning: one with a child at immediate risk.
        let amy = try door.submitted()
        let sam = try door.submitted(child: "Sam Ali", agency: "Riverside Youth Club", kind: "lado")
        try door.at("13:00")
        try t.run(ian, "intake", "decide", String(amy.prefix(13)), "--outcome", "advice-given", "--note", "Advice given to the school")
        try door.server.setTime("2026-11-24T10:00:00Z")
        let kai = try door.submitted(child: "Kai Brown", sibling: "Mia Brown", agency: "Northside Youth Club", immediateRisk: true)
        try t.run(ian, "intake", "queue")
        try t.run(ian, "intake", "queue", "--decided")
        try t.run(ian, "intake", "queue", "--open")
        try t.run(ian, "intake", "queue", "--all")
        // Wednesday morning: Sam's referral was due by the end of Tuesday.
        try door.server.setTime("2026-11-25T09:00:00Z")
        try t.run(ian, "intake", "queue", "--overdue")
        try t.run(ian, "intake", "queue", "--overdue", "--json")
        try t.run(ian, "intake", "queue", "--open", "--decided")
        try door.compare(toGolden: "intake-queue.expected")

        // The API's views and its refusal of an unknown one.
        let token = try door.server.addUser("ines", role: .intake)
        func ids(_ view: String) async throws -> [String] {
            let (status, _, _) = try await door.server.exchange("GET", "v1/intake/queue?view=\(view)", token: token)
            #expect(status == 200)
            let transport = HTTPTransport(server: door.server.url, token: token)
            let (_, body) = try await transport.get("v1/intake/queue", query: [URLQueryItem(name: "view", value: view)])
            return try JSONDecoder().decode([QueueEntry].self, from: body).map(\.id)
        }
        // Decided referrals come after every undecided one.
        #expect(try await ids("all") == [kai, sam, amy])
        #expect(try await ids("active") == [kai, sam])
        #expect(try await ids("open") == [kai, sam])
        #expect(try await ids("decided") == [amy])
        // Kai's referral (immediate risk, Tuesday 10:00) was due within 4 working hours; Sam's by the end of Tuesday.
        #expect(try await ids("overdue") == [kai, sam])
        let (status, reply, _) = try await door.server.exchange("GET", "v1/intake/queue?view=urgent", token: token)
        #expect(status == 400)
        #expect((reply["error"] as? [String: Any])?["message"] as? String == "'urgent' is not a view of the queue; the views are all, active, open, overdue, decided.")
    }

    @Test("the front door from the record: a reference, search, rating with and without feedback, seen: decision stands, the history")
    func fromTheRecord() async throws {
        let door = try FrontDoor()
        let (t, jane, ian) = (door.transcript, door.jane, door.ian)
        let id = try door.submitted(child: "Zoë O'Brien", immediateRisk: true)
        _ = try door.submitted(child: "Kai Brown", agency: "Northside Youth Club")
        try door.at("12:30")
        t.note("Search: a name folded for case, accents and punctuation, words in any order; an agency; nothing found; nothing to look for.")
        try t.run(ian, "intake", "search", "obrien zoe")
        try t.run(ian, "intake", "search", "northside")
        try t.run(ian, "intake", "search", "nobody")
        try t.run(ian, "intake", "search", "' - '")
        try t.run(ian, "intake", "queue", "--search", "kai")
        t.note("A rating's reason stays with the front door; --feedback sends it to the referrer too.")
        try t.run(ian, "intake", "rate", String(id.prefix(13)), "--rating", "red", "--reason", "Not safe to go home at 15:15")
        try t.run(ian, "intake", "decide", String(id.prefix(13)), "--outcome", "s47-enquiry", "--note", "Strategy discussion today")
        try door.at("13:00")
        try t.run(jane, "sync")
        try t.run(jane, "status", String(id.prefix(13)))
        t.note("New information after the decision; intake sees old and new, and records that the decision stands.")
        try t.run(jane, "set", String(id.prefix(13)), "concern.summary", "Zoë now says her stepfather hit her")
        try t.run(jane, "sync")
        try door.at("13:30")
        try t.run(ian, "intake", "queue")
        try t.run(ian, "intake", "seen", String(id.prefix(13)), "--note", "Covered by the strategy discussion")
        try t.run(ian, "intake", "seen", String(id.prefix(13)), "--note", "Again")
        try t.run(ian, "intake", "rate", String(id.prefix(13)), "--rating", "amber", "--reason", "A relative collects her today", "--feedback")
        try door.at("14:00")
        try t.run(jane, "sync")
        try t.run(jane, "status", String(id.prefix(13)))
        try t.run(ian, "intake", "show", String(id.prefix(13)))
        try t.run(ian, "intake", "history", String(id.prefix(13)))
        try door.compare(toGolden: "intake-record.expected")
    }
}
