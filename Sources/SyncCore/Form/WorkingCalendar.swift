import Foundation

/// Working days (Monday to Friday, less the authority's bank holidays) and the
/// guidance's deadlines computed on them, in the authority's local time.
///
/// A deadline of "N working days after" an instant ends at the close of the
/// N-th working day after the local day the instant falls on: a referral
/// received on Friday afternoon is due to be acknowledged by the end of
/// Monday, or Tuesday when Monday is a bank holiday; one received on Saturday
/// is also due by the end of Monday.
public struct WorkingCalendar: Sendable {
    public let authority: Authority

    public init(authority: Authority) {
        self.authority = authority
    }

    public func isWorkingDay(_ day: CalendarDate) -> Bool {
        guard let date = authority.calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: 12)) else { return false }
        let weekday = authority.calendar.component(.weekday, from: date)
        return (2...6).contains(weekday) && !authority.bankHolidays.contains(day.description)
    }

    /// The end (23:59:59 local) of the `count`-th working day after the day of `instant`.
    public func endOfWorkingDays(_ count: Int, after instant: Date) -> Date {
        let calendar = authority.calendar
        var day = calendar.startOfDay(for: instant)
        var remaining = count
        while remaining > 0 {
            day = calendar.date(byAdding: .day, value: 1, to: day)!
            if isWorkingDay(authority.localDate(of: day.addingTimeInterval(12 * 3600))) { remaining -= 1 }
        }
        return calendar.date(byAdding: DateComponents(day: 1, second: -1), to: day)!
    }

    /// The front door acknowledges a written referral within one working day.
    public func acknowledgementDue(receivedAt: Date) -> Date { endOfWorkingDays(1, after: receivedAt) }

    /// With no acknowledgement by then, the referrer contacts the team manager.
    public func escalationDue(receivedAt: Date) -> Date { endOfWorkingDays(3, after: receivedAt) }

    /// An allegation against an adult who works with children reaches the LADO
    /// within one working day of being known (the referral's creation).
    public func ladoDue(knownAt: Date) -> Date { endOfWorkingDays(1, after: knownAt) }
}
