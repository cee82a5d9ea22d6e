import Foundation

/// Where the core reads the time. Nothing in SyncCore calls `Date()` directly,
/// so tests can fix "now" and get the same stamps on every run.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The machine's clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that starts at a fixed instant and moves forward by `step` on each
/// reading, so that successive writes get distinct, predictable stamps.
public final class SteppingClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private let step: TimeInterval

    public init(start: Date, step: TimeInterval = 1) {
        self.current = start
        self.step = step
    }

    public func now() -> Date {
        lock.lock()
        defer { lock.unlock() }
        let reading = current
        current = current.addingTimeInterval(step)
        return reading
    }
}

/// Where the core gets new identifiers (referrals, group items, devices).
public protocol IDGenerator: Sendable {
    func next() -> UUID
}

/// Time-ordered UUIDs (RFC 9562 version 7): 48 bits of Unix milliseconds, then
/// random bits. Sorting them sorts by creation time, which keeps group items in
/// the order they were added.
///
/// With a seed the random bits repeat from run to run, which, with a fixed
/// clock, makes ids predictable for tests and golden transcripts.
public final class UUIDv7Generator: IDGenerator, @unchecked Sendable {
    private let clock: any WallClock
    private let lock = NSLock()
    private var seededState: UInt64?

    public init(clock: any WallClock = SystemClock(), seed: UInt64? = nil) {
        self.clock = clock
        self.seededState = seed
    }

    public func next() -> UUID {
        let millis = UInt64(max(0, clock.now().timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8((millis >> (8 * (5 - index))) & 0xFF)
        }
        let (high, low) = randomWords()
        for index in 0..<8 {
            bytes[8 + index] = UInt8((low >> (8 * index)) & 0xFF)
        }
        bytes[6] = UInt8(high & 0xFF)
        bytes[7] = UInt8((high >> 8) & 0xFF)
        bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
    }

    private func randomWords() -> (UInt64, UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard var state = seededState else {
            var generator = SystemRandomNumberGenerator()
            return (generator.next(), generator.next())
        }
        let high = Self.splitMix(&state)
        let low = Self.splitMix(&state)
        seededState = state
        return (high, low)
    }

    /// SplitMix64: a small, well-mixed generator, for seeded runs only.
    static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension UUID {
    /// The lowercase form used everywhere in the store, on the wire and in output.
    public var lowercased: String { uuidString.lowercased() }

    /// Whether `text` is a UUID in the lowercase 8-4-4-4-12 form ids travel in.
    /// Cheaper than parsing, for checks on every change of a push.
    public static func isCanonical(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            switch count {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            default:
                guard (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) else { return false }
            }
            count += 1
            if count > 36 { return false }
        }
        return count == 36
    }
}

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
