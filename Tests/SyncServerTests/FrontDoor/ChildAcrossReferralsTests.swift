import Foundation
import TestSupport
import SyncCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A child's earlier referrals, joined (issue 28), through the real
/// binaries: practitioners of three agencies refer with `field`, a real
/// `sync-server` (SQLite, or PostgreSQL under `SYNC_TEST_BACKEND=postgres`)
/// indexes their children and households, and intake reads and decides
/// matches through the API and `field intake`.
@Suite("A child across referrals: the person index, matches with reasons, household links, decisions, privacy")
struct ChildAcrossReferralsTests {
    struct Child {
        var name: String
        var born: String? = nil
        var nhs: String? = nil
        var aliases: String? = nil
    }

    struct FrontDoor {
        let server: ServerProcess
        let school: FieldHome
        let health: FieldHome
        let police: FieldHome
        let intakeToken: String
        let intake: FieldHome
        let intakeDevice = "01a2072c-0000-7000-8000-0000000000cd"

        init() async throws {
            server = try ServerProcess(clock: "2026-11-23T09:00:00Z")
            school = try FieldHome(user: "sam", seed: 81)
            health = try FieldHome(user: "hana", seed: 82)
            police = try FieldHome(user: "pete", seed: 83)
            for home in [school, health, police] {
                let token = try server.addUser(home.user)
                #expect(try home.run(["login", "--server", server.url.absoluteString, "--token", token]).status == 0)
            }
            intakeToken = try server.addUser("ian", role: .intake)
            intake = try FieldHome(user: "ian", seed: 84)
            #expect(try intake.run(["login", "--server", server.url.absoluteString, "--token", intakeToken]).status == 0)
            let register = try JSONEncoder().encode(RegisterRequest(device: intakeDevice))
            _ = try await server.exchange("POST", "v1/register", token: intakeToken, body: register)
        }

        /// `home` refers `children` (and household `members`) at `address` as `agency`, submits and syncs; returns the referral's id.
        @discardableResult
        func refer(
            _ home: FieldHome, agency: String, _ children: [Child], address: String? = nil, members: [(String, String)] = [], summary: String = "Concern"
        ) throws -> String {
            let id = try home.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            var values: [(String, String)] = [("referrer.name", "A Practitioner"), ("referrer.agency", agency), ("concern.summary", summary)]
            for (index, child) in children.enumerated() {
                #expect(try home.run(["add", id, "children"]).status == 0)
                values.append(("children.\(index + 1).full_name", child.name))
                if let born = child.born { values.append(("children.\(index + 1).date_of_birth", born)) }
                if let nhs = child.nhs { values.append(("children.\(index + 1).nhs_number", nhs)) }
                if let aliases = child.aliases { values.append(("children.\(index + 1).aliases", aliases)) }
            }
            for (index, member) in members.enumerated() {
                #expect(try home.run(["add", id, "household_members"]).status == 0)
                values += [("household_members.\(index + 1).name", member.0), ("household_members.\(index + 1).date_of_birth", member.1)]
            }
            if let address { values.append(("household.address", address)) }
            for (path, value) in values {
                let result = try home.run(["set", id, path, value])
                #expect(result.status == 0, "set \(path): \(result.output)")
            }
            #expect(try home.run(["submit", id]).status == 0)
            let synced = try home.run(["sync"])
            #expect(synced.status == 0, "\(synced.output)")
            return id
        }

        func request(_ method: String, _ path: String, token: String? = nil, body: Data? = nil) async throws -> (Int, Data) {
            var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
            request.httpMethod = method
            request.setValue("Bearer \(token ?? intakeToken)", forHTTPHeaderField: "Authorization")
            request.setValue(intakeDevice, forHTTPHeaderField: "Field-Device")
            request.httpBody = body
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, data)
        }

        func related(_ id: String) async throws -> RelatedReferrals {
            let (status, data) = try await request("GET", "v1/intake/referrals/\(id)/related")
            #expect(status == 200, "\(String(decoding: data, as: UTF8.self))")
            return try JSONDecoder().decode(RelatedReferrals.self, from: data)
        }

        func decide(_ person: String, _ other: String, _ decision: String, reason: String = "Checked with the school") async throws -> (Int, String) {
            let body = try JSONEncoder().encode(MatchDecisionRequest(person: person, other: other, decision: decision, reason: reason))
            let (status, data) = try await request("POST", "v1/intake/matches", body: body)
            return (status, String(decoding: data, as: UTF8.self))
        }

        func queue() async throws -> [QueueEntry] {
            let (_, data) = try await request("GET", "v1/intake/queue?view=all")
            return try JSONDecoder().decode([QueueEntry].self, from: data)
        }

        func rate(_ id: String, _ rating: String) async throws {
            let body = try JSONEncoder().encode(RatingRequest(rating: rating, reason: "Lower-level concern", feedback: nil))
            let (status, data) = try await request("POST", "v1/intake/referrals/\(id)/rating", body: body)
            #expect(status == 200, "\(String(decoding: data, as: UTF8.self))")
        }
    }

    static let home = "12 Acacia Road, Leeds LS1 1AA"

    @Test("three agencies refer one child (no NHS number, a typo, a swapped date): the same NHS number joins two, intake confirms the third, the chronology and the queue say 3 referrals from 3 agencies, and green ratings add up")
    func sameChildAcrossAgencies() async throws {
        let door = try await FrontDoor()
        let bySchool = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Zoe Smith", born: "2016-03-07")], address: Self.home,
                                      summary: "Arrives hungry most days")
        let byHealth = try door.refer(door.health, agency: "Health visiting", [Child(name: "Zoe Smtih", born: "2016-07-03", nhs: "943 476 5919")],
                                      address: Self.home, summary: "Missed appointments")
        let byPolice = try door.refer(door.police, agency: "Police", [Child(name: "Zoë Smith", born: "2016-03-07", nhs: "9434765919")],
                                      address: "Flat 2, 40 Mill Lane, Leeds LS9 8QQ", summary: "Domestic incident attended")
        let unrelated = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Amy Jones", born: "2015-05-05")])

        // The same NHS number: the same child, without anyone deciding.
        var related = try await door.related(byPolice)
        let zoe = try #require(related.children.first)
        #expect(zoe.name == "Zoë Smith" && zoe.person.hasPrefix(byPolice + "/children."))
        let health = try #require(zoe.matches.first { $0.referral.id == byHealth })
        #expect(health.kind == .sameNHSNumber && health.reasons == ["same NHS number"])
        // The school's referral (no NHS number) is a possible match, with its reasons; not yet in the chronology.
        let school = try #require(zoe.matches.first { $0.referral.id == bySchool })
        #expect(school.kind == .possible && school.reasons.contains("same name") && school.reasons.contains("same date of birth"), "\(school)")
        #expect(Set(zoe.chronology.map(\.id)) == [byHealth, byPolice])
        #expect(related.recent.referrals == 2 && related.recent.agencies == 2 && related.recent.possible == 1)
        #expect(!zoe.matches.contains { $0.referral.id == unrelated })
        #expect(related.known.map(\.id) == [byHealth] && related.known[0].agency == "Health visiting" && related.known[0].summary == "Missed appointments")

        // Intake confirms it through the CLI: the chronologies join, and the queue flags the child.
        let confirmed = try door.intake.run(["intake", "match", "confirm", zoe.person, school.person, "--reason", "Same school, same birthday; checked"])
        #expect(confirmed.status == 0 && confirmed.output.contains("confirmed as the same child"), "\(confirmed.output)")
        related = try await door.related(byPolice)
        #expect(Set(related.children[0].chronology.map(\.id)) == [bySchool, byHealth, byPolice])
        #expect(related.children[0].chronology.map(\.submittedAt) == related.children[0].chronology.map(\.submittedAt).sorted(), "oldest first")
        #expect(related.recent.flag == "3 referrals in 12 months from 3 agencies")
        #expect(related.children[0].matches.first { $0.referral.id == bySchool }?.kind == .confirmed)
        let fromSchool = try await door.related(bySchool)
        #expect(Set(fromSchool.children[0].chronology.map(\.id)) == [bySchool, byHealth, byPolice], "followed from one referral to the next")
        var queue = try await door.queue()
        #expect(queue.first { $0.id == byPolice }?.knownReferrals == "3 referrals in 12 months from 3 agencies")
        #expect(queue.first { $0.id == unrelated }?.knownReferrals == nil)

        // Three green ratings in 12 months: the accumulation rule flags it.
        #expect(queue.first { $0.id == byPolice }?.accumulation == nil)
        for id in [bySchool, byHealth, byPolice] { try await door.rate(id, "green") }
        queue = try await door.queue()
        let flag = try #require(queue.first { $0.id == byPolice }?.accumulation)
        #expect(flag.contains("3 referrals in 12 months rated green"), "\(flag)")
        #expect(try await door.related(byHealth).accumulation == flag)

        // The CLI prints the chronology and the flag.
        let printed = try door.intake.run(["intake", "related", byPolice])
        #expect(printed.status == 0 && printed.output.contains("3 referrals in 12 months from 3 agencies") && printed.output.contains("Concerns adding up"))
        #expect(printed.output.contains("SAME CHILD (same NHS number)") && printed.output.contains("confirmed by ian"), "\(printed.output)")

        let listed = try door.intake.run(["intake", "queue", "--all"]).output
        #expect(listed.contains("KNOWN(3)") && listed.contains("ADDING-UP"), "\(listed)")

        // Undo: the school's referral leaves the chronology again, and is suggested again.
        let (undone, body) = try await door.decide(zoe.person, school.person, "undo", reason: "Confirmed in error")
        #expect(undone == 200 && body.contains("\"previous\":\"confirmed\""), "\(body)")
        related = try await door.related(byPolice)
        #expect(Set(related.children[0].chronology.map(\.id)) == [byHealth, byPolice])
        #expect(related.children[0].matches.first { $0.referral.id == bySchool }?.kind == .possible)

        // Every reading and decision is on the record, on both referrals.
        #expect(try door.server.chainAudit(), "the audit trail is chained (PostgreSQL chains just after commit)")
        let audit = try await door.server.database.rows("SELECT action, record_id, detail FROM audit ORDER BY id")
        #expect(audit.contains { $0[0] == "read-related" && $0[1] == byPolice })
        for action in ["confirm-match", "undo-match"] {
            #expect(Set(audit.filter { $0[0] == action }.compactMap { $0[1] }) == [byPolice, bySchool], "\(action)")
        }
        #expect(!audit.contains { ($0[2] ?? "").contains("Zoe") || ($0[2] ?? "").contains("Smith") }, "names never in the audit")
    }

    @Test("a sibling is joined by the shared address and a household member named in one referral who is the child of another; twins are not the same child")
    func household() async throws {
        let door = try await FrontDoor()
        let zoe = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Zoe Smith", born: "2016-03-07")], address: Self.home,
                                 members: [("Tom Reed", "2009-05-01")])
        let oliver = try door.refer(door.health, agency: "Health visiting", [Child(name: "Oliver Smith", born: "2014-01-02")], address: "12 acacia rd, LS11AA")
        let tom = try door.refer(door.police, agency: "Police", [Child(name: "Tom Reed", born: "2009-05-01")], address: "9 Far Away, York YO1 7HH")
        let twin = try door.refer(door.police, agency: "Police", [Child(name: "Zara Smith", born: "2016-03-07")], address: Self.home)

        let related = try await door.related(oliver)
        #expect(related.children[0].matches.isEmpty, "a sibling is not the same child")
        let sibling = try #require(related.household.first { $0.referral.id == zoe })
        #expect(sibling.reasons.contains("same address"))
        #expect(Set(related.known.map(\.id)) == [zoe, twin])

        let fromTom = try await door.related(tom)
        let member = try #require(fromTom.household.first { $0.referral.id == zoe })
        #expect(member.reasons.contains { $0.hasPrefix("Tom Reed (a child here) is a household member there") }, "\(member.reasons)")

        let fromTwin = try await door.related(twin)
        #expect(!fromTwin.children[0].matches.contains { $0.referral.id == zoe }, "twins: same surname, home and birthday, another name")
        #expect(fromTwin.household.contains { $0.referral.id == zoe })

        // The index is derived: emptied (as in a store from before it existed), the next start rebuilds it.
        let indexed = try await door.server.database.int("SELECT count(*) FROM people")
        #expect(indexed == 5, "4 children and a household member")
        door.server.stop()
        try await door.server.database.execute("DELETE FROM people")
        try door.server.start()
        #expect(try await door.server.database.int("SELECT count(*) FROM people") == indexed)
        #expect(try await door.related(oliver).household.contains { $0.referral.id == zoe })
    }

    @Test("a rejected match stays rejected after a correction re-indexes the referral and after another referral arrives; a correction that changes the date of birth drops a suggestion")
    func rejectedStaysRejected() async throws {
        let door = try await FrontDoor()
        let first = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Kai Brown", born: "2017-04-12")], address: Self.home)
        let second = try door.refer(door.health, agency: "Health visiting", [Child(name: "Kai Browne", born: "2017-04-12")])
        var related = try await door.related(second)
        let suggestion = try #require(related.children[0].matches.first { $0.referral.id == first })
        #expect(suggestion.kind == .possible && suggestion.reasons.contains { $0.contains("typing slip") })

        let (status, body) = try await door.decide(related.children[0].person, suggestion.person, "reject", reason: "Different school year; spoke to the HV")
        #expect(status == 200 && body.contains("\"decision\":\"rejected\""), "\(body)")
        // Deciding again without undoing is refused with a sentence.
        let (again, refusal) = try await door.decide(related.children[0].person, suggestion.person, "confirm")
        #expect(again == 409 && refusal.contains("already rejected by ian"), "\(refusal)")

        // The health visitor corrects the address (re-indexed) and a third referral about Kai arrives.
        #expect(try door.health.run(["set", second, "household.address", "3 New Street, Leeds LS2 2BB"]).status == 0)
        #expect(try door.health.run(["sync"]).status == 0)
        let third = try door.refer(door.police, agency: "Police", [Child(name: "Kai Brown", born: "2017-04-12")])
        related = try await door.related(second)
        let rejected = related.children[0].matches.filter { $0.referral.id == first }
        #expect(rejected.count == 1 && rejected[0].kind == .rejected && rejected[0].decisionReason == "Different school year; spoke to the HV")
        #expect(related.children[0].matches.contains { $0.referral.id == third && $0.kind == .possible })
        #expect(related.recent.possible == 1, "a rejected pair is not counted")

        // The school corrects Kai's date of birth: the third referral is no longer suggested for it.
        #expect(try await door.related(first).children[0].matches.contains { $0.referral.id == third })
        #expect(try await door.queue().first { $0.id == first }?.possibleMatches == 1)
        #expect(try door.school.run(["set", first, "children.1.date_of_birth", "2012-10-30"]).status == 0)
        #expect(try door.school.run(["sync"]).status == 0)
        #expect(try await !door.related(first).children[0].matches.contains { $0.referral.id == third })
        // The queue's in-memory index forgot the matches the correction touched, on both sides.
        let queue = try await door.queue()
        #expect(queue.first { $0.id == first }?.possibleMatches == 0 && queue.first { $0.id == third }?.possibleMatches == 1, "\(queue.map { ($0.id, $0.possibleMatches) })")
    }

    @Test("the FHIR export gives one Patient to a child with the same NHS number in two referrals, and links a confirmed match both ways")
    func fhirPatients() async throws {
        let door = try await FrontDoor()
        let first = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Ella Ward", born: "2015-09-01", nhs: "943 476 5919")])
        let second = try door.refer(door.health, agency: "Health visiting", [Child(name: "Ella Ward", born: "2015-09-01", nhs: "9434765919")])
        let third = try door.refer(door.police, agency: "Police", [Child(name: "Ella Warde", born: "2015-09-01")])
        let related = try await door.related(third)
        let match = try #require(related.children[0].matches.first { $0.referral.id == first })
        #expect(try await door.decide(related.children[0].person, match.person, "confirm").0 == 200)

        let (status, data) = try await door.request("GET", "v1/export?format=fhir&since=0&limit=100")
        #expect(status == 200)
        let outer = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var patients: [String: [[String: Any]]] = [:]  // by referral
        for entry in outer["entry"] as? [[String: Any]] ?? [] {
            let bundle = entry["resource"] as? [String: Any] ?? [:]
            let resources = (bundle["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
            let request = try #require(resources.first { $0["resourceType"] as? String == "ServiceRequest" })
            patients[request["id"] as! String] = resources.filter { $0["resourceType"] as? String == "Patient" }
        }
        let firstPatient = try #require(patients[first]?.first), secondPatient = try #require(patients[second]?.first)
        let thirdPatient = try #require(patients[third]?.first)
        #expect(firstPatient["id"] as? String == secondPatient["id"] as? String, "the same NHS number: one Patient")
        #expect(thirdPatient["id"] as? String != firstPatient["id"] as? String)
        func links(_ patient: [String: Any]) -> [String] {
            (patient["link"] as? [[String: Any]] ?? []).compactMap { ($0["other"] as? [String: Any])?["reference"] as? String }
        }
        #expect(links(thirdPatient) == ["urn:uuid:\(firstPatient["id"] as! String)"])
        #expect(links(firstPatient) == ["urn:uuid:\(thirdPatient["id"] as! String)"] && links(secondPatient) == links(firstPatient),
                "a shared Patient says the same in every bundle")
        #expect((thirdPatient["link"] as? [[String: Any]])?.first?["type"] as? String == "seealso")
        // The id is a UUID (RFC 9562 layout), as a fullUrl urn:uuid must be.
        #expect(UUID(uuidString: firstPatient["id"] as! String) != nil)
    }

    @Test("matching is for intake and admins: a practitioner gets 403, bad decisions get one sentence, and a practitioner's pull carries nothing of other referrals")
    func privacyAndRefusals() async throws {
        let door = try await FrontDoor()
        let first = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Mia Green", born: "2018-02-02")])
        let second = try door.refer(door.health, agency: "Health visiting", [Child(name: "Mia Green", born: "2018-02-02")])
        let practitioner = try door.server.addUser("nosy")
        let (forbidden, text) = try await door.request("GET", "v1/intake/referrals/\(first)/related", token: practitioner)
        #expect(forbidden == 403 && text.count > 0)
        let (missing, _) = try await door.request("GET", "v1/intake/referrals/0190aaaa-0000-7000-8000-000000000000/related")
        #expect(missing == 404)

        let related = try await door.related(second)
        let person = related.children[0].person
        let other = try #require(related.children[0].matches.first?.person)
        for (decision, reason, a, b, expected, words) in [
            ("merge", "x", person, other, 400, "'merge' is not a match decision"),
            ("confirm", "  ", person, other, 400, "needs a reason"),
            ("confirm", "x", person, person, 400, "cannot be matched with themselves"),
            ("confirm", "x", "not-a-key", other, 400, "is not a child's key"),
            ("confirm", "x", "0190aaaa-0000-7000-8000-000000000000/children.0190aaaa-0000-7000-8000-000000000001", other, 404, "No submitted referral names the child"),
            ("undo", "x", person, other, 409, "no match decision to undo"),
        ] {
            let (status, body) = try await door.decide(a, b, decision, reason: reason)
            #expect(status == expected && body.contains(words), "\(decision): \(status) \(body)")
        }
        // Decisions that would contradict the record are refused, with why.
        let third = try door.refer(door.police, agency: "Police", [Child(name: "Mia Green", born: "2018-02-02", nhs: "943 476 5919")])
        let fourth = try door.refer(door.police, agency: "Police", [Child(name: "Mia Green", born: "2018-02-02", nhs: "4010232137")])
        let fifth = try door.refer(door.school, agency: "Oakfield Primary", [Child(name: "Mia Green", born: "2018-02-02", nhs: "9434765919")])
        let key = { (id: String) in try await door.related(id).children[0].person }
        let (k3, k4, k5) = (try await key(third), try await key(fourth), try await key(fifth))
        let (different, why) = try await door.decide(k3, k4, "confirm")
        #expect(different == 409 && why.contains("different valid NHS numbers"), "\(why)")
        #expect(!why.contains("943") && !why.contains("401"), "no NHS number in a message a log may keep")
        let (sameNumber, because) = try await door.decide(k3, k5, "reject")
        #expect(sameNumber == 409 && because.contains("same NHS number"), "\(because)")
        // The first (no NHS number) confirmed as the third: the fourth (another NHS number) is no longer suggested for it, nor can it join.
        #expect(try await door.decide(person, k3, "confirm").0 == 200)
        #expect(try await !door.related(second).children[0].matches.contains { $0.referral.id == fourth && $0.kind == .possible })
        let (chained, text2) = try await door.decide(person, k4, "confirm")
        #expect(chained == 409 && text2.contains("different valid NHS numbers"), "\(text2)")
        // Joined through the third's NHS number: rejecting the fifth against the second is refused; so is confirming it again.
        let (through, text3) = try await door.decide(person, k5, "reject")
        #expect(through == 409 && text3.contains("joined through other confirmed matches"), "\(text3)")
        let (already, text4) = try await door.decide(person, k5, "confirm")
        #expect(already == 409 && text4.contains("already the same child"), "\(text4)")

        // The school's device never learns of the health visitor's referral.
        let pulled = try door.school.run(["list", "--json"]).output
        #expect(pulled.contains(first.suffix(12)) && !pulled.contains(second.suffix(12)), "\(pulled)")
    }
}
