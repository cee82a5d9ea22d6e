import Foundation
import SyncCore

/// A child's earlier referrals, joined (issue 28, docs/intake.md "Known to
/// the front door"): for one referral, who its children are or may be in
/// other referrals (`PersonMatcher` over the person index), its household's
/// other referrals, every referral known about them, and the counts and
/// accumulation flag the queue shows. Reads only; intake's decisions about
/// possible matches are `decideMatch`.
///
/// The same child: the same valid NHS number, or a pair intake confirmed,
/// followed from one referral to the next (a chain of confirmations joins
/// them all). A possible match is only a suggestion until intake confirms
/// it; a rejected pair is never suggested again. Nothing is merged: each
/// referral stays exactly as it was sent.
extension FrontDoor {
    /// Where the people come from: the index in storage (one referral) or in memory (the whole queue).
    struct PeopleSource {
        /// The people in other referrals a person's look-ups find that match them (`PersonMatcher.compare`), with the match.
        var neighbours: (IndexedPerson) async throws -> [(person: IndexedPerson, match: PersonMatch)]
        /// The people of a referral.
        var people: (String) async throws -> [IndexedPerson]
        /// Intake's decisions about pairs including `key`.
        var links: (String) async throws -> [PersonLink]
    }

    /// One child's relations: the same child elsewhere (closure), possible and rejected matches.
    struct ChildMatches {
        var child: IndexedPerson
        /// The same child in other referrals, with how each is known to be.
        var same: [(person: IndexedPerson, kind: PersonRelation.Kind, match: PersonMatch?, link: PersonLink?)] = []
        var possible: [(person: IndexedPerson, match: PersonMatch)] = []
        var rejected: [(person: IndexedPerson, match: PersonMatch?, link: PersonLink)] = []
        /// Every valid NHS number the group (the child and the same child elsewhere) gives.
        var nhsNumbers: Set<String> = []
        /// People intake said are not this child (rejected against any of the group), by key, with the decision.
        var excluded: [String: PersonLink] = [:]

        /// Everyone the group holds: the child and the same child elsewhere.
        var group: [IndexedPerson] { [child] + same.map(\.person) }
    }

    /// The most people one chain of "same child" is followed to.
    static let maximumChain = 200

    /// Who `child` is, or may be, in other referrals: the group joined by the
    /// same NHS number and by confirmed pairs, followed from one referral to
    /// the next, never joining a person with another valid NHS number than
    /// the group's or one intake rejected against any of it; the possible
    /// matches of the child (not already in the group, not rejected against
    /// any of it, no other NHS number); and the pairs rejected against the child.
    static func matches(of child: IndexedPerson, in source: PeopleSource) async throws -> ChildMatches {
        var result = ChildMatches(child: child)
        result.nhsNumbers = child.nhsNumber.map { [$0] } ?? []
        var seen: Set<String> = [child.key]
        var queue = [child]
        var suggestions: [String: (IndexedPerson, PersonMatch)] = [:]
        func conflicts(_ person: IndexedPerson) -> Bool {
            guard let number = person.nhsNumber, !result.nhsNumbers.isEmpty else { return false }
            return !result.nhsNumbers.contains(number)
        }
        func found(_ key: String) async throws -> IndexedPerson? {
            guard let record = key.split(separator: "/").first else { return nil }
            return try await source.people(String(record)).first { $0.key == key }
        }
        while !queue.isEmpty, seen.count < maximumChain {
            let person = queue.removeFirst()
            let links = try await source.links(person.key)
            for link in links where link.decision == .rejected { result.excluded[link.other(than: person.key)] = link }
            var next: [(IndexedPerson, PersonRelation.Kind, PersonMatch?, PersonLink?)] = []
            for (candidate, match) in try await source.neighbours(person) where candidate.role == .child && !seen.contains(candidate.key) {
                let pair = PersonLink.pair(person.key, candidate.key)
                let link = links.first { $0.a == pair.a && $0.b == pair.b }
                if link?.decision == .rejected {
                    if person.key == child.key { result.rejected.append((candidate, match, link!)) }
                } else if match.kind == .sameNHSNumber || link?.decision == .confirmed {
                    next.append((candidate, match.kind == .sameNHSNumber ? .sameNHSNumber : .confirmed, match, link))
                } else if person.key == child.key {
                    suggestions[candidate.key] = (candidate, match)
                }
            }
            // Confirmed pairs matching no longer finds (intake's word stands), and the child's rejected ones.
            for link in links {
                let other = link.other(than: person.key)
                guard !seen.contains(other), !next.contains(where: { $0.0.key == other }) else { continue }
                if link.decision == .confirmed, let person = try await found(other) {
                    next.append((person, .confirmed, nil, link))
                } else if link.decision == .rejected, person.key == child.key, !result.rejected.contains(where: { $0.person.key == other }),
                    let person = try await found(other)
                {
                    result.rejected.append((person, nil, link))
                }
            }
            for (found, kind, match, link) in next where !seen.contains(found.key) {
                // Never joined: another valid NHS number than the group's, or someone rejected against the group.
                guard !conflicts(found), result.excluded[found.key] == nil else { continue }
                seen.insert(found.key)
                if let number = found.nhsNumber { result.nhsNumbers.insert(number) }
                var match = match
                if person.key != child.key {
                    // Reached through someone else in the group: say so.
                    match?.reasons.append("through \(person.key)")
                }
                result.same.append((found, kind, match, link))
                queue.append(found)
            }
        }
        // Not suggested: already in the group, rejected against any of it, or with another NHS number,
        // nor when the suggestion's own group has another NHS number or a rejection against this one.
        var possible: [(person: IndexedPerson, match: PersonMatch)] = []
        for (person, match) in suggestions.values where !seen.contains(person.key) && result.excluded[person.key] == nil && !conflicts(person) {
            let theirs = try await group(of: person, in: source)
            if !theirs.nhsNumbers.isEmpty, !result.nhsNumbers.isEmpty, theirs.nhsNumbers.isDisjoint(with: result.nhsNumbers) { continue }
            if !theirs.members.isDisjoint(with: result.excluded.keys) || !theirs.excluded.isDisjoint(with: seen) { continue }
            possible.append((person, match))
        }
        result.possible = possible.sorted { ($0.match.score, $1.person.key) > ($1.match.score, $0.person.key) }
        return result
    }

    /// A person's group as far as certain links go (the same NHS number and
    /// confirmed pairs, no suggestions): its members' keys, their NHS numbers,
    /// and the people rejected against any of them.
    static func group(of person: IndexedPerson, in source: PeopleSource) async throws -> (members: Set<String>, nhsNumbers: Set<String>, excluded: Set<String>) {
        var members: Set<String> = [person.key]
        var numbers = Set(person.nhsNumber.map { [$0] } ?? [])
        var excluded = Set<String>()
        var queue = [person]
        while !queue.isEmpty, members.count < maximumChain {
            let next = queue.removeFirst()
            let links = try await source.links(next.key)
            for link in links where link.decision == .rejected { excluded.insert(link.other(than: next.key)) }
            var joined = try await source.neighbours(next).filter { $0.match.kind == .sameNHSNumber && $0.person.role == .child }.map(\.person)
            for link in links where link.decision == .confirmed {
                let other = link.other(than: next.key)
                if let record = other.split(separator: "/").first, let found = try await source.people(String(record)).first(where: { $0.key == other }) {
                    joined.append(found)
                }
            }
            for found in joined where !excluded.contains(found.key) && members.insert(found.key).inserted {
                if let number = found.nhsNumber { numbers.insert(number) }
                queue.append(found)
            }
        }
        return (members, numbers, excluded)
    }

    /// The stored index as a `PeopleSource`, each referral's people read once.
    static func source(_ storage: any SyncStorage, known: [String: [IndexedPerson]] = [:]) -> PeopleSource {
        var cache = known
        return PeopleSource(
            neighbours: { person in
                try await storage.people(like: [PersonLookups(person)], excluding: person.record).compactMap { candidate in
                    PersonMatcher.compare(person, candidate).map { (candidate, $0) }
                }
            },
            people: { record in
                if let known = cache[record] { return known }
                let found = try await storage.people(of: [record])
                cache[record] = found
                return found
            },
            links: { try await storage.personLinks(touching: [$0]) })
    }

    /// Everything the front door knows of referral `id`'s children and
    /// household from other referrals, at `now`; nil for a draft or an unknown id.
    func related(_ id: String, in storage: any SyncStorage, now: Date) async throws -> RelatedReferrals? {
        guard let row = try await storage.submittedReferrals(among: [id]).first else { return nil }
        let mine = try await storage.people(of: [id])
        let source = Self.source(storage, known: [id: mine])
        var children: [ChildMatches] = []
        for child in mine where child.role == .child { children.append(try await Self.matches(of: child, in: source)) }

        // The household: every referral a look-up of anyone here finds, compared as a whole.
        let found = try await storage.people(like: mine.map(PersonLookups.init), excluding: id)
        let sameChild = Set(children.flatMap { $0.same.map(\.person.record) })
        var householdLinks: [(record: String, link: HouseholdLink)] = []
        let byRecord = Dictionary(grouping: found, by: \.record)
        let theirs = try await storage.people(of: byRecord.keys.filter { !sameChild.contains($0) }.sorted())
        for (record, people) in Dictionary(grouping: theirs, by: \.record).sorted(by: { $0.key < $1.key }) {
            if let link = PersonMatcher.household(mine, people) { householdLinks.append((record, link)) }
        }

        var records = Set(children.flatMap { $0.same.map(\.person.record) + $0.possible.map(\.person.record) + $0.rejected.map(\.person.record) })
        records.formUnion(householdLinks.map(\.record))
        records.insert(id)
        let glances = try await glances(of: records.sorted(), in: storage)
        func glance(_ record: String) -> ReferralGlance {
            glances[record] ?? ReferralGlance(id: record, reference: nil, submittedAt: "", agency: nil, rating: nil, outcome: nil, summary: nil)
        }

        let relations = children.map { matches -> ChildRelations in
            var relations = matches.same.map { same in
                PersonRelation(
                    person: same.person.key, name: same.person.name, dateOfBirth: same.person.dateOfBirth, kind: same.kind, score: same.match?.score,
                    reasons: same.match?.reasons ?? [], referral: glance(same.person.record), decidedBy: same.link?.decidedBy,
                    decidedAt: same.link?.decidedAt, decisionReason: same.link?.reason)
            }
            relations += matches.possible.map {
                PersonRelation(
                    person: $0.person.key, name: $0.person.name, dateOfBirth: $0.person.dateOfBirth, kind: .possible, score: $0.match.score,
                    reasons: $0.match.reasons, referral: glance($0.person.record))
            }
            relations += matches.rejected.map {
                PersonRelation(
                    person: $0.person.key, name: $0.person.name, dateOfBirth: $0.person.dateOfBirth, kind: .rejected, score: $0.match?.score,
                    reasons: $0.match?.reasons ?? [], referral: glance($0.person.record), decidedBy: $0.link.decidedBy, decidedAt: $0.link.decidedAt,
                    decisionReason: $0.link.reason)
            }
            let chronology = Set([id] + matches.same.map(\.person.record)).map(glance).sorted { ($0.submittedAt, $0.id) < ($1.submittedAt, $1.id) }
            return ChildRelations(
                person: matches.child.key, name: matches.child.name, dateOfBirth: matches.child.dateOfBirth, matches: relations, chronology: chronology)
        }
        let household = householdLinks.map { HouseholdRelation(referral: glance($0.record), reasons: $0.link.reasons) }
        let known = Set(children.flatMap { $0.same.map(\.person.record) } + householdLinks.map(\.record)).subtracting([id]).map(glance)
            .sorted { ($0.submittedAt, $0.id) < ($1.submittedAt, $1.id) }
        let (recent, accumulation) = recentReferrals(
            same: [glance(id)] + Set(children.flatMap { $0.same.map(\.person.record) }).subtracting([id]).map(glance),
            possible: Set(children.flatMap { $0.possible.map(\.person.record) }).map(glance), since: windowStart(now))
        return RelatedReferrals(
            id: id, reference: row.reference, children: relations, household: household, known: known, recent: recent, accumulation: accumulation)
    }

    /// When the accumulation rule's window (`AccumulationRule.months` before `now`) starts.
    func windowStart(_ now: Date) -> Date {
        Calendar(identifier: .gregorian).date(byAdding: .month, value: -calendar.authority.accumulationRule.months, to: now) ?? now
    }

    /// The counts and accumulation flag over a child's referrals (`same`,
    /// this one included) and possible matches submitted since `start` (`windowStart`).
    func recentReferrals(same: [ReferralGlance], possible: [ReferralGlance], since start: Date) -> (RecentReferrals, String?) {
        let rule = calendar.authority.accumulationRule
        func inWindow(_ glance: ReferralGlance) -> Bool { (Timestamp.date(glance.submittedAt) ?? .distantPast) >= start }
        let window = same.filter(inWindow)
        let agencies = Set(window.map { QueueFilter.fold($0.agency ?? "") }.filter { !$0.isEmpty })
        let recent = RecentReferrals(referrals: window.count, agencies: agencies.count, months: rule.months, possible: possible.filter(inWindow).count)
        return (recent, window.count >= rule.referrals ? rule.flag(ratings: window.map(\.rating)) : nil)
    }

    /// Each referral at a glance: its row and its concern's summary.
    func glances(of records: [String], in storage: any SyncStorage) async throws -> [String: ReferralGlance] {
        let rows = try await storage.submittedReferrals(among: records)
        let summaries = try await storage.values(of: "concern.summary", in: records)
        return Dictionary(rows.map { ($0.id, Self.glance($0, summary: summaries[$0.id])) }, uniquingKeysWith: { first, _ in first })
    }

    /// A queue row at a glance, with the concern's summary when it was read.
    static func glance(_ row: SubmittedReferral, summary: String? = nil) -> ReferralGlance {
        ReferralGlance(
            id: row.id, reference: row.reference, submittedAt: row.submittedAt, agency: row.agency, rating: row.rating, outcome: row.outcome, summary: summary)
    }

    /// For each of `rows` (the queue's referrals), its children's referrals in
    /// the rule's window and the accumulation flag, from the index held in
    /// memory (`PeopleCache`, brought up to date first) and one read of
    /// intake's decisions, whatever the number of rows.
    func recentReferrals(for rows: [SubmittedReferral], in storage: any SyncStorage, now: Date) async throws -> [String: (RecentReferrals, String?)] {
        guard !rows.isEmpty else { return [:] }
        let snapshot = try await people.current(storage)
        let index = snapshot.index
        // Each person's matches, as the cache knows them or computed now (and handed back to it).
        var computed: [String: [(person: IndexedPerson, match: PersonMatch)]] = [:]
        var linksByPerson: [String: [PersonLink]] = [:]
        for link in try await storage.personLinks(touching: nil) {
            linksByPerson[link.a, default: []].append(link)
            linksByPerson[link.b, default: []].append(link)
        }
        let source = PeopleSource(
            neighbours: { person in
                if let known = snapshot.neighbours[person.key] ?? computed[person.key] { return known }
                let found = index.candidates(for: person).compactMap { candidate in PersonMatcher.compare(person, candidate).map { (candidate, $0) } }
                computed[person.key] = found
                return found
            },
            people: { index.people(of: $0) }, links: { linksByPerson[$0] ?? [] })
        var matched: [String: (same: Set<String>, possible: Set<String>)] = [:]
        var needed = Set<String>()
        for row in rows {
            var same: Set<String> = [row.id]
            var possible = Set<String>()
            for child in index.people(of: row.id) where child.role == .child {
                let matches = try await Self.matches(of: child, in: source)
                same.formUnion(matches.same.map(\.person.record))
                possible.formUnion(matches.possible.map(\.person.record))
            }
            matched[row.id] = (same, possible.subtracting(same))
            needed.formUnion(same)
            needed.formUnion(possible)
        }
        var glances = Dictionary(rows.map { ($0.id, Self.glance($0)) }, uniquingKeysWith: { first, _ in first })
        for row in try await storage.submittedReferrals(among: needed.subtracting(glances.keys).sorted()) { glances[row.id] = Self.glance(row) }
        if !computed.isEmpty { await people.remember(computed, generation: snapshot.generation) }
        let start = windowStart(now)
        return matched.mapValues { sets in
            recentReferrals(same: sets.same.compactMap { glances[$0] }, possible: sets.possible.compactMap { glances[$0] }, since: start)
        }
    }
}
