import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The queue as its page shows it (`ConsoleTemplates.queue`): counts of what
/// is undecided by urgency, the search and filters, and one row per
/// referral in triage order (`FrontDoor.queue`).
struct QueuePage {
    struct Row {
        let id: String
        let reference: String
        let kind: String
        let child: String
        let agency: String
        let submitted: String
        let acknowledgeDue: String
        let acknowledgeOverdue: Bool
        let decideDue: String?
        let decisionOverdue: Bool
        let immediateRisk: Bool
        let notSafeNow: Bool
        let deadline: String?
        let lado: Bool
        let changed: Bool
        let conflicts: String?
        let sameNHS: [Link]
        /// "3 referrals in 12 months from 3 agencies": the child referred before.
        let knownReferrals: String?
        /// "2 possible matches to check".
        let possibleMatches: String?
        let accumulation: String?
        let rating: String?
        let ratingTitle: String
        let state: String
        /// `risk` or `overdue` (tinted, and said in words in the row).
        let tint: String
    }

    struct Link {
        let id: String
        let reference: String
    }

    struct Choice {
        let value: String
        let label: String
        let selected: Bool
    }

    struct View {
        let href: String
        let label: String
        let current: Bool
    }

    struct Count {
        let label: String
        let count: Int
        /// Loud: immediate risk, not safe now, overdue.
        let alarm: Bool
    }

    let zone: String
    let rows: [Row]
    let caption: String
    let views: [View]
    let counts: [Count]
    let overdueCount: Int?
    let search: String
    let view: String
    let ratings: [Choice]
    let agencies: [Choice]
    let csv: String
    let filtered: Bool
    /// Mustache reads stored properties only (through `Mirror`).
    let hasRows: Bool
}

extension ConsoleRoutes {
    static let viewLabels: [(QueueView, String)] = [
        (.active, "Needs the front door"), (.open, "Not decided"), (.overdue, "Overdue"), (.decided, "Decided"), (.all, "All"),
    ]

    /// The filter a queue page or its CSV asks for; a bad value is a 400 page naming it.
    private func queueFilter(_ request: Request, staff: Staff) throws -> QueueFilter {
        do {
            return try QueueFilter(try Self.query(QueueQuery.self, request, staff: staff).parameters, defaultView: .active)
        } catch let error as APIError {
            throw ConsoleError(error.status, error.message, staff: staff)
        }
    }

    @Sendable func queue(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake])
        let filter = try queueFilter(request, staff: staff)
        let now = clock.now()
        let (rows, all, entries) = try await frontDoor.readQueue(storage, filter: filter, now: now)
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: staff.user.name, action: "read-queue", record: nil,
            detail: "\(filter.audited) referrals=\(entries.count) console"))
        let sameNumber = try await sharedNHSNumbers(rows)
        let counts = FrontDoor.counts(all)
        let page = QueuePage(
            zone: authority.timeZone, rows: entries.map { row($0, sameNHS: sameNumber[$0.id] ?? []) },
            caption: "\(Self.viewLabels.first { $0.0 == filter.view }?.1 ?? filter.view.rawValue)"
                + (filter.text.map { ", matching “\($0)”" } ?? "") + (filter.rating.map { ", rated \($0)" } ?? "")
                + (filter.agency.map { ", from \($0)" } ?? "") + ": \(entries.count) referral(s)",
            views: Self.viewLabels.map { view, label in
                var chosen = filter
                chosen.view = view
                return QueuePage.View(href: "/console/queue?\(chosen.query)", label: label, current: view == filter.view)
            },
            counts: [
                .init(label: "undecided", count: counts.undecided, alarm: false),
                .init(label: "IMMEDIATE RISK", count: counts.immediateRisk, alarm: counts.immediateRisk > 0),
                .init(label: "NOT SAFE NOW", count: counts.notSafeNow, alarm: counts.notSafeNow > 0),
                .init(label: "OVERDUE", count: counts.overdue, alarm: counts.overdue > 0),
            ] + RAGRating.allCases.map { .init(label: $0.title, count: counts.byRating[$0.rawValue] ?? 0, alarm: false) }
                + [.init(label: "not rated", count: counts.unrated, alarm: false)],
            overdueCount: counts.overdue > 0 ? counts.overdue : nil,
            search: filter.text ?? "", view: filter.view.rawValue,
            ratings: QueueFilter.ratings.map { .init(value: $0, label: RAGRating(rawValue: $0)?.title ?? "Not rated", selected: filter.rating == $0) },
            agencies: Set(rows.compactMap(\.agency)).sorted().map { .init(value: $0, label: $0, selected: filter.agency == $0) },
            csv: "/console/queue.csv?\(filter.query)",
            filtered: filter.text != nil || filter.rating != nil || filter.agency != nil, hasRows: !entries.isEmpty)
        return try self.page("queue", title: "Queue", staff: staff, current: .queue, page)
    }

    /// One entry as its row shows it.
    private func row(_ entry: QueueEntry, sameNHS: [(id: String, reference: String)]) -> QueuePage.Row {
        let overdue = entry.overdue || entry.decisionOverdue
        return QueuePage.Row(
            id: entry.id, reference: entry.shownReference, kind: ReferralKind(rawValue: entry.kind)?.title ?? entry.kind,
            child: entry.childName.map { entry.children > 1 ? "\($0) and \(entry.children - 1) more" : $0 } ?? "(no child named)",
            agency: entry.agency ?? "(not given)", submitted: local(entry.submittedAt), acknowledgeDue: local(entry.ackDue),
            acknowledgeOverdue: entry.overdue, decideDue: entry.outcome == nil ? local(entry.decideDue) : nil,
            decisionOverdue: entry.decisionOverdue, immediateRisk: entry.immediateRisk, notSafeNow: entry.notSafeNow,
            deadline: entry.deadline.map { TerminalText.oneLine($0) }, lado: entry.lado, changed: entry.changed,
            conflicts: entry.openConflicts > 0 ? "\(entry.openConflicts)" : nil,
            sameNHS: sameNHS.map { .init(id: $0.id, reference: $0.reference) },
            knownReferrals: entry.knownReferrals, possibleMatches: entry.possibleMatches > 0 ? "\(entry.possibleMatches) possible match\(entry.possibleMatches == 1 ? "" : "es") to check" : nil,
            accumulation: entry.accumulation, rating: entry.rating, ratingTitle: entry.rating.flatMap { RAGRating(rawValue: $0)?.title } ?? "",
            state: entry.outcome.map { "Decided: \(ReferralOutcome(rawValue: $0)?.title ?? $0)" } ?? (entry.acknowledged ? "Acknowledged" : "New"),
            tint: entry.outcome == nil && (entry.immediateRisk || entry.notSafeNow) ? "risk" : overdue ? "overdue" : "")
    }

    /// `GET /console/queue.csv?…`: the view on screen as CSV, audited as `download-queue`.
    @Sendable func queueCSV(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake])
        let filter = try queueFilter(request, staff: staff)
        let now = clock.now()
        let entries = try await frontDoor.readQueue(storage, filter: filter, now: now).listed
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: staff.user.name, action: "download-queue", record: nil,
            detail: "\(filter.audited) referrals=\(entries.count) console"))
        context.logger.notice("queue downloaded", metadata: ["referrals": "\(entries.count)"])
        let stamp = Timestamp.string(now).prefix(10)
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"queue-\(filter.view.rawValue)-\(stamp).csv\""],
            body: .init(byteBuffer: ByteBuffer(string: FrontDoor.csv(entries))))
    }

    /// For each submitted referral, the other open (undecided) referrals
    /// whose children share one of its children's NHS numbers (digits
    /// compared, spacing ignored): the same child may have been referred twice.
    func sharedNHSNumbers(_ rows: [SubmittedReferral]) async throws -> [String: [(id: String, reference: String)]] {
        let open = Set(rows.filter { $0.outcome == nil }.map(\.id))
        let references = Dictionary(rows.map { ($0.id, $0.reference ?? $0.receipt ?? String($0.id.prefix(13))) }, uniquingKeysWith: { first, _ in first })
        var byNumber: [String: Set<String>] = [:]
        for (record, number) in try await storage.submittedNHSNumbers() {
            let digits = NHSNumber.digits(number) ?? number.filter(\.isNumber)
            guard !digits.isEmpty else { continue }
            byNumber[digits, default: []].insert(record)
        }
        var shared: [String: Set<String>] = [:]
        for records in byNumber.values where records.count > 1 {
            for record in records { shared[record, default: []].formUnion(records.subtracting([record]).intersection(open)) }
        }
        return shared.mapValues { others in others.sorted().map { ($0, references[$0] ?? String($0.prefix(13))) } }
            .filter { !$0.value.isEmpty }
    }
}
