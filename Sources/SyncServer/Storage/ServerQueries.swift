import Foundation
import SyncCore

/// SQL both backends run as it is. Placeholders are PostgreSQL's (`$1`);
/// `ServerQueries.sqlite(_:)` turns them into SQLite's (`SQLDialect.statement`).
enum ServerQueries {
    /// A statement with `$N` placeholders as SQLite reads it (`?N`).
    static func sqlite(_ sql: String) -> String { SQLDialect.sqlite.statement(sql) }

    /// The front door's own words (`IntakePath.internalPaths`) as an SQL list:
    /// a practitioner's pull leaves them out.
    static let internalPaths = IntakePath.internalPaths.sorted().map { "'\($0)'" }.joined(separator: ", ")

    /// The revision of the front door's last acknowledgement, decision or
    /// "seen: decision stands" of referral `r.id` (NULL before it acknowledged anything).
    static let frontDoorSeen = """
        (SELECT max(revision) FROM fields WHERE record_id = r.id AND path IN ('@acknowledged_at', '@decided_at', '@seen_at'))
        """

    /// Submitted referrals, first submitted first: id, kind, when and under
    /// which receipt it was submitted, acknowledgement and outcome, when the
    /// last change after the front door's acknowledgement or decision
    /// arrived, how many conflicts are open, the first child's name (items
    /// ids are time-ordered, so by path is by when the child was added), how
    /// many children, the referrer's agency and the immediate-risk answer.
    static let submittedReferrals = """
        SELECT r.id,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@kind') AS kind,
            s.at AS submitted_at, a.receipt,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@acknowledged_at') AS acknowledged_at,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@outcome') AS outcome,
            (SELECT max(l.at) FROM change_log l
                WHERE l.record_id = r.id AND substr(l.path, 1, 1) <> '@' AND l.revision > \(frontDoorSeen)) AS changed_at,
            (SELECT count(*) FROM conflicts c WHERE c.record_id = r.id AND c.status = 'open') AS open_conflicts,
            (SELECT f.value FROM fields f
                JOIN fields i ON i.record_id = f.record_id AND i.path = substr(f.path, 1, length(f.path) - length('.full_name')) AND i.value = 'present'
                WHERE f.record_id = r.id AND f.path LIKE 'children.%.full_name' AND f.value IS NOT NULL
                ORDER BY f.path LIMIT 1) AS child_name,
            (SELECT count(*) FROM fields i
                WHERE i.record_id = r.id AND i.path LIKE 'children.%' AND i.path NOT LIKE 'children.%.%' AND i.value = 'present') AS children,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'referrer.agency') AS agency,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.immediate_risk') AS immediate_risk,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@rating') AS rating,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@rated_at') AS rated_at,
            (SELECT value FROM fields WHERE record_id = r.id AND path = '@reference') AS reference,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.child_safe_now') AS child_safe_now,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.deadline') AS deadline,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.call_made') AS call_made,
            (SELECT value FROM fields WHERE record_id = r.id AND path = 'urgency.call_at') AS call_at,
            (SELECT min(at) FROM change_log WHERE record_id = r.id AND path = '@decided_at' AND kind = 'write') AS first_decided_at
        FROM records r
        JOIN change_log s ON s.revision = (
            SELECT min(revision) FROM change_log
            WHERE record_id = r.id AND path = '@status' AND value = 'submitted' AND kind = 'write')
        LEFT JOIN applied a ON a.device_id = s.device_id AND a.seq = s.seq
        WHERE r.status = 'submitted'
        """

    /// `submittedReferrals`, first submitted first.
    static let allSubmittedReferrals = submittedReferrals + " ORDER BY s.revision"

    /// `submittedReferrals` of the referrals `$1`, `$2`… only, first submitted first.
    static func submittedReferrals(among count: Int) -> String {
        submittedReferrals + " AND r.id IN (" + (1...max(count, 1)).map { "$\($0)" }.joined(separator: ", ") + ") ORDER BY s.revision"
    }

    /// `$1`: a referral. Its change-log entries after the front door's last
    /// acknowledgement or decision, on its own fields: path, at, author, kind.
    static let changesSinceFrontDoor = """
        SELECT l.path, l.at, l.author, l.kind, l.value,
            (SELECT p.value FROM change_log p
                WHERE p.record_id = l.record_id AND p.path = l.path AND p.kind IN ('write', 'conflict') AND p.revision <= \(frontDoorSeen)
                ORDER BY p.revision DESC LIMIT 1) AS previous
        FROM change_log l JOIN records r ON r.id = l.record_id
        WHERE l.record_id = $1 AND substr(l.path, 1, 1) <> '@' AND l.revision > \(frontDoorSeen)
        ORDER BY l.revision
        """

    /// `$1`: a referral. Its whole change log, oldest first, each entry with
    /// the reason of the admin's resolution it carries out (if it does).
    static let history = """
        SELECT l.revision, l.kind, l.path, l.value, l.author, l.device_id, l.at, l.conflict_id, c.reason AS resolution_reason
        FROM change_log l LEFT JOIN conflicts c ON c.resolution_revision = l.revision AND c.record_id = l.record_id
        WHERE l.record_id = $1
        ORDER BY l.revision
        """

    /// The fields search looks in (`fields_for_search`, a partial index, and
    /// `searchTerms`, which repeats this text so that both backends see the
    /// query's condition is the index's): children's names, other names and
    /// NHS numbers, the children's item markers, the referrer's agency and
    /// the referral's own reference.
    static let searchable = """
        (path LIKE 'children.%.full_name' OR path LIKE 'children.%.aliases' OR path LIKE 'children.%.nhs_number' \
        OR (path LIKE 'children.%' AND path NOT LIKE 'children.%.%') OR path = 'referrer.agency' OR path = '@reference')
        """

    /// Every searchable value (`searchable`) of every referral, with its status: record id, path, value, status.
    static let searchTerms = """
        SELECT f.record_id, f.path, f.value, r.status FROM fields f JOIN records r ON r.id = f.record_id
        WHERE \(searchable.replacingOccurrences(of: "path", with: "f.path")) AND f.value IS NOT NULL
        """

    /// `$1`: a revision; `$2`: the horizon (no revision at or above it is
    /// read). The searchable entries and status changes after `$1`, then one
    /// row of the highest revision below `$2` (record NULL): one statement,
    /// one snapshot, so nothing committed between the two is missed.
    static let searchChanges = """
        SELECT revision, record_id, path, value FROM change_log
        WHERE revision > $1 AND revision < $2 AND kind IN ('write', 'conflict') AND (\(searchable) OR path = '@status')
        UNION ALL
        SELECT coalesce(max(revision), 0), NULL, NULL, NULL FROM change_log WHERE revision < $2
        ORDER BY 1
        """
}
