import Foundation

/// Why two indexed people (in two referrals) may be the same child, with
/// the reasons intake reads (docs/intake.md, "What a match means").
///
/// - The same valid NHS number is the same child (`sameNHSNumber`): the
///   number is issued once per person.
/// - Otherwise a scored `possible` match needs a name at least as close as
///   `PersonMatcher.nameThreshold` and a date of birth that agrees (the
///   same, day and month swapped, or one digit apart), or is missing on one
///   side with the same address; its score (0 to 100) is what the reasons add
///   up to. A possible match is never acted on by itself: intake confirms
///   or rejects it.
/// - Two different valid NHS numbers, two clearly different dates of birth,
///   different given names (siblings, twins: a typing slip keeps the first
///   letter, so Kayden and Jayden are two children), or a placeholder name
///   ("Baby Smith", `placeholders`) are never a match. A date of birth
///   missing on both sides counts for less than one missing on one side.
public struct PersonMatch: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case sameNHSNumber = "same-nhs-number"
        case possible
    }

    public var kind: Kind
    /// 0 to 100: 100 for the same NHS number.
    public var score: Int
    /// Each reason in words, strongest first: "same NHS number", "date of birth with day and month swapped"…
    public var reasons: [String]
}

/// Why two referrals are about one household (a sibling, a parent's
/// partner, the same home), with the reasons intake reads.
public struct HouseholdLink: Sendable, Equatable, Codable {
    public var reasons: [String]
}

/// Compares indexed people. Pure: no I/O, the same on the server and in the benchmark.
public enum PersonMatcher {
    /// The least name similarity (0 to 1) a possible match needs.
    public static let nameThreshold = 0.75
    /// The least score (0 to 100) a possible match needs.
    public static let scoreThreshold = 70

    /// Whether `a` and `b` (people in two referrals) may be the same person, and why; nil when not.
    public static func compare(_ a: IndexedPerson, _ b: IndexedPerson) -> PersonMatch? {
        if let na = a.nhsNumber, let nb = b.nhsNumber {
            return na == nb ? PersonMatch(kind: .sameNHSNumber, score: 100, reasons: ["same NHS number"]) : nil
        }
        guard let name = nameLikeness(a, b), name.score >= nameThreshold else { return nil }
        var score = name.score * 50
        var reasons = [name.reason]
        let sameHome = a.address != nil && a.address == b.address
        switch (a.dateOfBirth, b.dateOfBirth) {
        case let (da?, db?):
            switch DateOfBirth.likeness(da, db) {
            case .same: score += 40; reasons.append("same date of birth")
            case .swapped: score += 30; reasons.append("date of birth with day and month swapped (\(da) and \(db))")
            case .oneDigit: score += 25; reasons.append("date of birth one digit apart (\(da) and \(db))")
            case .different: return nil
            }
        case (nil, nil):
            score += 10
            reasons.append("no date of birth on either referral")
        default:
            score += 20
            reasons.append("date of birth missing on one referral")
        }
        if sameHome {
            score += 15
            reasons.append("same address")
        } else if a.postcode != nil, a.postcode == b.postcode {
            score += 5
            reasons.append("same postcode")
        }
        var rounded = min(99, Int(score.rounded()))
        guard rounded >= scoreThreshold else { return nil }
        // Given names a letter apart (Mary and Mark, Harvey and Harley) may be a slip, or twins: said, and never scored high.
        if let given = givenNameSlip(a, b) {
            rounded = min(rounded, givenSlipCeiling)
            reasons.append("the given names differ by a letter (\(given)): check they are not twins or siblings")
        }
        return PersonMatch(kind: .possible, score: rounded, reasons: reasons)
    }

    /// Whether two referrals' people share a household, and why: the same
    /// address, or someone named in both (a household member in one who is a
    /// child or member in the other, by name and date of birth). Nil when not.
    /// Same-child matches between the two referrals' children are `compare`'s, not this.
    public static func household(_ mine: [IndexedPerson], _ theirs: [IndexedPerson]) -> HouseholdLink? {
        var reasons: [String] = []
        if let address = mine.first?.address, address == theirs.first?.address {
            reasons.append("same address")
        }
        for a in mine {
            // By name and date of birth: a name alone names too many people.
            for b in theirs where (a.role == .member || b.role == .member) && a.dateOfBirth != nil && b.dateOfBirth != nil {
                guard let match = compare(a, b) else { continue }
                let here = a.role == .child ? "a child here" : "a household member here"
                let there = b.role == .child ? "the child there" : "a household member there"
                reasons.append("\(a.name ?? "someone") (\(here)) is \(there) (\(match.reasons.joined(separator: ", ")))")
            }
        }
        return reasons.isEmpty ? nil : HouseholdLink(reasons: reasons)
    }

    /// The highest score of a match whose given names differ by a slip.
    public static let givenSlipCeiling = 75

    /// "mary/mark" when the two people's given names (first words, either
    /// order of the name) differ by a typing slip rather than agree.
    static func givenNameSlip(_ a: IndexedPerson, _ b: IndexedPerson) -> String? {
        let wa = words(a.folded), wb = words(b.folded)
        guard let ga = wa.first, let gb = wb.first, ga != gb else { return nil }
        // Names in another order: the given name may be the last word.
        if wb.contains(ga) || wa.contains(gb) { return nil }
        if a.knownAs.contains(where: { $0.split(separator: " ").first == gb }) || b.knownAs.contains(where: { $0.split(separator: " ").first == ga }) {
            return nil
        }
        return isSlip(ga, gb) ? "\(ga)/\(gb)" : nil
    }

    // MARK: Names

    /// How alike two people's names are (0 to 1), with the reason in words;
    /// nil when either has no name. Each name and each known-as name is tried.
    static func nameLikeness(_ a: IndexedPerson, _ b: IndexedPerson) -> (score: Double, reason: String)? {
        guard !a.folded.isEmpty, !b.folded.isEmpty, !isPlaceholder(a.folded), !isPlaceholder(b.folded) else { return nil }
        var best = likeness(words(a.folded), words(b.folded))
        for (alias, other, mine) in alternatives(a).map({ ($0, b, true) }) + alternatives(b).map({ ($0, a, false) }) {
            let tried = mine ? likeness(alias.words, words(other.folded)) : likeness(words(other.folded), alias.words)
            let score = min(tried.score, 0.9)
            if score > best.score { best = (score, "known-as name \(alias.name)" + (tried.reason == "same name" ? "" : ", \(tried.reason)")) }
        }
        return best
    }

    /// Words that stand for a name not given yet ("Baby Smith", "Unborn"): never matched on.
    static let placeholders: Set<Substring> = ["baby", "unborn", "infant", "newborn", "child", "unknown", "unnamed"]

    /// Whether a folded name's given name (its first word) is a placeholder.
    static func isPlaceholder(_ folded: String) -> Bool {
        folded.split(separator: " ").first.map { placeholders.contains($0) } ?? true
    }

    /// A person's other names as whole names: "Zee" for Zoe Smith tries "zee smith".
    private static func alternatives(_ person: IndexedPerson) -> [(name: String, words: [Substring])] {
        let mine = words(person.folded)
        return person.knownAs.map { alias in
            let aliasWords = words(alias)
            return (alias, aliasWords.count >= 2 || mine.count < 2 ? aliasWords : aliasWords + mine.dropFirst())
        }
    }

    private static func words(_ folded: String) -> [Substring] { folded.split(separator: " ") }

    /// Word by word: every word of the shorter name must be in the longer,
    /// exactly or within a typing slip; the first words (given names) must agree.
    static func likeness(_ a: [Substring], _ b: [Substring]) -> (score: Double, reason: String) {
        if a == b { return (1, "same name") }
        if a.sorted() == b.sorted() { return (0.95, "same name, words in another order") }
        let (short, long) = a.count <= b.count ? (a, b) : (b, a)
        guard !short.isEmpty else { return (0, "no name") }
        var used = Set<Int>()
        var total = 0.0
        var slips: [String] = []
        var firstMatched = false
        for (position, word) in short.enumerated() {
            var bestIndex: Int?
            var bestScore = 0.0
            for (index, other) in long.enumerated() where !used.contains(index) {
                let score: Double = word == other ? 1 : isSlip(word, other) ? 0.85 : isShortened(word, other) ? 0.8 : 0
                if score > bestScore { (bestIndex, bestScore) = (index, score) }
                if score == 1 { break }
            }
            guard let index = bestIndex else { return (0, "different names") }
            used.insert(index)
            total += bestScore
            if position == 0, index == 0 || long.count != short.count { firstMatched = true }
            if bestScore < 1 { slips.append("\(word)/\(long[index])") }
        }
        // A one-word name ("Zoe") against a full one is too weak to match.
        guard short.count >= 2 || long.count == 1, firstMatched || short.count == long.count else { return (0, "different names") }
        var score = total / Double(short.count)
        var reason = slips.isEmpty ? "same name words" : "name within a typing slip (\(slips.joined(separator: ", ")))"
        if long.count > short.count {
            score *= 0.85
            reason += "; one name has more words (a middle or double-barrelled name)"
        }
        return (score, reason)
    }

    /// One edit apart (a letter added, dropped, changed, or two swapped) when
    /// the longer word has 4 letters or more; two when it has 8 or more; for
    /// three letters only two swapped. The first letters always agree.
    static func isSlip(_ a: Substring, _ b: Substring) -> Bool {
        // The first letter must agree: Jayden and Kayden, Mason and Jason are other names (twins are often so named).
        guard a.first == b.first else { return false }
        let limit = max(a.count, b.count) >= 8 ? 2 : max(a.count, b.count) >= 4 ? 1 : 0
        // Three letters: only two swapped (zoe and zeo); Tom and Tim are two names.
        if limit == 0 { return a.count == 3 && b.count == 3 && a.sorted() == b.sorted() && a != b }
        guard abs(a.count - b.count) <= limit else { return false }
        return editDistance(Array(a.utf8), Array(b.utf8), limit: limit) <= limit
    }

    /// One name the start of the other, of 3 letters or more: "alex" and "alexander".
    static func isShortened(_ a: Substring, _ b: Substring) -> Bool {
        let (short, long) = a.count <= b.count ? (a, b) : (b, a)
        return short.count >= 3 && long.count > short.count && long.hasPrefix(short)
    }

    /// Optimal string alignment distance (Damerau-Levenshtein without
    /// repeated edits of one substring), stopping once it exceeds `limit`.
    static func editDistance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMinimum = current[0]
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { value = min(value, previous2[j - 2] + 1) }
                current[j] = value
                rowMinimum = min(rowMinimum, value)
            }
            if rowMinimum > limit { return rowMinimum }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}

/// What the index stores a person under and looks them up by (blocking):
/// the keys `IndexedPerson.keys` stores and `PersonLookups.keys` looks up
/// are built by the same rules, so the server's query
/// (`SyncStorage.people(like:)`, table `person_keys`) and `PeopleIndex` in
/// memory find the same candidates, which `PersonMatcher` then compares.
///
/// - `n:<NHS number>`: the same number;
/// - `k:<name words, sorted>`: the same name in any order (and each known-as
///   name with the other words, stored and looked up alike), for children
///   without a date of birth;
/// - `a:<address key>`: the same home (household links, and a name without a date);
/// - `d:<date>|<word>`: a date of birth and one word of the name (each word,
///   and each known-as name): stored under the person's own date, looked up
///   under every date a match may have (`DateOfBirth.variants`). A match
///   needs every word of the shorter name to agree, so at least one word is
///   typed the same on both sides unless every word has a slip.
public enum PersonKeys {
    /// The words a person is filed under: their name's, and each known-as name's.
    static func words(_ person: IndexedPerson) -> Set<Substring> {
        var words = Set(person.folded.split(separator: " "))
        for alias in person.knownAs { words.formUnion(alias.split(separator: " ")) }
        return words
    }

    /// The name keys: the name's words sorted, and each known-as name with the other words.
    static func nameKeys(_ person: IndexedPerson) -> Set<String> {
        var keys: Set<String> = person.folded.isEmpty ? [] : [person.nameKey]
        let words = person.folded.split(separator: " ")
        for alias in person.knownAs {
            let aliasWords = alias.split(separator: " ")
            keys.insert((aliasWords.count >= 2 || words.count < 2 ? aliasWords : aliasWords + words.dropFirst()).sorted().joined(separator: " "))
        }
        return keys
    }
}

extension IndexedPerson {
    /// The keys the index stores this person under (`PersonKeys`).
    public var keys: [String] {
        var keys: Set<String> = []
        if let nhsNumber { keys.insert("n:" + nhsNumber) }
        // Under every name key (known-as names too), so that look-ups find in both directions.
        for name in PersonKeys.nameKeys(self) { keys.insert("k:" + name) }
        if let address { keys.insert("a:" + address) }
        if let dateOfBirth { for word in PersonKeys.words(self) { keys.insert("d:\(dateOfBirth)|\(word)") } }
        return keys.sorted()
    }
}

/// The keys to look a person up by (`PersonKeys`): every person stored
/// under one of them is a candidate for `PersonMatcher`.
public struct PersonLookups: Sendable, Equatable {
    public var keys: [String]

    public init(_ person: IndexedPerson) {
        var keys: Set<String> = []
        if let nhs = person.nhsNumber { keys.insert("n:" + nhs) }
        for name in PersonKeys.nameKeys(person) { keys.insert("k:" + name) }
        if let address = person.address { keys.insert("a:" + address) }
        if let born = person.dateOfBirth {
            let words = PersonKeys.words(person)
            for date in DateOfBirth.variants(born) { for word in words { keys.insert("d:\(date)|\(word)") } }
        }
        self.keys = keys.sorted()
    }
}

/// People held in memory and looked up as the server's index is
/// (`PersonKeys`): for the queue's flags over every listed referral at
/// once, and for the benchmark. A referral's people can be replaced (its
/// earlier entries are left as tombstones, skipped by every look-up).
public struct PeopleIndex: Sendable {
    private var people: [IndexedPerson?] = []
    /// By a key's hash (`hashedKeys`): the same keys as `PersonKeys`, without
    /// building a string for each of the ~200 a look-up tries. Two keys that
    /// share a hash only add a candidate, which `PersonMatcher` then refuses.
    private var byKey: [Int: [Int]] = [:]
    private var byRecord: [String: [Int]] = [:]

    public init(_ people: [IndexedPerson] = []) {
        for person in people { add(person) }
    }

    /// How many people the index holds.
    public var count: Int { byRecord.values.reduce(0) { $0 + $1.count } }

    public mutating func add(_ person: IndexedPerson) {
        let index = people.count
        people.append(person)
        for key in Self.hashedKeys(person, dates: person.dateOfBirth.flatMap(Self.day).map { [$0] } ?? [], names: Array(PersonKeys.nameKeys(person))) {
            byKey[key, default: []].append(index)
        }
        byRecord[person.record, default: []].append(index)
    }

    /// Replaces a referral's people (none: the referral is no longer indexed).
    public mutating func replace(record: String, with replacement: [IndexedPerson]) {
        for index in byRecord[record] ?? [] { people[index] = nil }
        byRecord[record] = nil
        for person in replacement { add(person) }
    }

    /// The people in other referrals that `person`'s look-ups find.
    public func candidates(for person: IndexedPerson) -> [IndexedPerson] {
        var found = Set<Int>()
        let dates = person.dateOfBirth.map { DateOfBirth.variants($0).compactMap(Self.day) } ?? []
        for key in Self.hashedKeys(person, dates: dates, names: Array(PersonKeys.nameKeys(person))) { found.formUnion(byKey[key] ?? []) }
        return found.sorted().compactMap { people[$0] }.filter { $0.record != person.record }
    }

    /// The people of a referral.
    public func people(of record: String) -> [IndexedPerson] { (byRecord[record] ?? []).compactMap { people[$0] } }

    /// `YYYY-MM-DD` as the number YYYYMMDD.
    static func day(_ date: String) -> Int? {
        let parts = date.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        return y * 10_000 + m * 100 + d
    }

    /// `PersonKeys`' keys as hashes: the NHS number, each name key, the
    /// address, and each of `dates` with each word of the name.
    static func hashedKeys(_ person: IndexedPerson, dates: [Int], names: [String]) -> [Int] {
        func hash(_ kind: UInt8, _ parts: (inout Hasher) -> Void) -> Int {
            var hasher = Hasher()
            hasher.combine(kind)
            parts(&hasher)
            return hasher.finalize()
        }
        var keys: [Int] = []
        if let nhs = person.nhsNumber { keys.append(hash(1) { $0.combine(nhs) }) }
        for name in names where !name.isEmpty { keys.append(hash(2) { $0.combine(name) }) }
        if let address = person.address { keys.append(hash(3) { $0.combine(address) }) }
        if !dates.isEmpty {
            let words = PersonKeys.words(person)
            for date in dates { for word in words { keys.append(hash(4) { $0.combine(date); $0.combine(word) }) } }
        }
        return keys
    }
}
