import Foundation

/// One local authority's contacts, office hours and bank holidays: whom a
/// practitioner phones, and when. Configuration, not code: a device reads
/// `$FIELD_HOME/authority.json` when present, and otherwise uses the example
/// shipped in `config/authority.example.json` (the seeds' authority).
public struct Authority: Codable, Sendable, Equatable {
    public struct Contact: Codable, Sendable, Equatable {
        public var name: String
        public var phone: String
    }

    public struct Hours: Codable, Sendable, Equatable {
        /// `HH:MM`, local time.
        public var opens: String
        public var closes: String
    }

    public var name: String
    /// IANA time zone the hours are in, such as `Europe/London`.
    public var timeZone: String
    public var emergency: Contact
    public var frontDoor: Contact
    public var outOfHours: Contact
    public var lado: Contact?
    /// By lowercase English weekday name; a missing day is closed all day.
    public var officeHours: [String: Hours]
    /// `YYYY-MM-DD`; closed all day.
    public var bankHolidays: [String]
    /// The front door's clocks (`FrontDoorClocks`); nil keeps every default.
    public var clocks: FrontDoorClocks?

    /// When lower-level concerns add up (`AccumulationRule`); nil keeps the default.
    public var accumulation: AccumulationRule?

    /// The accumulation rule the front door works to: the configured one, or the default.
    public var accumulationRule: AccumulationRule { accumulation ?? .standard }

    /// The clocks the front door works to: the configured ones, or the defaults.
    public var frontDoorClocks: FrontDoorClocks { clocks ?? .standard }

    /// Reads and checks a configuration file, naming the file and the fault.
    public static func load(contentsOf url: URL) throws -> Authority {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AuthorityError(message: "Cannot read the authority configuration '\(url.path)'.")
        }
        let authority: Authority
        do { authority = try JSONDecoder().decode(Authority.self, from: data) } catch {
            throw AuthorityError(message: "The authority configuration '\(url.path)' is not valid: \(Self.describe(error))")
        }
        try authority.validate(source: url.path)
        return authority
    }

    func validate(source: String) throws {
        guard TimeZone(identifier: timeZone) != nil else {
            throw AuthorityError(message: "The authority configuration '\(source)' names an unknown time zone '\(timeZone)'.")
        }
        for (day, hours) in officeHours {
            guard Self.weekdays.contains(day) else {
                throw AuthorityError(message: "The authority configuration '\(source)' has office hours for '\(day)', which is not a weekday name such as monday.")
            }
            for time in [hours.opens, hours.closes] where Self.minutes(time) == nil {
                throw AuthorityError(message: "The authority configuration '\(source)' has an office time '\(time)' that is not HH:MM.")
            }
        }
        for day in bankHolidays where CalendarDate(parsing: day) == nil {
            throw AuthorityError(message: "The authority configuration '\(source)' has a bank holiday '\(day)' that is not a YYYY-MM-DD date.")
        }
        try clocks?.validate(source: source)
        try accumulation?.validate(source: source)
    }

    static let weekdays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    static func minutes(_ time: String) -> Int? {
        let parts = time.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        return hour * 60 + minute
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "the key '\(key.stringValue)' is missing."
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            "at '\(context.codingPath.map(\.stringValue).joined(separator: "."))', \(context.debugDescription.lowercased())"
        default: "it is not JSON."
        }
    }

    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }

    /// The local calendar date of an instant in the authority's time zone.
    public func localDate(of instant: Date) -> CalendarDate {
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        return CalendarDate(year: parts.year!, month: parts.month!, day: parts.day!)!
    }

    /// Whether the front door's office is open at an instant (otherwise the
    /// out-of-hours team takes calls).
    public func isOfficeOpen(at instant: Date) -> Bool {
        let calendar = self.calendar
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: instant)
        guard !bankHolidays.contains(localDate(of: instant).description),
            let hours = officeHours[Self.weekdays[parts.weekday! - 1]],
            let opens = Self.minutes(hours.opens), let closes = Self.minutes(hours.closes)
        else { return false }
        let minute = parts.hour! * 60 + parts.minute!
        return minute >= opens && minute < closes
    }

    /// Whom to phone about a child at immediate risk who is not in immediate
    /// danger (then it is always the police): the front door in office hours,
    /// the out-of-hours team otherwise.
    public func dutyContact(at instant: Date) -> Contact {
        isOfficeOpen(at: instant) ? frontDoor : outOfHours
    }

    /// A phone referral is confirmed in writing within 48 hours of the call.
    public static func writtenConfirmationDue(afterCallAt call: Date) -> Date {
        call.addingTimeInterval(48 * 3600)
    }
}

public struct AuthorityError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
