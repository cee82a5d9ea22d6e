import Foundation
import SyncCore
import TestSupport
import Testing

/// Input a new user plausibly types (issue "Tried as a new user would", item
/// 12), through the real `field` binary: impossible dates are refused naming
/// the value, odd dates are stored with a warning (odd information must not
/// block a referral), `yesterday` works, and `fill` asks only what applies.
@Suite("Plausible input")
struct PlausibleInputTests {
    let london: [String: String?] = ["TZ": "Europe/London"]

    func newReferral(_ field: FieldHome, kind: String = "social-care") throws -> String {
        let id = try field.run(["new", "--kind", kind]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["add", id, "children"]).status == 0)
        return id
    }

    @Test("an impossible date is refused in one sentence naming it and saying why")
    func impossibleDates() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try newReferral(field)
        for (typed, why) in [
            ("31/02/2021", "'31/02/2021' is not a date: February 2021 has 28 days."),
            ("29/02/2023", "'29/02/2023' is not a date: February 2023 has 28 days."),
            ("2021-04-31", "'2021-04-31' is not a date: April 2021 has 30 days."),
            ("03/14/2026", "'03/14/2026' is not a date: there is no month 14 (the day comes first, as in 14/03/2026)."),
            ("14/13/2026", "'14/13/2026' is not a date: there is no month 13."),
            ("2026-13-05", "'2026-13-05' is not a date: there is no month 13."),
            ("00/03/2026", "'00/03/2026' is not a date: there is no day 0."),
        ] {
            let refused = try field.run(["set", id, "children.1.date_of_birth", typed], environment: london)
            #expect(refused.status == 1)
            #expect(refused.output == "Error: \(why)\n", "\(refused.output)")
        }
        // A leap day that exists is a date.
        #expect(try field.run(["set", id, "children.1.date_of_birth", "29/02/2024"], environment: london).status == 0)
        let store = try field.openStore()
        #expect(try store.referral(UUID(uuidString: id)!).values.values.contains("2024-02-29"))
    }

    @Test("yesterday works where today does, in the device's time zone")
    func yesterday() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try newReferral(field)
        let set = try field.run(["set", id, "children.1.date_of_birth", "Yesterday"], now: "2026-03-01T00:30:00Z", environment: ["TZ": "Pacific/Auckland"])
        #expect(set.status == 0)
        // 13:30 on 1 March in Auckland: yesterday is 28 February.
        #expect(set.output.contains("= 2026-02-28"), "\(set.output)")
        let today = try field.run(["set", id, "children.1.expected_delivery", "today"], now: "2026-03-01T00:30:00Z", environment: ["TZ": "Pacific/Auckland"])
        #expect(today.output.contains("= 2026-03-01"), "\(today.output)")
    }

    @Test("a birth date in the future and a delivery date in the past are stored, with a warning here and in check")
    func oddDatesWarn() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try newReferral(field)
        let born = try field.run(["set", id, "children.1.date_of_birth", "05/01/2027"], environment: london)
        #expect(born.status == 0)
        #expect(born.output.contains("= 2027-01-05"), "\(born.output)")
        #expect(born.output.contains("Warning: ") && born.output.contains("The date of birth 2027-01-05 is in the future"), "\(born.output)")
        let due = try field.run(["set", id, "children.1.expected_delivery", "2026-01-10"], environment: london)
        #expect(due.status == 0)
        #expect(due.output.contains("The expected date of delivery 2026-01-10 is in the past"), "\(due.output)")
        // A plausible date gets no warning.
        let plain = try field.run(["set", id, "children.1.date_of_birth", "2019-06-01"], environment: london)
        #expect(plain.status == 0 && !plain.output.contains("Warning"), "\(plain.output)")
        #expect(try field.run(["set", id, "children.1.date_of_birth", "2027-01-05"], environment: london).status == 0)

        let check = try field.run(["check", id], environment: london)
        #expect(check.output.contains("The date of birth 2027-01-05 is in the future"), "\(check.output)")
        #expect(check.output.contains("The expected date of delivery 2026-01-10 is in the past"), "\(check.output)")
        // Warnings never block: set the hard rules and submit.
        for (path, value) in [("referrer.name", "Sam Jones"), ("referrer.agency", "Hill School")] {
            #expect(try field.run(["set", id, path, value], environment: london).status == 0)
        }
        #expect(try field.run(["submit", id], environment: london).status == 0)
    }

    @Test("fill skips the call questions when no call was made, asks them when one was, and echoes what a choice was stored as")
    func fillUrgency() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try newReferral(field)
        let noCall = try field.run(["fill", id, "--section", "urgency"], input: "no\nno\nyes\n\n", environment: london)
        #expect(noCall.status == 0, "\(noCall.output)")
        #expect(!noCall.output.contains("Whom did you phone?") && !noCall.output.contains("When did you phone?"), "\(noCall.output)")
        #expect(!noCall.output.contains("Who took the call"), "\(noCall.output)")
        #expect(noCall.output.contains("Is the child currently safe?"), "\(noCall.output)")

        let call = try field.run(["fill", id, "--section", "urgency"], input: "yes\nyes\n2\n\nDuty social worker, ref 4471\n\n\n", environment: london)
        #expect(call.status == 0, "\(call.output)")
        #expect(call.output.contains("Whom did you phone?") && call.output.contains("When did you phone?"), "\(call.output)")
        #expect(call.output.contains("  = front-door (Front door)"), "\(call.output)")
        let store = try field.openStore()
        let values = try store.referral(UUID(uuidString: id)!).values
        #expect(values["urgency.call_to"] == "front-door" && values["urgency.call_reference"] == "Duty social worker, ref 4471")
    }

    @Test("an NHS number that fails its check digit is stored with a warning naming it, in set and in check; it never blocks submission")
    func nhsNumberWarns() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try newReferral(field)
        let mistyped = try field.run(["set", id, "children.1.nhs_number", "943 476 5918"])
        #expect(mistyped.status == 0)
        #expect(mistyped.output.contains("Warning: ") && mistyped.output.contains("943 476 5918 fails the NHS number's check (its last digit should be 9"), "\(mistyped.output)")
        #expect(try field.run(["check", id]).output.contains("fails the NHS number's check"))
        for (path, value) in [("referrer.name", "Sam Jones"), ("referrer.agency", "Hill School")] {
            #expect(try field.run(["set", id, path, value]).status == 0)
        }
        #expect(try field.run(["submit", id]).status == 0)
        let right = try field.run(["set", id, "children.1.nhs_number", "943 476 5919"])
        #expect(right.status == 0 && !right.output.contains("Warning"), "\(right.output)")
        #expect(!(try field.run(["check", id]).output.contains("NHS number")))
    }
}
