import Foundation
import Testing
@testable import SyncCore

@Suite("Deadlines on the working-day calendar (fixed clock)")
struct WorkingCalendarTests {
    let calendar = WorkingCalendar(authority: .example)

    func at(_ text: String) -> Date { Timestamp.date(text)! }

    @Test("acknowledgement is due by the end of the next working day", arguments: [
        ("2026-11-23T10:00:00Z", "2026-11-24T23:59:59Z"),  // Monday → Tuesday
        ("2026-11-27T15:00:00Z", "2026-11-30T23:59:59Z"),  // Friday → Monday, over the weekend
        ("2026-11-28T11:00:00Z", "2026-11-30T23:59:59Z"),  // Saturday → Monday
        ("2026-12-24T16:00:00Z", "2026-12-29T23:59:59Z"),  // Christmas Eve → past Christmas Day and the Boxing Day substitute
        ("2026-04-02T09:00:00Z", "2026-04-07T22:59:59Z"),  // Thursday before Easter → Tuesday (BST: 23:59:59 London)
        ("2026-08-28T12:00:00Z", "2026-09-01T22:59:59Z"),  // Friday before the August bank holiday → Tuesday
    ])
    func acknowledgement(received: String, due: String) {
        #expect(Timestamp.string(calendar.acknowledgementDue(receivedAt: at(received))) == due)
    }

    @Test("escalation comes after three working days", arguments: [
        ("2026-11-23T10:00:00Z", "2026-11-26T23:59:59Z"),  // Monday → Thursday
        ("2026-11-26T10:00:00Z", "2026-12-01T23:59:59Z"),  // Thursday → Tuesday, over the weekend
        ("2026-12-23T10:00:00Z", "2026-12-30T23:59:59Z"),  // over Christmas and Boxing Day (substitute)
        ("2027-03-25T10:00:00Z", "2027-04-01T22:59:59Z"),  // over Good Friday and Easter Monday 2027
    ])
    func escalation(received: String, due: String) {
        #expect(Timestamp.string(calendar.escalationDue(receivedAt: at(received))) == due)
    }

    @Test("a LADO referral is due within one working day of the allegation being known")
    func lado() {
        #expect(Timestamp.string(calendar.ladoDue(knownAt: at("2026-12-31T18:00:00Z"))) == "2027-01-04T23:59:59Z")  // past New Year's Day and a weekend
    }

    @Test("working days exclude weekends and the configured bank holidays")
    func workingDays() {
        #expect(calendar.isWorkingDay(CalendarDate(year: 2026, month: 11, day: 23)!))
        #expect(!calendar.isWorkingDay(CalendarDate(year: 2026, month: 11, day: 28)!))
        #expect(!calendar.isWorkingDay(CalendarDate(year: 2026, month: 12, day: 28)!))
        var authority = Authority.example
        authority.bankHolidays.append("2026-11-23")
        #expect(!WorkingCalendar(authority: authority).isWorkingDay(CalendarDate(year: 2026, month: 11, day: 23)!))
    }
}
