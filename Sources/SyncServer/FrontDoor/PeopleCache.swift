import Foundation
import SyncCore

/// The person index held in memory by each instance, for the queue's flags
/// over every listed referral at once (`FrontDoor.recentReferrals(for:)`),
/// brought up to date from the change log before every use, as
/// `SearchIndex` is: the first use reads every indexed person
/// (`SyncStorage.allPeople`), each later one only the referrals whose people
/// changed since (`SyncStorage.peopleChanges`), read again from the index.
/// On PostgreSQL the log is read below the horizon of writes in flight, so a
/// change that commits late is read by a later use.
///
/// Each person's matches are computed once and kept until a change touches
/// them (`remember`), so a queue of thousands costs look-ups, not comparisons.
///
/// Memory: about 1 KB a person (their values, about six keys, their
/// matches): some 100 MB at 100,000 people. One referral's related referrals are read from the
/// stored index instead (`SyncStorage.people(like:)`), never from here.
actor PeopleCache {
    /// The index as one reading sees it: the people, each person's matches the
    /// cache already knows (`PersonMatcher.compare` over their candidates), and
    /// the generation they belong to.
    struct Snapshot: Sendable {
        var index: PeopleIndex
        var neighbours: [String: [(person: IndexedPerson, match: PersonMatch)]]
        var generation: Int
    }

    private var index = PeopleIndex()
    /// Each person's matches, by key, computed once and kept until a change
    /// touches them: a change to a referral's people forgets the matches of
    /// everyone its old and new people's look-ups find (the look-ups are
    /// symmetric, `PersonKeys`), and of those people themselves.
    private var neighbours: [String: [(person: IndexedPerson, match: PersonMatch)]] = [:]
    private var generation = 0
    /// Up to this many referrals changed since the last use, only the matches they touch are forgotten; beyond, all.
    static let targetedForgetting = 500
    /// The revision the cache is complete up to; nil before the first load.
    private var through: Int64?

    /// The index as of now.
    func current(_ storage: any SyncStorage) async throws -> Snapshot {
        guard let known = through else {
            let complete = try await storage.peopleChanges(after: Int64.max).through
            index = PeopleIndex(try await storage.allPeople())
            neighbours = [:]
            generation += 1
            through = complete
            return try await current(storage)
        }
        let (records, complete) = try await storage.peopleChanges(after: known)
        if !records.isEmpty {
            let people = Dictionary(grouping: try await storage.people(of: records), by: \.record)
            // Many changes at once (an import, a restore): forgetting every match costs less than finding whose to forget.
            let forgetAll = neighbours.isEmpty || records.count > Self.targetedForgetting
            if forgetAll { neighbours = [:] }
            for record in records {
                let replacement = people[record] ?? []
                if !forgetAll {
                    for person in index.people(of: record) + replacement {
                        neighbours[person.key] = nil
                        for candidate in index.candidates(for: person) { neighbours[candidate.key] = nil }
                    }
                }
                index.replace(record: record, with: replacement)
                if !forgetAll { for person in replacement { for candidate in index.candidates(for: person) { neighbours[candidate.key] = nil } } }
            }
            generation += 1
        }
        through = max(known, complete)
        return Snapshot(index: index, neighbours: neighbours, generation: generation)
    }

    /// Keeps matches computed from the snapshot of `generation`, unless the index changed since.
    func remember(_ computed: [String: [(person: IndexedPerson, match: PersonMatch)]], generation: Int) {
        guard generation == self.generation else { return }
        neighbours.merge(computed) { _, new in new }
    }
}
