import Foundation

/// A calendar date without a time, as the form's date fields hold it.
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1 else { return nil }
        let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// Accepts `YYYY-MM-DD` and the British `DD/MM/YYYY`.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // ASCII digits only: `\d` would also match digits `Int` cannot read.
        if trimmed.range(of: #"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$"#, options: .regularExpression) != nil {
            let parts = trimmed.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 3 else { return nil }
            self.init(year: parts[0], month: parts[1], day: parts[2])
        } else if trimmed.range(of: #"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"#, options: .regularExpression) != nil {
            let parts = trimmed.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 3 else { return nil }
            self.init(year: parts[2], month: parts[1], day: parts[0])
        } else {
            return nil
        }
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    /// The date it is at `now` in `timeZone`.
    public static func today(at now: Date, in timeZone: TimeZone) -> CalendarDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        return CalendarDate(year: parts.year!, month: parts.month!, day: parts.day!)!
    }

    /// The date `days` later (earlier when negative).
    public func adding(days: Int) -> CalendarDate {
        let (year, month, day) = Timestamp.civilDate(
            fromDays: Timestamp.daysFromCivil(year: Int64(self.year), month: Int64(self.month), day: Int64(self.day)) + Int64(days))
        return CalendarDate(year: Int(year), month: Int(month), day: Int(day)) ?? self
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

    /// For text written as a date (`YYYY-MM-DD` or `DD/MM/YYYY`) that names no
    /// real day, why not: "February 2021 has 28 days". Nil for a real date or
    /// for text that is not written as a date at all.
    public static func whyNotADate(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let year, month, day: Int
        let dayFirst: Bool
        if trimmed.range(of: #"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$"#, options: .regularExpression) != nil {
            let parts = trimmed.split(separator: "-").compactMap { Int($0) }
            (year, month, day, dayFirst) = (parts[0], parts[1], parts[2], false)
        } else if trimmed.range(of: #"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"#, options: .regularExpression) != nil {
            let parts = trimmed.split(separator: "/").compactMap { Int($0) }
            (year, month, day, dayFirst) = (parts[2], parts[1], parts[0], true)
        } else {
            return nil
        }
        guard CalendarDate(year: year, month: month, day: day) == nil else { return nil }
        guard year >= 1 else { return "there is no year 0" }
        guard (1...12).contains(month) else {
            return "there is no month \(month)" + (dayFirst && (1...12).contains(day) ? " (the day comes first, as in 14/03/2026)" : "")
        }
        guard day >= 1 else { return "there is no day 0" }
        let length = (28...31).last { CalendarDate(year: year, month: month, day: $0) != nil }!
        return "\(monthNames[month - 1]) \(year) has \(length) days"
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}
