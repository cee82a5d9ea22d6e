import Foundation
import TestSupport
import SyncCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The front door works from the record (issue 27), through the real
/// binaries: a practitioner's `field`, a real `sync-server` (SQLite, or
/// PostgreSQL under `SYNC_TEST_BACKEND=postgres`), the intake API and the
/// console over HTTP.
@Suite("The front door works from the record: references, clocks, search, feedback, seen, history")
struct FrontDoorRecordTests {
    /// Monday 23 November 2026, 09:00 in London: the office is open.
    static let monday = "2026-11-23T09:00:00Z"

    struct Door {
        let server: ServerProcess
        let jane: FieldHome
        let janeToken: String
        let intakeToken: String
        let intakeDevice = "01a2072c-0000-7000-8000-0000000000ab"

        init() async throws {
            server = try ServerProcess(clock: FrontDoorRecordTests.monday)
            jane = try FieldHome(user: "jane", seed: 71)
            janeToken = try server.addUser("jane")
            #expect(try jane.run(["login", "--server", server.url.absoluteString, "--token", janeToken]).status == 0)
            intakeToken = try server.addUser("ian", role: .intake)
            let register = try JSONEncoder().encode(RegisterRequest(device: intakeDevice))
            _ = try await server.exchange("POST", "v1/register", token: intakeToken, body: register)
        }

        /// Jane drafts a referral with `values` (after one child named `child`) and submits it; returns its id. Not synced.
        func draft(child: String, _ values: [(String, String)] = [], nhs: String? = nil) throws -> String {
            let id = try jane.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try jane.run(["add", id, "children"]).status == 0)
            #expect(try jane.run(["set", id, "children.1.full_name", child]).status == 0)
            if let nhs { #expect(try jane.run(["set", id, "children.1.nhs_number", nhs]).status == 0) }
            // A professional referral names its referrer and their agency (a later value replaces this one).
            for (path, value) in [("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team")] + values {
                let result = try jane.run(["set", id, path, value])
                #expect(result.status == 0, "set \(path): \(result.output)")
            }
            #expect(try jane.run(["submit", id]).status == 0)
            return id
        }

        func api(_ method: String, _ path: String, _ body: (some Encodable)? = Optional<String>.none) async throws -> (Int, Any?) {
            var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
            request.httpMethod = method
            request.setValue("Bearer \(intakeToken)", forHTTPHeaderField: "Authorization")
            request.setValue(intakeDevice, forHTTPHeaderField: "Field-Device")
            if let body { request.httpBody = try JSONEncoder().encode(body) }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, try? JSONSerialization.jsonObject(with: data))
        }

        func queue(_ query: String = "view=all") async throws -> [QueueEntry] {
            var request = URLRequest(url: URL(string: server.url.absoluteString + "/v1/intake/queue?" + query)!)
            request.setValue("Bearer \(intakeToken)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            #expect((response as! HTTPURLResponse).statusCode == 200, "\(query): \(String(decoding: data, as: UTF8.self))")
            return (try? JSONDecoder().decode([QueueEntry].self, from: data)) ?? []
        }

        func document(_ id: String) async throws -> ReferralDocument {
            var request = URLRequest(url: URL(string: server.url.absoluteString + "/v1/intake/referrals/" + id)!)
            request.setValue("Bearer \(intakeToken)", forHTTPHeaderField: "Authorization")
            let (data, _) = try await URLSession.shared.data(for: request)
            return try JSONDecoder().decode(ReferralDocument.self, from: data)
        }
    }

    @Test("three referrals in one sync: one receipt, three references, stable for life, in field list and status, and given at start to referrals submitted before references existed")
    func references() async throws {
        let door = try await Door()
        let ids = try ["Amy Smith", "Kai Brown", "Mia Green"].map { try door.draft(child: $0) }
        let synced = try door.jane.run(["sync"]).output
        let receipts = Set(synced.matches(of: #/R-[0-9A-Z]{4}-[0-9A-Z]{4}/#).map { String($0.output) })
        #expect(receipts.count == 1, "one push, one receipt: \(synced)")
        #expect(synced.contains("its reference is F-"), "the sync says each referral's reference: \(synced)")

        let queue = try await door.queue()
        let references = Dictionary(uniqueKeysWithValues: queue.map { ($0.id, $0.reference ?? "") })
        #expect(Set(ids.compactMap { references[$0] }).count == 3)
        for id in ids { #expect(references[id]?.wholeMatch(of: #/F-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}/#) != nil) }
        #expect(Set(queue.compactMap(\.receipt)) == receipts, "each entry still names the push's receipt")

        // The device shows each referral's own reference.
        let listed = try JSONSerialization.jsonObject(with: Data(try door.jane.run(["list", "--json"]).output.utf8)) as? [[String: Any]] ?? []
        for row in listed { #expect(row["reference"] as? String == references[row["id"] as? String ?? ""]) }
        let status = try door.jane.run(["status", ids[0]]).output
        #expect(status.contains("reference \(references[ids[0]]!)"), "\(status)")

        // A later change and sync leaves every reference as it was.
        #expect(try door.jane.run(["set", ids[0], "concern.summary", "More detail"]).status == 0)
        _ = try door.jane.run(["sync"])
        #expect(try await door.queue().map { references[$0.id] == $0.reference }.allSatisfy { $0 })
        let stored = try await door.server.database.strings("SELECT value FROM fields WHERE path = '@reference' ORDER BY value")
        #expect(stored.count == 3)

        // A referral submitted before references existed (its @reference gone) is given one when the server starts.
        try await door.server.database.execute("DELETE FROM fields WHERE path = '@reference' AND record_id = '\(ids[1])'")
        door.server.kill()
        try door.server.start()
        let again = try await door.queue()
        let given = try #require(again.first { $0.id == ids[1] }?.reference)
        #expect(given != references[ids[1]] && !Set(references.values).contains(given))
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        let audit = try await door.server.database.strings("SELECT detail FROM audit WHERE action = 'give-references'")
        #expect(audit == ["referrals=1"])
    }

    @Test("clocks by urgency: an immediate-risk referral submitted last is first, due within 4 working hours; a rating needs a reason and restarts the decision clock")
    func clocks() async throws {
        let door = try await Door()
        let early = try door.draft(child: "Sam Ali", [("referrer.agency", "Riverside School")])
        _ = try door.jane.run(["sync"])
        try door.server.setTime("2026-11-23T10:00:00Z")
        let urgent = try door.draft(child: "Amy Smith", [
            ("urgency.immediate_risk", "yes"), ("urgency.child_safe_now", "no"), ("urgency.deadline", "mum collects at 15:15 today"),
        ])
        _ = try door.jane.run(["sync"])
        let queue = try await door.queue("view=active")
        #expect(queue.map(\.id) == [urgent, early], "immediate risk first")
        let first = try #require(queue.first)
        #expect(first.ackDue == "2026-11-23T14:00:00Z" && first.notSafeNow && first.deadline == "mum collects at 15:15 today")
        #expect(queue[1].ackDue == "2026-11-24T23:59:59Z")

        // A rating without a reason changes nothing; with one it restarts the decision clock.
        let (refused, _) = try await door.api("POST", "v1/intake/referrals/\(early)/rating", RatingRequest(rating: "red", reason: "  "))
        #expect(refused == 400)
        try door.server.setTime("2026-11-23T11:00:00Z")
        let (rated, _) = try await door.api("POST", "v1/intake/referrals/\(early)/rating", RatingRequest(rating: "red", reason: "Disclosure at school"))
        #expect(rated == 200)
        #expect(try await door.queue().first { $0.id == early }?.decideDue == "2026-11-23T15:00:00Z")
        try door.server.setTime("2026-11-23T12:00:00Z")
        _ = try await door.api("POST", "v1/intake/referrals/\(early)/rating", RatingRequest(rating: "green", reason: "Police say the adult has left"))
        #expect(try await door.queue().first { $0.id == early }?.decideDue == "2026-11-26T12:00:00Z")

        // Every clock with its rule and source is on the referral.
        let document = try await door.document(urgent)
        #expect(document.clocks.map(\.kind) == [.acknowledge, .decide, .referrerDeadline])
        #expect(document.clocks[0].rule.contains("immediate risk") && document.clocks[0].source.contains("REFERRALS.md"))
        try door.server.setTime("2026-11-23T14:00:01Z")
        #expect(try await door.queue().first { $0.id == urgent }?.overdue == true)
    }

    @Test("search by a child's name (case and accents folded), reference, agency, NHS number however spaced and id prefix; filters by rating and agency; a bad filter is a 400 naming it")
    func search() async throws {
        let door = try await Door()
        let zoe = try door.draft(child: "Zoë O'Brien", [("referrer.agency", "Riverside School")], nhs: "943 476 5919")
        let kai = try door.draft(child: "Kai Brown", [("referrer.agency", "Northside Youth Club"), ("children.1.aliases", "Kye Browne")])
        _ = try door.jane.run(["sync"])
        let reference = try #require(try await door.queue().first { $0.id == kai }?.reference)
        func found(_ text: String) async throws -> [String] {
            try await door.queue("view=all&q=" + text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!).map(\.id)
        }
        #expect(try await found("zoe obrien") == [zoe])
        #expect(try await found("ZOË") == [zoe])
        #expect(try await found("9434765919") == [zoe])
        #expect(try await found("943 476 5919") == [zoe])
        #expect(try await found(reference.lowercased()) == [kai])
        #expect(try await found(String(reference.dropFirst(2)).replacingOccurrences(of: "-", with: " ")) == [kai])
        #expect(try await found("northside") == [kai])
        #expect(try await found("kye") == [kai])
        #expect(try await found(String(kai.prefix(8))) == [kai])
        #expect(try await found("nobody of that name").isEmpty)
        // Words in any order; a reference misheard on the phone (O for 0, I or L for 1), typed any way.
        #expect(try await found("obrien zoe") == [zoe])
        let misheard = reference.replacingOccurrences(of: "0", with: "O").replacingOccurrences(of: "1", with: "l").lowercased()
        #expect(try await found(misheard) == [kai], "\(misheard)")
        #expect(try await found(reference.replacingOccurrences(of: "-", with: "")) == [kai])
        // A search with nothing to look for (punctuation only) is refused, not answered with every referral; an empty one is no search.
        let (nothing, nothingReply) = try await door.api("GET", "v1/intake/queue?q=%27%2D%27")
        #expect(nothing == 400 && "\(nothingReply ?? "")".contains("no letters or digits"))
        _ = try await door.api("POST", "v1/intake/referrals/\(kai)/rating", RatingRequest(rating: "amber", reason: "Some concern"))
        #expect(try await door.queue("view=all&rating=amber").map(\.id) == [kai])
        #expect(try await door.queue("view=all&rating=unrated").map(\.id) == [zoe])
        #expect(try await door.queue("view=all&agency=riverside%20school").map(\.id) == [zoe])
        let (status, reply) = try await door.api("GET", "v1/intake/queue?rating=purple")
        #expect(status == 400)
        #expect(((reply as? [String: Any])?["error"] as? [String: Any])?["message"] as? String == "'purple' is not a RAG rating to filter by; give one of red, amber, green, unrated.")
        // The search text is referral content: the audit entry gives its length only.
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        let details = try await door.server.database.strings("SELECT detail FROM audit WHERE action = 'read-queue'").compactMap { $0 }
        #expect(details.contains { $0.contains("search=") } && !details.contains { $0.contains("obrien") || $0.contains("Kye") })
    }

    @Test("the rating's reason stays with the front door unless sent as feedback; the referrer's status labels feedback as such")
    func ratingFeedback() async throws {
        let door = try await Door()
        let id = try door.draft(child: "Amy Smith")
        _ = try door.jane.run(["sync"])
        _ = try await door.api("POST", "v1/intake/referrals/\(id)/rating", RatingRequest(rating: "red", reason: "Child not safe to go home at 15:15"))
        _ = try door.jane.run(["sync"])
        let status = try door.jane.run(["status", id]).output
        #expect(status.contains("RAG rating: Red: serious concern") && !status.contains("15:15"), "\(status)")
        let history = try door.jane.run(["history", id]).output
        #expect(!history.contains("15:15") && !history.contains("@rating_reason"), "the device never received the reason: \(history)")

        try door.server.setTime("2026-11-23T10:00:00Z")
        _ = try await door.api(
            "POST", "v1/intake/referrals/\(id)/rating", RatingRequest(rating: "amber", reason: "A relative will collect Amy today", feedback: true))
        _ = try door.jane.run(["sync"])
        let shared = try door.jane.run(["status", id]).output
        #expect(shared.contains("the front door's feedback on the rating: A relative will collect Amy today"), "\(shared)")
        // A later rating without feedback takes the shared reason back off the device.
        try door.server.setTime("2026-11-23T11:00:00Z")
        _ = try await door.api("POST", "v1/intake/referrals/\(id)/rating", RatingRequest(rating: "green", reason: "Internal note only"))
        _ = try door.jane.run(["sync"])
        let after = try door.jane.run(["status", id]).output
        #expect(!after.contains("feedback on the rating") && !after.contains("Internal note"), "\(after)")
    }

    @Test("new information after a decision: CHANGED shows old and new values; seen: decision stands clears it, audited, and tells the referrer; the history has everything in order")
    func seenAndHistory() async throws {
        let door = try await Door()
        let id = try door.draft(child: "Amy Smith", [("concern.summary", "Bruises on both arms")])
        _ = try door.jane.run(["sync"])
        let (seenEarly, _) = try await door.api("POST", "v1/intake/referrals/\(id)/seen", SeenRequest(note: "Nothing yet"))
        #expect(seenEarly == 409, "nothing acknowledged, nothing to see")
        _ = try await door.api("POST", "v1/intake/referrals/\(id)/decision", DecisionRequest(outcome: "advice-given", note: "Advice given"))
        let (seenUnchanged, _) = try await door.api("POST", "v1/intake/referrals/\(id)/seen", SeenRequest(note: "Nothing new"))
        #expect(seenUnchanged == 409, "nothing changed since the decision: nothing to mark seen")
        try door.server.setTime("2026-11-23T10:00:00Z")
        #expect(try door.jane.run(["set", id, "concern.summary", "Amy now says her stepfather hit her"]).status == 0)
        _ = try door.jane.run(["sync"])
        let document = try await door.document(id)
        let change = try #require(document.changes.first { $0.path == "concern.summary" })
        #expect(change.previous == "Bruises on both arms" && change.value == "Amy now says her stepfather hit her")
        #expect(try await door.queue().first { $0.id == id }?.changed == true)

        let (blank, _) = try await door.api("POST", "v1/intake/referrals/\(id)/seen", SeenRequest(note: " "))
        #expect(blank == 400)
        try door.server.setTime("2026-11-23T11:00:00Z")
        let (seen, _) = try await door.api("POST", "v1/intake/referrals/\(id)/seen", SeenRequest(note: "Covered by the advice given"))
        #expect(seen == 200)
        #expect(try await door.queue().first { $0.id == id }?.changed == false)
        #expect(try await door.queue("view=active").isEmpty, "decided, seen, nothing new: off the default view")
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        let actions = try await door.server.database.strings("SELECT action FROM audit WHERE record_id = ? ORDER BY id", [id]).compactMap { $0 }
        #expect(actions.contains("seen-decision-stands"))
        let news = try door.jane.run(["sync"]).output
        #expect(news.contains("the front door saw the changes it had by 2026-11-23T11:00:00Z; its decision stood then"), "\(news)")
        #expect(!(try door.jane.run(["history", id]).output.contains("Covered by the advice")), "the note is internal")

        // The history: every value, acknowledgement, decision and seen note, in order, with who and which device.
        let (status, body) = try await door.api("GET", "v1/intake/referrals/\(id)/history")
        #expect(status == 200)
        let entries = try JSONDecoder().decode([ReferralHistoryEntry].self, from: try JSONSerialization.data(withJSONObject: body ?? []))
        #expect(entries.map(\.revision) == entries.map(\.revision).sorted())
        let paths = entries.map(\.path)
        for path in ["concern.summary", "@reference", "@acknowledged_at", "@decision.1", "@outcome", "@seen_at", "@seen_note"] {
            #expect(paths.contains(path), "no \(path) in the history")
        }
        #expect(entries.filter { $0.path == "concern.summary" }.map(\.value) == ["Bruises on both arms", "Amy now says her stepfather hit her"])
        #expect(entries.first { $0.path == "@seen_note" }?.device == door.intakeDevice)
        #expect(entries.filter { !$0.reachesReferrer }.map(\.path).sorted() == ["@seen_note"], "only the internal note is marked internal here")
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        #expect(try await door.server.database.strings("SELECT action FROM audit WHERE action = 'read-history'").count == 1)
        let (draftStatus, _) = try await door.api("GET", "v1/intake/referrals/01a2072c-0000-7000-8000-00000000dead/history")
        #expect(draftStatus == 404)
    }

    @Test("the console: the queue downloads as CSV (audited), the history page and its CSV, the search form")
    func consoleDownloads() async throws {
        let door = try await Door()
        let id = try door.draft(child: "=HYPERLINK(\"http://evil\")", [("referrer.agency", "Riverside School")])
        _ = try door.jane.run(["sync"])
        let (status, output) = try door.server.command(["user", "set-password", "ian"], input: "ian's console password\n")
        #expect(status == 0, "\(output)")
        let console = ConsoleBoundaryTests.Client(door.server.url)
        _ = try await console.signIn("ian", "ian's console password")
        let csv = try await console.send("GET", "/console/queue.csv?view=all")
        #expect(csv.status == 200 && csv.headers["Content-Type"]?.hasPrefix("text/csv") == true)
        let lines = csv.body.split(separator: "\r\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("reference,id,kind,child"))
        #expect(lines[1].contains("\"'=HYPERLINK"), "a formula is neutralised: \(lines[1])")
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        #expect(try await door.server.database.strings("SELECT detail FROM audit WHERE action = 'download-queue'").count == 1)

        let found = try await console.send("GET", "/console/queue?view=all&q=riverside")
        #expect(found.status == 200 && found.body.contains("/console/referrals/\(id)"))
        let missed = try await console.send("GET", "/console/queue?view=all&q=northside")
        #expect(missed.status == 200 && !missed.body.contains("/console/referrals/\(id)"))
        let bad = try await console.send("GET", "/console/queue?view=urgent")
        #expect(bad.status == 400 && bad.body.contains("urgent") && bad.body.contains("is not a view of the queue"))

        let history = try await console.send("GET", "/console/referrals/\(id)/history")
        #expect(history.status == 200 && history.body.contains("History of referral F-"))
        let historyCSV = try await console.send("GET", "/console/referrals/\(id)/history.csv")
        #expect(historyCSV.status == 200 && historyCSV.body.contains("@reference"))
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        let actions = try await door.server.database.strings("SELECT action FROM audit WHERE record_id = ? ORDER BY id", [id]).compactMap { $0 }
        #expect(actions.contains("read-history") && actions.contains("download-history"))
    }

    @Test("an intake laptop that missed form version 2 fetches it and shows every answer: a disclosure in version 2's new question is never hidden")
    func missedFormVersion() async throws {
        let door = try await Door()
        let ian = try FieldHome(user: "ian", seed: 72)
        let token = try door.server.addUser("ines", role: .intake)
        #expect(try ian.run(["login", "--server", door.server.url.absoluteString, "--token", token]).status == 0)

        // Version 2 asks, in the concern section, what the child said in their own words.
        let file = try door.server.formWithChildWords()
        let (published, output) = try door.server.command(["form", "publish", file])
        #expect(published == 0, "\(output)")

        // Jane's device takes version 2; her referral answers only the new question in the concern section.
        _ = try door.jane.run(["sync"])
        let id = try door.draft(child: "Amy Smith", [("concern.child_words", "He hit me with a belt")])
        _ = try door.jane.run(["sync"])

        // Ian's laptop has not synced since: intake show fetches version 2 and shows the answer with its question.
        let read = try ian.run(["intake", "show", String(id.prefix(13))])
        #expect(read.status == 0, "\(read.output)")
        #expect(read.output.contains("concern.child_words: He hit me with a belt"), "\(read.output)")
        let section = read.output.components(separatedBy: "\nConcern\n").dropFirst().first ?? ""
        #expect(!section.hasPrefix("  (nothing answered yet)"), "the concern section says nothing was answered: \(read.output)")
        #expect(!read.output.contains("Immediate risk: phone first"), "the referrer's reminders are not intake's")

        // The reference however it is typed: lower case, spaced, without its hyphens.
        let reference = try #require(try await door.queue().first { $0.id == id }?.reference)
        let typed = reference.lowercased().replacingOccurrences(of: "-", with: " ")
        let byReference = try ian.run(["intake", "show", typed])
        #expect(byReference.status == 0 && byReference.output.contains("Referral \(reference)"), "\(byReference.output)")
        let empty = try ian.run(["intake", "search", "  "])
        #expect(empty.status != 0 && empty.output.contains("Give something to find"), "\(empty.output)")

        // A third laptop whose network drops every request for a form version:
        // it cannot fetch version 2, says so, and shows the answer under its path.
        let proxy = try FaultProxy(to: door.server)
        proxy.setRule { $0.path.hasPrefix("v1/forms") ? .closeConnection : .none }
        let offline = try FieldHome(user: "olu", seed: 73)
        let olusToken = try door.server.addUser("olu", role: .intake)
        #expect(try offline.run(["login", "--server", proxy.url.absoluteString, "--token", olusToken]).status == 0)
        let unfetched = try offline.run(["intake", "show", String(id.prefix(13))])
        #expect(unfetched.status == 0, "\(unfetched.output)")
        #expect(unfetched.output.contains("form version 2 could not be fetched"), "\(unfetched.output)")
        #expect(unfetched.output.contains("Answers to questions this device's form versions do not know (written on form version 2), by path"), "\(unfetched.output)")
        #expect(unfetched.output.contains("  concern.child_words: He hit me with a belt"), "the disclosure is shown by its path: \(unfetched.output)")
    }

    @Test("the history names a conflict's candidates and its resolution, with the admin's reason; candidates are not sent to the referrer")
    func conflictInHistory() async throws {
        let door = try await Door()
        let id = try door.draft(child: "Amy Smith", [("concern.summary", "Bruises on both arms")])
        _ = try door.jane.run(["sync"])
        // Jane's second device edits the summary from the same revision as her first: a conflict.
        let laptop = try FieldHome(user: "jane", seed: 74)
        #expect(try laptop.run(["login", "--server", door.server.url.absoluteString, "--token", door.janeToken]).status == 0)
        _ = try laptop.run(["sync"])
        #expect(try door.jane.run(["set", id, "concern.summary", "Bruises on both arms and a burn"]).status == 0)
        #expect(try laptop.run(["set", id, "concern.summary", "Bruises on both arms; Amy is scared of going home"]).status == 0)
        _ = try door.jane.run(["sync"])
        _ = try laptop.run(["sync"])
        let conflict = try #require(try await door.server.database.strings("SELECT id FROM conflicts WHERE record_id = ?", [id]).first ?? nil)

        let adminToken = try door.server.addUser("ada", role: .admin)
        let adminDevice = "01a2072c-0000-7000-8000-0000000000ad"
        _ = try await door.server.exchange("POST", "v1/register", token: adminToken, body: try JSONEncoder().encode(RegisterRequest(device: adminDevice)))
        var request = URLRequest(url: URL(string: door.server.url.absoluteString + "/v1/conflicts/\(conflict)/resolve")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization")
        request.setValue(adminDevice, forHTTPHeaderField: "Field-Device")
        request.httpBody = try JSONEncoder().encode(ResolutionRequest(
            pick: nil, value: "Bruises on both arms and a burn; Amy is scared of going home", reason: "Both are true: the visit notes say so"))
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as! HTTPURLResponse).statusCode == 200, "\(String(decoding: data, as: UTF8.self))")

        let (status, body) = try await door.api("GET", "v1/intake/referrals/\(id)/history")
        #expect(status == 200)
        let entries = try JSONDecoder().decode([ReferralHistoryEntry].self, from: try JSONSerialization.data(withJSONObject: body ?? []))
        let summary = entries.filter { $0.path == "concern.summary" }
        // The first of the two writes was applied; the second, from the same base revision, is the conflict's candidate.
        let candidates = summary.filter { $0.kind == "candidate" }
        #expect(summary.contains { $0.kind == "write" && $0.value == "Bruises on both arms and a burn" }, "\(summary)")
        #expect(candidates.map(\.value) == ["Bruises on both arms; Amy is scared of going home"], "\(summary)")
        let resolution = try #require(summary.first { $0.kind == "resolution" }, "no resolution in the history: \(summary)")
        #expect(resolution.value == "Bruises on both arms and a burn; Amy is scared of going home")
        #expect(resolution.reason?.contains("Both are true") == true, "the admin's reason: \(resolution)")
        #expect(resolution.by == "ada")
        #expect(resolution.conflict == conflict && candidates.allSatisfy { $0.conflict == conflict })
        // Candidates are the front door's to weigh; the settled value is the referral's, and reaches the referrer.
        #expect(candidates.allSatisfy { !$0.reachesReferrer } && resolution.reachesReferrer)
    }
}
