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
/// Memory: about 1 KB a person (their values and about six keys): some 100 MB
/// at 100,000 people. One referral's related referrals are read from the
/// stored index instead (`SyncStorage.people(like:)`), never from here.
actor PeopleCache {
    private var index = PeopleIndex()
    /// The revision the cache is complete up to; nil before the first load.
    private var through: Int64?

    /// The index as of now.
    func current(_ storage: any SyncStorage) async throws -> PeopleIndex {
        guard let known = through else {
            let complete = try await storage.peopleChanges(after: Int64.max).through
            index = PeopleIndex(try await storage.allPeople())
            through = complete
            return try await current(storage)
        }
        let (records, complete) = try await storage.peopleChanges(after: known)
        if !records.isEmpty {
            let people = Dictionary(grouping: try await storage.people(of: records), by: \.record)
            for record in records { index.replace(record: record, with: people[record] ?? []) }
        }
        through = max(known, complete)
        return index
    }
}
