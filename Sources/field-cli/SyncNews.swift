import Foundation
import SyncCore

/// What a sync brought, referral by referral, in words: the front door's
/// acknowledgement and decisions, and conflicts opened or closed. Computed
/// by comparing each referral's sync state before and after the sync, so it
/// says only what this sync changed.
enum SyncNews {
    /// One line per referral with news, such as
    /// `01a207a4-0b28 (Amy Smith): acknowledged by ian at 2026-11-23T13:10:00Z; decided: Advice given`;
    /// empty when nothing changed for any referral.
    /// - Parameter path: a stored path as a person types it, in a referral.
    static func lines(
        before: [SyncStatus], after: [SyncStatus], summaries: [ReferralSummary], path: (String, UUID) -> String = { path, _ in path }
    ) -> [String] {
        let earlier = Dictionary(before.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let ids = summaries.map(\.id)
        let labels = Dictionary(summaries.map { ($0.id, $0.label) }, uniquingKeysWith: { first, _ in first })
        return after.compactMap { status in
            let news = items(before: earlier[status.id], after: status) { path($0, status.id) }
            guard !news.isEmpty else { return nil }
            let name = labels[status.id].flatMap { $0 }.map { " (\($0))" } ?? ""
            return "\(Format.shortID(status.id, among: ids))\(name): " + news.joined(separator: "; ")
        }
    }

    /// The news of one referral, oldest kind first: acknowledgement, decisions, conflicts.
    static func items(before: SyncStatus?, after: SyncStatus, path: (String) -> String = { $0 }) -> [String] {
        var news: [String] = []
        let door = after.frontDoor
        if before?.frontDoor[IntakePath.reference] == nil, let reference = door[IntakePath.reference] {
            news.append("its reference is \(reference): quote it to the front door")
        }
        if before?.frontDoor[IntakePath.acknowledgedAt] == nil, let at = door[IntakePath.acknowledgedAt] {
            news.append("acknowledged by \(door[IntakePath.acknowledgedBy] ?? "the front door") at \(at)")
        }
        if let rating = door[IntakePath.rating], before?.frontDoor[IntakePath.ratedAt] != door[IntakePath.ratedAt] {
            news.append("rated \(RAGRating(rawValue: rating)?.title ?? rating)")
        }
        if let at = door[IntakePath.seenAt], before?.frontDoor[IntakePath.seenAt] != at {
            news.append("the front door saw the changes it had by \(at); its decision stood then")
        }
        let known = before?.decisions.count ?? 0
        for (index, decision) in after.decisions.enumerated() where index >= known {
            news.append((index == 0 ? "decided: " : "decision changed: ") + decision.title)
        }
        let wasOpen = Set(before?.conflicts.map(\.path) ?? [])
        let isOpen = Set(after.conflicts.map(\.path))
        for stored in isOpen.subtracting(wasOpen).sorted() { news.append("conflict on \(path(stored)), waiting for an admin") }
        for stored in wasOpen.subtracting(isOpen).sorted() {
            let settled = after.resolved.last { $0.path == stored }?.resolution
            news.append("conflict on \(path(stored)) resolved" + (settled.map { " by \($0.by) because \($0.reason)" } ?? ""))
        }
        return news
    }
}

/// `sync --json`: the summary's keys, and `news`, the lines `SyncNews` gives.
struct SyncDocument: Encodable {
    let summary: SyncSummary
    let news: [String]

    enum CodingKeys: String, CodingKey { case news }

    func encode(to encoder: Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(news, forKey: .news)
    }
}
