import Foundation

/// How concurrent writes of one field are merged by the server (see docs/protocol.md).
public enum MergePolicy: String, Sendable, Codable, CaseIterable {
    /// Concurrent different values become a conflict an admin resolves. The
    /// default for safeguarding content.
    case manual
    /// The higher hybrid-logical-clock stamp wins; the loser stays in history.
    case lww
    /// Running notes: both entries are kept, ordered by stamp.
    case append
    /// Multi-select: add-wins union of the choices.
    case set
}

/// One option of a choice or multi-choice field.
public struct FieldOption: Sendable, Equatable {
    /// The stored value, stable across versions.
    public let key: String
    /// What a person reads.
    public let label: String

    public init(_ key: String, _ label: String) {
        self.key = key
        self.label = label
    }
}

/// What a field holds, and how typed input becomes its canonical stored text.
public enum FieldType: Sendable, Equatable {
    case text
    /// A calendar date, stored `YYYY-MM-DD`.
    case date
    /// A moment, stored as UTC ISO 8601 (`2026-11-23T09:30:00Z`).
    case dateTime
    /// Stored `yes` or `no`.
    case yesNo
    case choice([FieldOption])
    /// Stored as option keys joined by commas, in the form's order.
    case multiChoice([FieldOption])
    /// A file carried with the referral, stored as `sha256:<hex>`
    /// (`AttachmentReference`); added with `field attach`, never typed.
    case attachment(AttachmentLimits)

    public var name: String {
        switch self {
        case .text: "text"
        case .date: "date"
        case .dateTime: "date-time"
        case .yesNo: "yes/no"
        case .choice: "choice"
        case .multiChoice: "multi-choice"
        case .attachment: "attachment"
        }
    }

    /// The limits of an attachment field; nil for any other type.
    public var attachmentLimits: AttachmentLimits? {
        if case .attachment(let limits) = self { return limits }
        return nil
    }

    public var options: [FieldOption] {
        switch self {
        case .choice(let options), .multiChoice(let options): options
        default: []
        }
    }

    /// Straight and curly quotation marks and apostrophes: a value made of
    /// nothing else (spaces aside) is refused (`FormError.onlyQuotes`).
    public static let quotationMarks: Set<Unicode.Scalar> = ["\"", "'", "`", "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}", "\u{00AB}", "\u{00BB}"]

    /// The longest text a field accepts. Longer text is refused, never cut.
    public static let maximumTextLength = 20_000

    /// Turns what a person typed into the stored form, or explains in one
    /// sentence why it cannot be stored. `today` and times without an offset
    /// are read in `timeZone`, the device's own.
    /// Format and invisible characters that show nothing: zero-width spaces
    /// and joiners, directional marks (U+200B–U+200F), the word joiner
    /// (U+2060), the byte-order mark (U+FEFF), and the bidirectional controls
    /// (U+202A–U+202E, U+2066–U+2069).
    public static let invisible: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "\u{200B}"..."\u{200F}")
        set.insert(charactersIn: "\u{202A}"..."\u{202E}")
        set.insert(charactersIn: "\u{2066}"..."\u{2069}")
        set.insert("\u{2060}")
        set.insert("\u{FEFF}")
        return set
    }()

    /// Bidirectional controls: inside a name they can make it read as another.
    public static let bidirectionalControls: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "\u{202A}"..."\u{202E}")
        set.insert(charactersIn: "\u{2066}"..."\u{2069}")
        return set
    }()

    /// What trimming removes from a value's edges.
    static let blank = CharacterSet.whitespacesAndNewlines.union(invisible)

    /// Whether a stored value shows nothing (empty, spaces or invisible
    /// characters only): it counts as not answered for every rule.
    public static func isBlank(_ value: String?) -> Bool {
        value.map { $0.trimmingCharacters(in: blank).isEmpty } ?? true
    }

    public func normalize(_ input: String, now: Date, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(FormError) -> String {
        // Unicode NFC, so the same words are the same value on every device;
        // invisible characters at the edges go with the spaces, and a value
        // made of nothing else is empty (not answered).
        let trimmed = input.precomposedStringWithCanonicalMapping.trimmingCharacters(in: Self.blank)
        guard !trimmed.isEmpty else { throw .emptyValue }
        // `set … ""` means "nothing", not two quotation marks.
        if trimmed.unicodeScalars.allSatisfy({ Self.quotationMarks.contains($0) || $0.properties.isWhitespace || Self.invisible.contains($0) }) {
            throw .onlyQuotes(value: trimmed)
        }
        switch self {
        case .text:
            guard trimmed.count <= Self.maximumTextLength else {
                throw .invalidValue(value: String(trimmed.prefix(20)) + "…", expected: "text of at most \(Self.maximumTextLength) characters")
            }
            return trimmed
        case .date:
            if let offset = ["today": 0, "yesterday": -1][trimmed.lowercased()] {
                return CalendarDate.today(at: now, in: timeZone).adding(days: offset).description
            }
            guard let date = CalendarDate(parsing: trimmed) else {
                if let reason = CalendarDate.whyNotADate(trimmed) { throw .impossibleDate(value: trimmed, reason: reason) }
                throw .invalidValue(value: trimmed, expected: "a date such as 2026-03-14 or 14/03/2026")
            }
            return date.description
        case .dateTime:
            if trimmed.lowercased() == "now" { return Timestamp.string(now) }
            guard let date = Timestamp.date(trimmed, timeZone: timeZone) else {
                throw .invalidValue(value: trimmed, expected: "a time such as 2026-03-14T09:30 or \"now\"")
            }
            return Timestamp.string(date)
        case .yesNo:
            switch trimmed.lowercased() {
            case "yes", "y", "true": return "yes"
            case "no", "n", "false": return "no"
            default: throw .invalidValue(value: trimmed, expected: "yes or no")
            }
        case .choice(let options):
            return try Self.option(matching: trimmed, in: options).key
        case .multiChoice(let options):
            let words = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var chosen = Set<String>()
            for word in words {
                chosen.insert(try Self.option(matching: word, in: options).key)
            }
            return options.map(\.key).filter(chosen.contains).joined(separator: ",")
        case .attachment:
            guard let reference = AttachmentReference(stored: trimmed.lowercased()) else {
                throw .invalidValue(value: String(trimmed.prefix(40)), expected: "a file added with `field attach ID FILE`")
            }
            return reference.stored
        }
    }

    /// Accepts an option's key, its number in the list (1-based), or a unique
    /// case-insensitive prefix of its key.
    static func option(matching input: String, in options: [FieldOption]) throws(FormError) -> FieldOption {
        let lowered = input.lowercased()
        if let exact = options.first(where: { $0.key == lowered }) { return exact }
        if let number = Int(lowered), (1...options.count).contains(number) { return options[number - 1] }
        let prefixed = options.filter { $0.key.hasPrefix(lowered) }
        if prefixed.count == 1 { return prefixed[0] }
        throw .invalidValue(value: input, expected: "one of " + options.map(\.key).joined(separator: ", "))
    }

    /// The stored text as a person reads it (labels for choices).
    public func display(_ stored: String) -> String {
        switch self {
        case .choice(let options):
            return options.first { $0.key == stored }?.label ?? stored
        case .multiChoice(let options):
            return stored.split(separator: ",").map { key in
                options.first { $0.key == key }?.label ?? String(key)
            }.joined(separator: "; ")
        case .attachment:
            return AttachmentReference(stored: stored).map { "sha256 \($0.short)…" } ?? stored
        default:
            return stored
        }
    }
}
