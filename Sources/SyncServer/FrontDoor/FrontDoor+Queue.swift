import Foundation
import SyncCore

/// Which referrals a reading of the queue lists: a view (`QueueView`), and
/// optionally a search, a RAG rating and an agency. The API
/// (`GET /v1/intake/queue`), the console's queue and its CSV take the same
/// query parameters: `view`, `q`, `rating` (red, amber, green or unrated)
/// and `agency` (as the referrer typed it, any case).
struct QueueFilter: Sendable, Equatable {
    var view: QueueView
    /// Text to find: a child's name or other name, a reference or receipt,
    /// an agency, an NHS number (spacing ignored) or the start of an id.
    var text: String?
    var rating: String?
    var agency: String?

    static let ratings = RAGRating.allCases.map(\.rawValue) + ["unrated"]
    /// The longest search accepted (characters).
    static let maximumText = 200

    /// Reads the filter from query parameters (`view` defaults to `defaultView`).
    /// - Throws: `APIError` 400 naming the bad value.
    init(_ parameters: [String: String], defaultView: QueueView) throws {
        func given(_ name: String) -> String? {
            parameters[name].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let viewName = given("view") ?? defaultView.rawValue
        guard let view = QueueView(rawValue: viewName) else {
            throw APIError(.badRequest, 
                "'\(TerminalText.visible(String(viewName.prefix(40))))' is not a view of the queue; the views are \(QueueView.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        self.view = view
        if let rating = given("rating"), !Self.ratings.contains(rating) {
            throw APIError(.badRequest, 
                "'\(TerminalText.visible(String(rating.prefix(40))))' is not a RAG rating to filter by; give one of \(Self.ratings.joined(separator: ", ")).")
        }
        rating = given("rating")
        if let text = given("q"), text.count > Self.maximumText {
            throw APIError(.badRequest, "The search has \(text.count) characters; the most is \(Self.maximumText).")
        }
        text = given("q")
        if let text, case let needle = Needle(text), needle.folded.isEmpty, !needle.isNumber {
            throw APIError(.badRequest, "The search '\(TerminalText.visible(String(text.prefix(40))))' has no letters or digits to look for.")
        }
        agency = given("agency")
    }

    init(view: QueueView, text: String? = nil, rating: String? = nil, agency: String? = nil) {
        self.view = view
        self.text = text
        self.rating = rating
        self.agency = agency
    }

    /// The filter as query parameters, for links and the CSV download (empty values left out).
    var query: String {
        [("view", view.rawValue), ("q", text), ("rating", rating), ("agency", agency)].compactMap { name, value in
            value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
        }.joined(separator: "&")
    }

    /// What the audit entry says of the filter (the search text is referral content: only its length).
    var audited: String {
        "view=\(view.rawValue)" + (text.map { " search=\($0.count)-characters" } ?? "") + (rating.map { " rating=\($0)" } ?? "")
            + (agency != nil ? " agency=given" : "")
    }

    /// Case, accents, spacing and punctuation folded away: "Zoë  O'Brien" → "zoe obrien".
    /// ASCII text (most of it) is folded without Foundation's locale machinery.
    static func fold(_ text: String) -> String {
        var folded = ""
        folded.reserveCapacity(text.utf8.count)
        var space = false
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): folded.unicodeScalars.append(Unicode.Scalar(byte + 32)); space = false
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): folded.unicodeScalars.append(Unicode.Scalar(byte)); space = false
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    if !space, !folded.isEmpty { folded.append(" ") }
                    space = true
                default: continue
                }
            }
            return space && folded.hasSuffix(" ") ? String(folded.dropLast()) : folded
        }
        let plain = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_GB"))
        return plain.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " }
            .map(String.init).joined().split(separator: " ").joined(separator: " ")
    }

    /// The text to find, prepared once: folded, its digits, and as a compact id prefix.
    struct Needle {
        let folded: String
        let squeezed: String
        let digits: String
        /// Digits only (spacing and hyphens aside): an NHS number, or part of one.
        let isNumber: Bool
        /// At least 4 hex digits and hyphens: the start of an id.
        let idPrefix: String?
        /// Shaped like a receipt, `R-XXXX-XXXX`.
        let receipt: String?

        /// The folded words, each of which a value must contain (in any order).
        let words: [String]

        init(_ text: String) {
            folded = QueueFilter.fold(text)
            words = folded.split(separator: " ").map(String.init)
            // A reference typed or misheard (`f mj5s w390`), in Crockford's digits and folded as stored
            // references are: a whole one, or a part with a digit in it (so that a name never matches one by chance).
            let digitsOf = ReferralReference.crockford(text)
            if let whole = ReferralReference.canonical(text) {
                squeezed = ReferralReference.crockford(whole).lowercased()
            } else {
                squeezed = digitsOf.count >= 4 && digitsOf.contains(where: \.isNumber) ? digitsOf.lowercased() : ""
            }
            digits = text.filter(\.isNumber)
            isNumber = digits.count >= 3 && digits.count == text.filter { !$0.isWhitespace && $0 != "-" }.count
            let compact = text.lowercased().filter { !$0.isWhitespace }
            idPrefix = compact.count >= 4 && compact.allSatisfy { $0.isHexDigit || $0 == "-" } ? compact : nil
            let upper = text.uppercased().trimmingCharacters(in: .whitespaces)
            receipt = upper.wholeMatch(of: /R-[0-9A-Z]{4}-[0-9A-Z]{4}/) != nil ? upper : nil
        }
    }

    /// Whether an entry passes the rating and agency filters.
    func admits(_ entry: QueueEntry) -> Bool {
        if let rating {
            guard rating == "unrated" ? entry.rating == nil : entry.rating == rating else { return false }
        }
        if let agency, Self.fold(entry.agency ?? "") != Self.fold(agency) { return false }
        return true
    }
}

/// The queue's query parameters as the API and the console take them
/// (`URLEncodedFormDecoder`), for `QueueFilter`.
struct QueueQuery: Decodable {
    var view: String?
    var q: String?
    var rating: String?
    var agency: String?

    var parameters: [String: String] {
        ["view": view, "q": q, "rating": rating, "agency": agency].compactMapValues { $0 }
    }
}

/// The queue's counts, over every referral not yet decided: what the front door has on its plate.
struct QueueCounts: Sendable, Equatable {
    var undecided = 0
    var immediateRisk = 0
    var notSafeNow = 0
    var overdue = 0
    var byRating: [String: Int] = [:]
    var unrated = 0
}

extension FrontDoor {
    /// The clocks of a queued referral at `now`.
    func clocks(of row: SubmittedReferral, now: Date) -> [ReferralClock] {
        let facts = ClockFacts(
            receivedAt: Timestamp.date(row.submittedAt) ?? now, immediateRisk: row.immediateRisk,
            acknowledgedAt: row.acknowledgedAt.flatMap { Timestamp.date($0) }, decidedAt: row.firstDecidedAt.flatMap { Timestamp.date($0) },
            rating: row.rating.flatMap(RAGRating.init(rawValue:)), ratedAt: row.ratedAt.flatMap { Timestamp.date($0) },
            calledAt: row.calledAt.flatMap { Timestamp.date($0) },
            referrerDeadline: row.deadline.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
        return calendar.clocks(facts, now: now, rules: rules)
    }

    /// A referral as a line of the queue, its clocks read at `now`.
    func entry(_ row: SubmittedReferral, now: Date) -> QueueEntry {
        let clocks = clocks(of: row, now: now)
        let acknowledge = clocks.first { $0.kind == .acknowledge }!
        let decide = clocks.first { $0.kind == .decide }!
        return QueueEntry(
            id: row.id, kind: row.kind, receipt: row.receipt, submittedAt: row.submittedAt,
            acknowledged: row.acknowledgedAt != nil, acknowledgedAt: row.acknowledgedAt,
            ackDue: acknowledge.due!, overdue: acknowledge.state == .overdue, outcome: row.outcome,
            changedAt: row.changedAt, openConflicts: row.openConflicts, childName: row.childName, children: row.children,
            agency: row.agency, immediateRisk: row.immediateRisk, reference: row.reference, childSafeNow: row.childSafeNow,
            deadline: row.deadline, rating: row.rating, decideDue: decide.due, decisionOverdue: decide.state == .overdue)
    }

    /// `entries` (one per referral, first submitted first, their clocks read
    /// once) as the queue lists them under `filter` (its view, rating and
    /// agency; a search has already chosen the referrals), in triage order:
    /// undecided referrals at immediate risk first, then by the next clock
    /// due (acknowledgement, else decision; for a decided referral changed
    /// since, when the change arrived), then first submitted first.
    static func queue(_ entries: [QueueEntry], filter: QueueFilter) -> [QueueEntry] {
        let distant = Date.distantFuture
        return entries.enumerated().compactMap { position, entry -> (entry: QueueEntry, due: Date, position: Int)? in
            guard entry.belongs(in: filter.view), filter.admits(entry) else { return nil }
            // A decided referral with new information waits from when it arrived; one with none comes last.
            let waiting = entry.outcome != nil ? entry.changedAt : entry.acknowledged ? entry.decideDue : entry.ackDue
            let due = waiting.flatMap { Timestamp.date($0) } ?? distant
            return (entry, due, position)
        }
        .sorted { first, second in
            func urgent(_ entry: QueueEntry) -> Int { entry.immediateRisk && entry.outcome == nil ? 0 : 1 }
            return (urgent(first.entry), first.due, first.position) < (urgent(second.entry), second.due, second.position)
        }
        .map(\.entry)
    }

    /// The counts above the queue, over the undecided referrals among `entries`.
    static func counts(_ entries: [QueueEntry]) -> QueueCounts {
        var counts = QueueCounts()
        for entry in entries where entry.outcome == nil {
            counts.undecided += 1
            if entry.immediateRisk { counts.immediateRisk += 1 }
            if entry.notSafeNow { counts.notSafeNow += 1 }
            if entry.overdue || entry.decisionOverdue { counts.overdue += 1 }
            if let rating = entry.rating { counts.byRating[rating, default: 0] += 1 } else { counts.unrated += 1 }
        }
        return counts
    }

    /// The queue read from storage under `filter`: the rows read, and the
    /// entries. A search first finds its referrals in the `SearchIndex`, by
    /// a receipt or by an id prefix, and reads only those referrals' rows,
    /// so its cost does not grow with the clocks and columns of every
    /// referral in the store.
    /// - Returns: the rows read, an entry for each (their clocks at `now`, computed once), and the entries the queue lists, in its order.
    func readQueue(
        _ storage: any SyncStorage, filter: QueueFilter, now: Date
    ) async throws -> (rows: [SubmittedReferral], all: [QueueEntry], listed: [QueueEntry]) {
        func read(_ rows: [SubmittedReferral]) async throws -> (rows: [SubmittedReferral], all: [QueueEntry], listed: [QueueEntry]) {
            let all = rows.map { entry($0, now: now) }
            var listed = Self.queue(all, filter: filter)
            // Each listed child's other referrals (docs/intake.md, "Known to the front door").
            let listedIDs = Set(listed.map(\.id))
            let recent = try await recentReferrals(for: rows.filter { listedIDs.contains($0.id) }, in: storage, now: now)
            for index in listed.indices {
                guard let (counts, accumulation) = recent[listed[index].id] else { continue }
                listed[index].knownReferrals = counts.flag
                listed[index].possibleMatches = counts.possible
                listed[index].accumulation = accumulation
            }
            return (rows, all, listed)
        }
        guard let text = filter.text else { return try await read(try await storage.submittedReferrals()) }
        let needle = QueueFilter.Needle(text)
        var found = try await search.matching(text, in: storage)
        if needle.receipt != nil || needle.idPrefix != nil {
            found.formUnion(try await storage.submittedReferrals(receipt: needle.receipt, idPrefix: needle.idPrefix))
        }
        return try await read(try await storage.submittedReferrals(among: found.sorted()))
    }

    /// The entries as CSV (RFC 4180, `ReferralExport.quote`: every cell quoted, and one a
    /// spreadsheet would run as a formula starts with `'`): one header line,
    /// then one line per entry in queue order.
    static func csv(_ entries: [QueueEntry]) -> String {
        let header = [
            "reference", "id", "kind", "child", "children", "agency", "immediate_risk", "child_safe_now", "referrer_deadline", "rating",
            "submitted_at", "acknowledge_by", "acknowledged_at", "acknowledge_overdue", "decide_by", "decision_overdue", "outcome", "changed_at",
            "open_conflicts", "receipt", "known_referrals", "possible_matches", "accumulation",
        ]
        var lines = [header.joined(separator: ",")]
        for entry in entries {
            let cells: [String?] = [
                entry.reference, entry.id, entry.kind, entry.childName, "\(entry.children)", entry.agency, entry.immediateRisk ? "yes" : "no",
                entry.childSafeNow, entry.deadline, entry.rating, entry.submittedAt, entry.ackDue, entry.acknowledgedAt,
                entry.overdue ? "yes" : "no", entry.decideDue, entry.decisionOverdue ? "yes" : "no", entry.outcome, entry.changedAt,
                "\(entry.openConflicts)", entry.receipt, entry.knownReferrals, "\(entry.possibleMatches)", entry.accumulation,
            ]
            lines.append(cells.map { ReferralExport.quote($0 ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
