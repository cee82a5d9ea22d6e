import Foundation
import TestSupport
import Testing
@testable import SyncCore

/// The front door's clocks (issue 27, item 1) on the shipped example
/// authority: office hours 08:30–17:00 (16:30 on Fridays), Europe/London,
/// its bank holidays.
@Suite("The front door's clocks: by urgency and by RAG rating")
struct FrontDoorClockTests {
    let calendar = WorkingCalendar(authority: .example)
    let rules = FrontDoorClocks.standard

    func at(_ text: String) -> Date { Timestamp.date(text)! }

    func clock(_ kind: ReferralClock.Kind, _ facts: ClockFacts, now: String) -> ReferralClock {
        calendar.clocks(facts, now: at(now), rules: rules).first { $0.kind == kind }!
    }

    @Test("working hours count only open office time, across evenings, weekends and bank holidays", arguments: [
        ("2026-11-23T10:00:00Z", 4, "2026-11-23T14:00:00Z"),  // Monday morning: the same afternoon
        ("2026-11-23T15:00:00Z", 4, "2026-11-24T10:30:00Z"),  // Monday 15:00: 2 hours, then 2 from Tuesday's 08:30
        ("2026-11-23T20:00:00Z", 4, "2026-11-24T12:30:00Z"),  // after hours: from Tuesday's opening
        ("2026-11-27T15:30:00Z", 4, "2026-11-30T11:30:00Z"),  // Friday (closes 16:30): 1 hour, then Monday
        ("2026-12-24T16:00:00Z", 4, "2026-12-29T11:30:00Z"),  // Christmas Eve: 1 hour, then past Christmas and the Boxing Day substitute
    ])
    func workingHours(start: String, hours: Int, end: String) {
        #expect(Timestamp.string(calendar.adding(workingHours: hours, to: at(start))) == end)
    }

    @Test("immediate risk: acknowledged within 4 working hours, and never later than the end of that working day")
    func immediateRiskAcknowledgement() {
        let morning = ClockFacts(receivedAt: at("2026-11-23T09:00:00Z"), immediateRisk: true)
        #expect(clock(.acknowledge, morning, now: "2026-11-23T09:00:00Z").due == "2026-11-23T13:00:00Z")
        // At 15:00 four working hours run into Tuesday: the end of Monday's working day comes first.
        let afternoon = ClockFacts(receivedAt: at("2026-11-23T15:00:00Z"), immediateRisk: true)
        #expect(clock(.acknowledge, afternoon, now: "2026-11-23T15:00:00Z").due == "2026-11-23T17:00:00Z")
        #expect(clock(.acknowledge, afternoon, now: "2026-11-23T17:00:01Z").state == .overdue)
        // Arrived at night: by Tuesday 12:30, the fourth working hour.
        let night = ClockFacts(receivedAt: at("2026-11-23T22:00:00Z"), immediateRisk: true)
        #expect(clock(.acknowledge, night, now: "2026-11-23T22:00:00Z").due == "2026-11-24T12:30:00Z")
        // Without immediate risk: the end of the next working day, as before.
        let routine = ClockFacts(receivedAt: at("2026-11-23T09:00:00Z"), immediateRisk: false)
        #expect(clock(.acknowledge, routine, now: "2026-11-23T09:00:00Z").due == "2026-11-24T23:59:59Z")
    }

    @Test("the decision clock: one working day from receipt unrated; from the latest rating, Red 4 working hours, Amber 24 hours, Green 72 hours")
    func decisionClock() {
        let received = at("2026-11-23T10:00:00Z")
        #expect(clock(.decide, ClockFacts(receivedAt: received, immediateRisk: false), now: "2026-11-23T10:00:00Z").due == "2026-11-24T23:59:59Z")
        let red = ClockFacts(receivedAt: received, immediateRisk: false, rating: .red, ratedAt: at("2026-11-23T11:00:00Z"))
        #expect(clock(.decide, red, now: "2026-11-23T11:00:00Z").due == "2026-11-23T15:00:00Z")
        // A change of rating restarts the clock from the new rating.
        let amber = ClockFacts(receivedAt: received, immediateRisk: false, rating: .amber, ratedAt: at("2026-11-23T16:00:00Z"))
        #expect(clock(.decide, amber, now: "2026-11-23T16:00:00Z").due == "2026-11-24T16:00:00Z")
        let green = ClockFacts(receivedAt: received, immediateRisk: false, rating: .green, ratedAt: at("2026-11-23T16:00:00Z"))
        #expect(clock(.decide, green, now: "2026-11-23T16:00:00Z").due == "2026-11-26T16:00:00Z")
        // Met by the first decision; late if after.
        var decided = red
        decided.decidedAt = at("2026-11-23T16:00:00Z")
        #expect(clock(.decide, decided, now: "2026-11-25T10:00:00Z").state == .metLate)
        decided.decidedAt = at("2026-11-23T12:00:00Z")
        #expect(clock(.decide, decided, now: "2026-11-25T10:00:00Z").state == .met)
        #expect(clock(.decide, red, now: "2026-11-23T15:00:01Z").state == .overdue)
    }

    @Test("a phoned referral is confirmed in writing within 48 hours; the referrer's deadline is shown in their words")
    func confirmationAndDeadline() {
        let facts = ClockFacts(receivedAt: at("2026-11-25T13:00:00Z"), fields: [
            "urgency.call_made": "yes", "urgency.call_at": "2026-11-23T12:00:00Z", "urgency.deadline": "mum collects at 15:15 today",
        ])
        let clocks = calendar.clocks(facts, now: at("2026-11-25T13:00:00Z"), rules: rules)
        let confirmation = clocks.first { $0.kind == .writtenConfirmation }!
        #expect(confirmation.due == "2026-11-25T12:00:00Z" && confirmation.state == .metLate)
        let deadline = clocks.first { $0.kind == .referrerDeadline }!
        #expect(deadline.text == "mum collects at 15:15 today" && deadline.due == nil)
        // No call, no deadline: neither clock.
        let plain = calendar.clocks(ClockFacts(receivedAt: at("2026-11-25T13:00:00Z"), fields: [:]), now: at("2026-11-25T13:00:00Z"), rules: rules)
        #expect(plain.map(\.kind) == [.acknowledge, .decide])
    }

    @Test("an authority's clocks: each key optional, a rating left out keeps its default, a bad one named")
    func configuration() throws {
        var json = try JSONSerialization.jsonObject(with: Data(Authority.exampleJSON.utf8)) as! [String: Any]
        json["clocks"] = ["decideByRating": ["red": ["within": 2, "unit": "working-hours"]], "source": "Our MASH protocol, 2026"]
        let folder = try TemporaryFolder.make("clocks")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("authority.json")
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        let authority = try Authority.load(contentsOf: file)
        let clocks = authority.frontDoorClocks
        #expect(clocks.decideByRating["red"] == .init(2, .workingHours))
        #expect(clocks.decideByRating["green"] == .init(72, .hours))
        #expect(clocks.acknowledgeImmediateRisk == .init(4, .workingHours))
        #expect(clocks.source == "Our MASH protocol, 2026")

        json["clocks"] = ["decideByRating": ["purple": ["within": 2, "unit": "hours"]]]
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        #expect(throws: AuthorityError.self) { try Authority.load(contentsOf: file) }
        do { _ = try Authority.load(contentsOf: file) } catch {
            #expect("\(error)".contains("'purple'"))
        }
        json["clocks"] = ["acknowledge": ["within": 0, "unit": "hours"]]
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        do { _ = try Authority.load(contentsOf: file); Issue.record("a zero-length clock was accepted") } catch {
            #expect("\(error)".contains("clocks.acknowledge") && "\(error)".contains("0"))
        }
        json["clocks"] = ["acknowledge": ["within": 1, "unit": "fortnights"]]
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        do { _ = try Authority.load(contentsOf: file); Issue.record("an unknown unit was accepted") } catch {
            #expect("\(error)".contains("clocks.acknowledge.unit"))
        }
    }
}
