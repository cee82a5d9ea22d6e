import Foundation

/// Timestamps as they are stored and shown: ISO 8601 in UTC, to the second.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (days, secondsOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let adjustedDays = secondsOfDay < 0 ? days - 1 : days
        let daySeconds = secondsOfDay < 0 ? secondsOfDay + 86_400 : secondsOfDay
        let (year, month, day) = civilDate(fromDays: adjustedDays)
        return String(
            format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
            year, month, day, daySeconds / 3600, (daySeconds % 3600) / 60, daySeconds % 60)
    }

    /// Parses `YYYY-MM-DDTHH:MM[:SS]` with an optional `Z` or `±HH:MM` offset;
    /// without one, the time is read in `timeZone` (UTC unless given). A space
    /// may stand for the `T`.
    public static func date(_ text: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        // Parsed by hand: it runs for every timestamp the store reads.
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard bytes.count >= 16, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16),
            CalendarDate(year: Int(year), month: Int(month), day: Int(day)) != nil, hour < 24, minute < 60
        else { return nil }
        var index = 16
        var second: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
            guard let parsed = number(17..<19), parsed < 60 else { return nil }
            second = parsed
            index = 19
        }
        let wall = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        if index == bytes.count {
            // A local wall-clock time: the zone's offset at that moment.
            let guess = Date(timeIntervalSince1970: TimeInterval(wall))
            let offset = Int64(timeZone.secondsFromGMT(for: guess.addingTimeInterval(-TimeInterval(timeZone.secondsFromGMT(for: guess)))))
            return Date(timeIntervalSince1970: TimeInterval(wall - offset))
        }
        if bytes[index] == UInt8(ascii: "Z"), index + 1 == bytes.count {
            return Date(timeIntervalSince1970: TimeInterval(wall))
        }
        guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return nil }
        let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
        let rest = bytes.count - index - 1
        let minutesStart = rest == 5 && bytes[index + 3] == UInt8(ascii: ":") ? index + 4 : index + 3
        guard rest == 4 || (rest == 5 && minutesStart == index + 4), let hours = number(index + 1..<index + 3),
            let minutes = number(minutesStart..<minutesStart + 2), minutesStart + 2 == bytes.count
        else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(wall - sign * (hours * 3600 + minutes * 60)))
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilDate(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
    }
}
