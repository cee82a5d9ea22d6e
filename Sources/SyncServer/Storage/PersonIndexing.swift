import Foundation
import SyncCore

/// The person index (`people`) kept current with the referrals, written
/// once for both backends: every write of a referral's people (a child's
/// name, date of birth, NHS number, a household member, the household's
/// address) or its submission re-indexes that referral in the same
/// transaction (`PushStatements.write` calls `reindex`), so a match is never
/// made against a value the referral no longer holds. Drafts are never
/// indexed: intake never learns a draft exists.
enum PersonIndexing {
    /// The columns of `people`, in the order `row` binds them.
    static let columns = "record_id, item, role, name, folded, name_key, known_as, date_of_birth, nhs_number, postcode, address"

    /// Re-indexes `records` (each referral's rows replaced by its people as
    /// its current values give them; a referral not submitted gets none).
    static func reindex(_ records: [String], in session: any SQLSession) async throws {
        guard !records.isEmpty else { return }
        let list = records.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let binds = records.map { SQLBind.text($0) }
        var fields: [String: [String: String]] = [:]
        for row in try await session.rows("""
            SELECT f.record_id, f.path, f.value FROM fields f JOIN records r ON r.id = f.record_id AND r.status = 'submitted'
            WHERE f.record_id IN (\(list)) AND f.value IS NOT NULL
                AND (f.path LIKE 'children.%' OR f.path LIKE 'household_members.%' OR f.path = 'household.address')
            """, binds)
        {
            fields[try row.text("record_id")!, default: [:]][try row.text("path")!] = try row.text("value")!
        }
        // Two statements: PostgreSQL runs a combined statement's parts on one snapshot, where the insert would meet the rows being deleted.
        try await session.perform([
            session.write("DELETE FROM people WHERE record_id IN (\(list))", binds),
            session.write("DELETE FROM person_keys WHERE record_id IN (\(list))", binds),
        ])
        let people = fields.sorted { $0.key < $1.key }.flatMap { IndexedPerson.people(record: $0.key, fields: $0.value) }
        try await session.perform(
            session.inserts("INSERT INTO people (\(columns))", rows: people.map(row))
                + session.inserts("INSERT INTO person_keys (key, record_id, item)", rows: people.flatMap { person in
                    person.keys.map { [.text($0), .text(person.record), .text(person.item)] }
                }))
    }

    static func row(_ person: IndexedPerson) -> [SQLBind] {
        [.text(person.record), .text(person.item), .text(person.role.rawValue), .text(person.name), .text(person.folded), .text(person.nameKey),
         .text(person.knownAs.isEmpty ? nil : person.knownAs.joined(separator: "|")), .text(person.dateOfBirth), .text(person.nhsNumber),
         .text(person.postcode), .text(person.address)]
    }

    /// A person read back from `people` (`SELECT \(columns)`).
    static func person(_ row: any SQLRow) throws -> IndexedPerson {
        IndexedPerson(
            record: try row.text("record_id")!, item: try row.text("item")!, role: IndexedPerson.Role(rawValue: try row.text("role")!) ?? .child,
            name: try row.text("name"), folded: try row.text("folded") ?? "", knownAs: (try row.text("known_as") ?? "").split(separator: "|").map(String.init),
            dateOfBirth: try row.text("date_of_birth"), nhsNumber: try row.text("nhs_number"), postcode: try row.text("postcode"),
            address: try row.text("address"))
    }

    /// The referrals a plan's writes re-index: those it submitted, and
    /// submitted ones whose people's values it wrote (a draft is not in the
    /// index: the front door does not see it).
    static func touched(by plan: WritePlan) -> [String] {
        var records = Set(plan.fields.lazy.filter { IndexedPerson.isIndexed(path: $0.key.path) && plan.submitted.contains($0.key.record) }.map(\.key.record))
        for (record, status) in plan.statuses where status == ReferralStatus.submitted.rawValue { records.insert(record) }
        return records.sorted()
    }
}

/// What intake decided about two indexed people (`person_links`): the same
/// child (`confirmed`), or not (`rejected`: never suggested again).
struct PersonLink: Sendable, Equatable {
    enum Decision: String, Sendable, CaseIterable {
        case confirmed, rejected
    }

    /// `IndexedPerson.key`s, the smaller first.
    var a: String
    var b: String
    var decision: Decision
    var reason: String
    var decidedBy: String
    var decidedAt: String

    /// The pair's keys in stored order.
    static func pair(_ x: String, _ y: String) -> (a: String, b: String) { x < y ? (x, y) : (y, x) }

    /// The other person of the pair, seen from `key`.
    func other(than key: String) -> String { key == a ? b : a }
}

extension SQLStore {
    // MARK: The person index (issue 28, docs/intake.md "Known to the front door")

    /// The indexed people of `records`.
    func people(of records: [String]) async throws -> [IndexedPerson] {
        guard !records.isEmpty else { return [] }
        return try await reading { session in
            try await session.rows(
                "SELECT \(PersonIndexing.columns) FROM people WHERE record_id IN (\(records.indices.map { "$\($0 + 1)" }.joined(separator: ", "))) ORDER BY record_id, item",
                records.map { .text($0) }
            ).map(PersonIndexing.person)
        }
    }

    /// The people in referrals other than `record` stored under any of
    /// `lookups`' keys (`PersonKeys`), through `person_keys_by_key`: one statement.
    func people(like lookups: [PersonLookups], excluding record: String) async throws -> [IndexedPerson] {
        let keys = Array(Set(lookups.flatMap(\.keys))).sorted()
        guard !keys.isEmpty else { return [] }
        var found: [String: IndexedPerson] = [:]
        // In slices, within every backend's limit on bound values.
        for start in stride(from: 0, to: keys.count, by: 2_000) {
            let slice = Array(keys[start..<min(keys.count, start + 2_000)])
            let list = slice.indices.map { "$\($0 + 2)" }.joined(separator: ", ")
            let rows = try await reading { session in
                try await session.rows("""
                    SELECT \(PersonIndexing.columns.split(separator: ",").map { "p." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                    FROM person_keys k JOIN people p ON p.record_id = k.record_id AND p.item = k.item
                    WHERE k.key IN (\(list)) AND k.record_id <> $1
                    """, [.text(record)] + slice.map { .text($0) })
            }
            for row in rows {
                let person = try PersonIndexing.person(row)
                found[person.key] = person
            }
        }
        return found.values.sorted { $0.key < $1.key }
    }

    /// The referrals whose people may have changed after `revision` (a
    /// write to a child, a household member, the household's address or the
    /// status), and the revision that is complete up to (on PostgreSQL,
    /// below the horizon of writes still in flight). With `Int64.max`, no
    /// referral: only where the log is complete up to.
    func peopleChanges(after revision: Int64) async throws -> (records: [String], through: Int64) {
        let horizon = try await visibilityHorizon() ?? Int64.max
        let rows = try await reading { session in
            try await session.rows("""
                SELECT revision, record_id FROM change_log
                WHERE revision > $1 AND revision < $2 AND kind IN ('write', 'conflict')
                    AND (path LIKE 'children.%' OR path LIKE 'household_members.%' OR path = 'household.address' OR path = '@status')
                UNION ALL
                SELECT coalesce(max(revision), 0), NULL FROM change_log WHERE revision < $2
                ORDER BY 1
                """, [.int(revision), .int(horizon)])
        }
        var records = Set<String>()
        var through = revision == Int64.max ? 0 : revision
        for row in rows {
            guard let record = try row.text("record_id") else {
                through = max(through, try row.int("revision") ?? through)
                continue
            }
            records.insert(record)
        }
        return (records.sorted(), through)
    }

    /// Every indexed person (the queue's flags look them up in memory, `PeopleCache`).
    func allPeople() async throws -> [IndexedPerson] {
        try await reading { session in
            try await session.rows("SELECT \(PersonIndexing.columns) FROM people ORDER BY record_id, item", []).map(PersonIndexing.person)
        }
    }

    /// Intake's decisions about pairs that include any of `keys` (every decision when `keys` is nil).
    func personLinks(touching keys: [String]?) async throws -> [PersonLink] {
        try await reading { session in
            var sql = "SELECT person_a, person_b, decision, reason, decided_by, decided_at FROM person_links"
            var binds: [SQLBind] = []
            if let keys {
                guard !keys.isEmpty else { return [] }
                let list = keys.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
                sql += " WHERE person_a IN (\(list)) OR person_b IN (\(list))"
                binds = keys.map { .text($0) }
            }
            return try await session.rows(sql + " ORDER BY decided_at, person_a, person_b", binds).map {
                PersonLink(
                    a: try $0.text("person_a")!, b: try $0.text("person_b")!, decision: PersonLink.Decision(rawValue: try $0.text("decision")!) ?? .rejected,
                    reason: try $0.text("reason")!, decidedBy: try $0.text("decided_by")!, decidedAt: try $0.text("decided_at")!)
            }
        }
    }

    /// Stores intake's decision about a pair (`link`), or with `link` nil
    /// undoes the one stored for `pair`, in one transaction with `audit`,
    /// once `check` accepts what the pair has now (it throws to refuse).
    /// Returns what was stored for the pair before.
    func setPersonLink(
        pair: (a: String, b: String), check: (PersonLink?) throws -> Void, to link: PersonLink?, audit: [AuditEvent]
    ) async throws -> PersonLink? {
        try await writing { transaction in
            // Decisions are taken in turn (the audit trail's), so two workers deciding one pair at once get a clear answer.
            try await transaction.takeAuditTurn()
            let previous = try await transaction.sql.rows(
                "SELECT decision, reason, decided_by, decided_at FROM person_links WHERE person_a = $1 AND person_b = $2", [.text(pair.a), .text(pair.b)]
            ).first.map {
                PersonLink(
                    a: pair.a, b: pair.b, decision: PersonLink.Decision(rawValue: try $0.text("decision")!) ?? .rejected, reason: try $0.text("reason")!,
                    decidedBy: try $0.text("decided_by")!, decidedAt: try $0.text("decided_at")!)
            }
            try check(previous)
            try await transaction.sql.run("DELETE FROM person_links WHERE person_a = $1 AND person_b = $2", [.text(pair.a), .text(pair.b)])
            if let link {
                try await transaction.sql.run(
                    "INSERT INTO person_links (person_a, person_b, decision, reason, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    [.text(link.a), .text(link.b), .text(link.decision.rawValue), .text(link.reason), .text(link.decidedBy), .text(link.decidedAt)])
            }
            for event in audit { try await transaction.audit(event) }
            return previous
        }
    }

    /// Indexes every submitted referral the index does not hold (submitted
    /// before the index existed, or restored from an older backup), in
    /// batches; run by `serve` at start. Returns how many it indexed.
    @discardableResult
    func indexUnindexedReferrals() async throws -> Int {
        let missing = try await reading { session in
            try await session.rows("""
                SELECT r.id FROM records r WHERE r.status = 'submitted' AND NOT EXISTS (SELECT 1 FROM people p WHERE p.record_id = r.id)
                    AND EXISTS (SELECT 1 FROM fields f WHERE f.record_id = r.id AND (f.path LIKE 'children.%' OR f.path LIKE 'household_members.%'))
                ORDER BY r.id
                """, []).map { try $0.text("id")! }
        }
        for start in stride(from: 0, to: missing.count, by: 500) {
            let batch = Array(missing[start..<min(missing.count, start + 500)])
            try await writing { try await PersonIndexing.reindex(batch, in: $0.sql) }
        }
        return missing.count
    }
}

extension SQLStore {
    /// The current value of `path` in each of `records` that has one (for
    /// "known to the front door": each referral's concern summary).
    func values(of path: String, in records: [String]) async throws -> [String: String] {
        var values: [String: String] = [:]
        for start in stride(from: 0, to: records.count, by: 500) {
            let slice = Array(records[start..<min(start + 500, records.count)])
            try await reading { session in
                for row in try await session.rows(
                    "SELECT record_id, value FROM fields WHERE path = $1 AND value IS NOT NULL AND record_id IN (\(slice.indices.map { "$\($0 + 2)" }.joined(separator: ", ")))",
                    [.text(path)] + slice.map { .text($0) })
                {
                    values[try row.text("record_id")!] = try row.text("value")!
                }
            }
        }
        return values
    }
}
