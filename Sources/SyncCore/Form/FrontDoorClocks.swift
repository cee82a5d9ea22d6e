import Foundation

/// The front door's clocks: by when a referral is acknowledged and decided,
/// set by its urgency and its RAG rating. Configuration, not code: the
/// server reads them from the `clocks` key of its `authority.json`
/// (`sync-server serve --authority FILE`); every key is optional and falls
/// back to the defaults below, each with its source.
///
/// Defaults and sources:
/// - acknowledging a written referral: 1 working day (REFERRALS.md,
///   "Deadlines and receipts": "acknowledges a written referral within ONE
///   working day");
/// - acknowledging a referral at immediate risk: 4 working hours, and never
///   later than the end of the working day it arrived on (the clocks of
///   multi-agency front doors: Red within 4 working hours);
/// - deciding an unrated referral: 1 working day of receipt (REFERRALS.md:
///   "decides and records next steps within ONE working day of receipt");
/// - deciding a rated one, from its latest rating: Red 4 working hours,
///   Amber 24 hours, Green 72 hours (multi-agency front doors' RAG clocks);
/// - a phoned referral confirmed in writing: 48 hours after the call
///   (REFERRALS.md: "A phone referral is confirmed in writing within 48 hours").
public struct FrontDoorClocks: Codable, Sendable, Equatable {
    /// A length of time as a rule counts it.
    public struct Limit: Codable, Sendable, Equatable, CustomStringConvertible {
        public enum Unit: String, Codable, Sendable {
            /// Hours while the office is open (`Authority.officeHours`, less bank holidays).
            case workingHours = "working-hours"
            /// To the end (23:59:59 local) of the N-th working day after the day it starts.
            case workingDays = "working-days"
            /// Elapsed hours, day and night.
            case hours
        }

        public var within: Int
        public var unit: Unit

        public init(_ within: Int, _ unit: Unit) {
            self.within = within
            self.unit = unit
        }

        /// "4 working hours", "1 working day", "72 hours".
        public var description: String {
            switch unit {
            case .workingHours: "\(within) working hour\(within == 1 ? "" : "s")"
            case .workingDays: "\(within) working day\(within == 1 ? "" : "s")"
            case .hours: "\(within) hour\(within == 1 ? "" : "s")"
            }
        }
    }

    public var acknowledge: Limit
    public var acknowledgeImmediateRisk: Limit
    public var decide: Limit
    /// By `RAGRating` raw value (red, amber, green).
    public var decideByRating: [String: Limit]
    public var writtenConfirmation: Limit
    /// Where the authority's clocks come from, shown beside each clock.
    public var source: String

    public static let defaultSource =
        "REFERRALS.md (one working day to acknowledge and to decide; 48 hours to confirm a call in writing) and multi-agency front doors' RAG clocks (Red 4 working hours, Amber 24 hours, Green 72 hours)"

    public init(
        acknowledge: Limit = Limit(1, .workingDays), acknowledgeImmediateRisk: Limit = Limit(4, .workingHours),
        decide: Limit = Limit(1, .workingDays),
        decideByRating: [String: Limit] = ["red": Limit(4, .workingHours), "amber": Limit(24, .hours), "green": Limit(72, .hours)],
        writtenConfirmation: Limit = Limit(48, .hours), source: String = FrontDoorClocks.defaultSource
    ) {
        self.acknowledge = acknowledge
        self.acknowledgeImmediateRisk = acknowledgeImmediateRisk
        self.decide = decide
        self.decideByRating = decideByRating
        self.writtenConfirmation = writtenConfirmation
        self.source = source
    }

    public static let standard = FrontDoorClocks()

    enum CodingKeys: String, CodingKey {
        case acknowledge, acknowledgeImmediateRisk, decide, decideByRating, writtenConfirmation, source
    }

    /// Each key optional: a missing one keeps its default; a rating left out keeps its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let standard = FrontDoorClocks.standard
        acknowledge = try container.decodeIfPresent(Limit.self, forKey: .acknowledge) ?? standard.acknowledge
        acknowledgeImmediateRisk = try container.decodeIfPresent(Limit.self, forKey: .acknowledgeImmediateRisk) ?? standard.acknowledgeImmediateRisk
        decide = try container.decodeIfPresent(Limit.self, forKey: .decide) ?? standard.decide
        decideByRating = standard.decideByRating.merging(
            try container.decodeIfPresent([String: Limit].self, forKey: .decideByRating) ?? [:], uniquingKeysWith: { _, given in given })
        writtenConfirmation = try container.decodeIfPresent(Limit.self, forKey: .writtenConfirmation) ?? standard.writtenConfirmation
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? standard.source
    }

    func validate(source file: String) throws {
        let named = [("acknowledge", acknowledge), ("acknowledgeImmediateRisk", acknowledgeImmediateRisk), ("decide", decide),
            ("writtenConfirmation", writtenConfirmation)] + decideByRating.sorted { $0.key < $1.key }.map { ("decideByRating.\($0.key)", $0.value) }
        for (name, limit) in named where !(1...1_000).contains(limit.within) {
            throw AuthorityError(message: "The authority configuration '\(file)' gives clocks.\(name) a length of \(limit.within); it must be 1 to 1000.")
        }
        for rating in decideByRating.keys where RAGRating(rawValue: rating) == nil {
            throw AuthorityError(message: "The authority configuration '\(file)' has a clock for the rating '\(rating)'; the ratings are red, amber and green.")
        }
    }
}

/// What a referral's clocks are computed from: when it arrived and what the
/// front door and the referrer recorded (ISO 8601 timestamps as stored).
public struct ClockFacts: Sendable, Equatable {
    public var receivedAt: Date
    public var immediateRisk: Bool
    public var acknowledgedAt: Date?
    /// The first decision (the clock is met by it; a later change does not restart it).
    public var decidedAt: Date?
    /// The current RAG rating and when it was given: the decision clock restarts at each rating.
    public var rating: RAGRating?
    public var ratedAt: Date?
    /// When the referrer phoned (`urgency.call_at`), if they did.
    public var calledAt: Date?
    /// The referrer's own deadline, as they wrote it (`urgency.deadline`).
    public var referrerDeadline: String?

    public init(
        receivedAt: Date, immediateRisk: Bool, acknowledgedAt: Date? = nil, decidedAt: Date? = nil, rating: RAGRating? = nil,
        ratedAt: Date? = nil, calledAt: Date? = nil, referrerDeadline: String? = nil
    ) {
        self.receivedAt = receivedAt
        self.immediateRisk = immediateRisk
        self.acknowledgedAt = acknowledgedAt
        self.decidedAt = decidedAt
        self.rating = rating
        self.ratedAt = ratedAt
        self.calledAt = calledAt
        self.referrerDeadline = referrerDeadline
    }

    /// The facts in a referral's current values (`fields`, by path), received at `receivedAt`.
    public init(receivedAt: Date, fields: [String: String]) {
        let decisions = DecisionRecord.history(in: fields)
        self.init(
            receivedAt: receivedAt, immediateRisk: fields["urgency.immediate_risk"] == "yes",
            acknowledgedAt: fields[IntakePath.acknowledgedAt].flatMap { Timestamp.date($0) },
            decidedAt: decisions.first.flatMap { Timestamp.date($0.decidedAt) },
            rating: fields[IntakePath.rating].flatMap(RAGRating.init(rawValue:)), ratedAt: fields[IntakePath.ratedAt].flatMap { Timestamp.date($0) },
            calledAt: fields["urgency.call_made"] == "yes" ? fields["urgency.call_at"].flatMap { Timestamp.date($0) } : nil,
            referrerDeadline: fields["urgency.deadline"].flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
    }
}

/// One of a referral's clocks as the front door reads it: what is due, by
/// when, under which rule, and whether it was met.
public struct ReferralClock: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case acknowledge, decide
        case writtenConfirmation = "written-confirmation"
        /// The referrer's own deadline: words, not a computed time.
        case referrerDeadline = "referrer-deadline"
    }

    public enum State: String, Codable, Sendable {
        /// Not done yet, and not late.
        case due
        case overdue
        case met
        /// Done, after its time.
        case metLate = "met-late"
        /// The referrer's deadline: read it.
        case stated
    }

    public var kind: Kind
    public var title: String
    /// ISO 8601 (UTC); nil for the referrer's deadline.
    @NullEncoded public var due: String?
    public var state: State
    /// When it was met; nil while due.
    @NullEncoded public var metAt: String?
    /// The rule in words: "4 working hours from receipt (immediate risk), and never later than the end of that working day".
    public var rule: String
    public var source: String
    /// The referrer's deadline as they wrote it.
    @NullEncoded public var text: String?

    public init(kind: Kind, title: String, due: String?, state: State, metAt: String?, rule: String, source: String, text: String? = nil) {
        self.kind = kind
        self.title = title
        self.due = due
        self.state = state
        self.metAt = metAt
        self.rule = rule
        self.source = source
        self.text = text
    }

    enum CodingKeys: String, CodingKey { case kind, title, due, state, metAt = "met_at", rule, source, text }

    /// Whether the clock ran out without being met.
    public var isOverdue: Bool { state == .overdue }

    /// Where `clocks`' rules come from, each source once, sorted, joined by
    /// "; ": said once under a referral's clocks (the console's page,
    /// `field intake show`).
    public static func sources(of clocks: [ReferralClock]) -> String {
        Set(clocks.map(\.source)).sorted().joined(separator: "; ")
    }
}

extension WorkingCalendar {
    /// The authority's office hours on a local day, as instants; nil when it is closed all day.
    func officeHours(on day: Date) -> (opens: Date, closes: Date)? {
        let calendar = authority.calendar
        let start = calendar.startOfDay(for: day)
        let local = authority.localDate(of: start.addingTimeInterval(12 * 3600))
        guard !authority.bankHolidays.contains(local.description) else { return nil }
        let weekday = calendar.component(.weekday, from: start.addingTimeInterval(12 * 3600))
        guard let hours = authority.officeHours[Authority.weekdays[weekday - 1]], let opens = Authority.minutes(hours.opens),
            let closes = Authority.minutes(hours.closes), closes > opens,
            let open = calendar.date(byAdding: .minute, value: opens, to: start), let close = calendar.date(byAdding: .minute, value: closes, to: start)
        else { return nil }
        return (open, close)
    }

    /// `hours` of open office time after `instant` (from the next opening when the office is closed).
    public func adding(workingHours hours: Int, to instant: Date) -> Date {
        var remaining = TimeInterval(hours) * 3600
        var day = authority.calendar.startOfDay(for: instant)
        for _ in 0..<3_660 {
            if let (opens, closes) = officeHours(on: day), closes > instant {
                let start = max(opens, instant)
                if start.addingTimeInterval(remaining) <= closes { return start.addingTimeInterval(remaining) }
                remaining -= closes.timeIntervalSince(start)
            }
            day = authority.calendar.date(byAdding: .day, value: 1, to: day)!
        }
        return instant.addingTimeInterval(TimeInterval(hours) * 3600)  // no office hours configured: plain hours
    }

    /// The close of the working day `instant` falls in, or of the next one when the office has closed (or is closed that day).
    public func endOfWorkingDay(containing instant: Date) -> Date {
        var day = authority.calendar.startOfDay(for: instant)
        for _ in 0..<3_660 {
            if let (_, closes) = officeHours(on: day), closes > instant { return closes }
            day = authority.calendar.date(byAdding: .day, value: 1, to: day)!
        }
        return endOfWorkingDays(1, after: instant)
    }

    /// `limit` after `instant`.
    public func adding(_ limit: FrontDoorClocks.Limit, to instant: Date) -> Date {
        switch limit.unit {
        case .workingHours: adding(workingHours: limit.within, to: instant)
        case .workingDays: endOfWorkingDays(limit.within, after: instant)
        case .hours: instant.addingTimeInterval(TimeInterval(limit.within) * 3600)
        }
    }

    /// A referral's clocks at `now`: acknowledgement, decision, the written
    /// confirmation of a phoned referral (when the referrer phoned), and the
    /// referrer's own deadline (when given), in that order.
    public func clocks(_ facts: ClockFacts, now: Date, rules: FrontDoorClocks) -> [ReferralClock] {
        func state(due: Date, metAt: Date?) -> ReferralClock.State {
            guard let metAt else { return now > due ? .overdue : .due }
            return metAt > due ? .metLate : .met
        }
        var clocks: [ReferralClock] = []
        let acknowledgeDue: Date
        let acknowledgeRule: String
        if facts.immediateRisk {
            acknowledgeDue = min(adding(rules.acknowledgeImmediateRisk, to: facts.receivedAt), endOfWorkingDay(containing: facts.receivedAt))
            acknowledgeRule = "\(rules.acknowledgeImmediateRisk) from receipt (the referrer said a child is at immediate risk), and never later than the end of that working day"
        } else {
            acknowledgeDue = adding(rules.acknowledge, to: facts.receivedAt)
            acknowledgeRule = "\(rules.acknowledge) from receipt"
        }
        clocks.append(ReferralClock(
            kind: .acknowledge, title: "Acknowledge", due: Timestamp.string(acknowledgeDue), state: state(due: acknowledgeDue, metAt: facts.acknowledgedAt),
            metAt: facts.acknowledgedAt.map(Timestamp.string), rule: acknowledgeRule, source: rules.source))
        let decideDue: Date
        let decideRule: String
        if let rating = facts.rating, let ratedAt = facts.ratedAt, let limit = rules.decideByRating[rating.rawValue] {
            decideDue = adding(limit, to: ratedAt)
            decideRule = "\(limit) from the latest rating (\(rating.title)); a new rating restarts it"
        } else {
            decideDue = adding(rules.decide, to: facts.receivedAt)
            decideRule = "\(rules.decide) from receipt (not rated yet)"
        }
        clocks.append(ReferralClock(
            kind: .decide, title: "Decide and record next steps", due: Timestamp.string(decideDue), state: state(due: decideDue, metAt: facts.decidedAt),
            metAt: facts.decidedAt.map(Timestamp.string), rule: decideRule, source: rules.source))
        if let calledAt = facts.calledAt {
            let due = adding(rules.writtenConfirmation, to: calledAt)
            clocks.append(ReferralClock(
                kind: .writtenConfirmation, title: "Written confirmation of the phoned referral", due: Timestamp.string(due),
                state: facts.receivedAt > due ? .metLate : .met, metAt: Timestamp.string(facts.receivedAt),
                rule: "\(rules.writtenConfirmation) after the call (\(Timestamp.string(calledAt)))", source: rules.source))
        }
        if let deadline = facts.referrerDeadline {
            clocks.append(ReferralClock(
                kind: .referrerDeadline, title: "The referrer's deadline", due: nil, state: .stated, metAt: nil,
                rule: "as the referrer wrote it (urgency.deadline)", source: "the referral", text: deadline))
        }
        return clocks
    }
}
