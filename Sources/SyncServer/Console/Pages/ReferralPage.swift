import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// A referral as its console page shows it (`ConsoleTemplates.referral`), in
/// reading order: the child or children and the concern first (summary,
/// safe now?, immediate risk, the referrer's deadline, what was seen or
/// said), then the referrer and how to reach them, then the front door's
/// clocks and record, then every section of the form with its unanswered
/// questions folded away. The actions sit in a panel beside the content
/// (after it on a narrow screen or on paper, where the print stylesheet
/// leaves them out).
struct ReferralPage {
    struct Fact {
        let label: String
        let value: String
        /// Whether the referrer sees it on their device (`IntakePath.internalPaths` do not).
        let sharedNote: String?
    }

    struct Child {
        let name: String
        let details: String?
    }

    struct Candidate {
        let value: String
        let author: String
        let device: String
        let time: String
    }

    struct Answer {
        let question: String
        let value: String?
        let anchor: String
        let missing: String?
        let changed: Bool
        let previous: String?
        let changedBy: String
        let changedAt: String
        let conflict: Bool
        let candidates: [Candidate]
    }

    struct Item {
        let label: String?
        let answered: [Answer]
        let unanswered: [Answer]
        let unansweredCount: Int
        let hasUnanswered: Bool
    }

    struct Section {
        let key: String
        let title: String
        let items: [Item]
        let emptyText: String
    }

    struct Clock {
        let title: String
        let due: String?
        let state: String
        let alarm: Bool
        let rule: String
        let text: String?
    }

    struct Decision {
        let title: String
        let note: String
        let by: String
        let at: String
        let reason: String?
        let current: Bool
    }

    struct Change {
        let anchor: String
        let question: String
        let previous: String
        let value: String
        let by: String
        let at: String
    }

    struct Choice {
        let value: String
        let title: String
        let current: Bool
    }

    struct Link {
        let id: String
        let reference: String
    }

    /// One attachment in the page's list (`ReferralAttachmentListing`).
    struct Attachment {
        let position: Int
        let label: String
        let kind: String
        let size: String
        let sha256: String
        let short: String
        let attachedBy: String
        let device: String
        let at: String
        /// The server holds it whole (it always should, once a referral names it).
        let held: Bool
        let view: String
        let download: String
    }

    let id: String
    let reference: String
    let receipt: String
    let heading: String
    let kindTitle: String
    let owner: String
    let submitted: String
    let notice: String?
    let error: String?
    let zone: String

    let summary: String?
    let safeNow: String
    let notSafeNow: Bool
    let immediateRisk: Bool
    let lado: Bool
    let deadline: String?
    let concern: [Fact]
    let children: [Child]
    let referrer: [Fact]
    let consent: String
    let anonymity: String

    let clocks: [Clock]
    /// Where the clocks' rules come from (`FrontDoorClocks.source`), said once.
    let clockSources: String
    let acknowledged: String?
    let rating: String?
    let ratingTitle: String
    let ratingReason: String
    let ratingFeedback: Bool
    let ratedBy: String
    let ratedAt: String
    let decisions: [Decision]
    let decided: Bool
    let changes: [Change]
    let changedSince: String
    let seen: String?
    let sameNHS: [Link]
    /// The children's and household's other referrals (`KnownSection`).
    let known: KnownSection
    let conflictCount: Int?
    let missingCount: Int?
    let sections: [Section]
    let attachments: [Attachment]
    let hasAttachments: Bool

    let canAct: Bool
    let csrf: String
    let ratings: [Choice]
    let outcomes: [Choice]
    let draftNote: String
    let draftReason: String
    let draftRatingReason: String
    let draftSeenNote: String

    // Mustache reads stored properties only (through `Mirror`): these are set with the lists.
    let hasConcern: Bool
    let hasChildren: Bool
    let hasReferrer: Bool
    let hasDecisions: Bool
    let hasChanges: Bool
}

extension ReferralPage {
    /// The page of `document` as `staff` sees it; `local` writes a stored timestamp in the authority's time.
    init(
        document: ReferralDocument, form: ReferralForm, staff: Staff, zone: String, related: RelatedReferrals,
        attachments: [ReferralAttachmentListing] = [], device: (String) -> String = { $0 },
        notice: String?, error: String?, draft: [String: String], local: (String) -> String
    ) {
        self.attachments = attachments.enumerated().map { index, listed in
            let base = "/console/referrals/\(document.id)/attachments/\(listed.sha256)"
            return Attachment(
                position: index + 1, label: listed.label ?? "(no label)",
                kind: listed.stored.flatMap { AttachmentMediaType(rawValue: $0.mediaType)?.name } ?? "?",
                size: listed.stored.map { $0.size.byteCount } ?? "?", sha256: listed.sha256, short: String(listed.sha256.prefix(12)),
                attachedBy: listed.attachedBy, device: device(listed.device), at: local(listed.at),
                held: listed.stored?.receivedAt != nil, view: base, download: base + "/download")
        }
        hasAttachments = !attachments.isEmpty
        let created = Timestamp.date(document.createdAt) ?? Date(timeIntervalSince1970: 0)
        let referral = Referral(id: UUID(uuidString: document.id) ?? UUID(), createdAt: created, createdBy: document.owner, updatedAt: created, values: document.fields)
        let shown = referral.visibleValues
        let fields = document.fields
        func display(_ path: String) -> String? {
            shown[path].map { form.field(atStoredPath: path)?.1.type.display($0) ?? $0 }
        }
        let missing = Dictionary(Guidance.check(referral, form: form).warnings.map { ($0.path, $0.message) }, uniquingKeysWith: { first, _ in first })
        let conflicted = Dictionary(document.conflicts.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let changed = Dictionary(
            document.changes.filter { $0.kind == "write" || $0.kind == "candidate" }.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        // The value the front door last saw is the earliest change's `previous`.
        let previous = Dictionary(
            document.changes.filter { $0.kind == "write" || $0.kind == "candidate" }.map { ($0.path, $0.previous) }, uniquingKeysWith: { first, _ in first })
        let since = fields[IntakePath.seenAt] != nil && (fields[IntakePath.seenAt] ?? "") >= (fields[IntakePath.decidedAt] ?? "")
            ? "marked the last changes seen" : fields[IntakePath.decidedAt] != nil ? "decided it" : "acknowledged it"
        func anchor(_ path: String) -> String { path.replacingOccurrences(of: ".", with: "-") }
        func shownValue(_ value: String?, at path: String) -> String {
            guard let value else { return "(not answered)" }
            return form.field(atStoredPath: path)?.1.type.display(value) ?? value
        }
        func answer(_ field: FormField, path: String) -> Answer {
            let change = changed[path]
            let conflict = conflicted[path]
            return Answer(
                question: field.question, value: shown[path].map { field.type.display($0) }, anchor: anchor(path),
                missing: missing[path] ?? missing[field.key], changed: change != nil,
                previous: change != nil ? shownValue(previous[path] ?? nil, at: path) : nil,
                changedBy: change?.by ?? "", changedAt: change.map { local($0.at) } ?? "", conflict: conflict != nil,
                candidates: conflict?.candidates.map {
                    Candidate(
                        value: $0.value.map { field.type.display($0) } ?? "(cleared)", author: $0.author,
                        device: $0.device == ConsoleDevice.id ? "web console" : "device …\($0.device.suffix(4))", time: local($0.time))
                } ?? [])
        }
        func item(_ label: String?, _ answers: [Answer]) -> Item {
            // What was answered, what the guidance misses, a change or a conflict stay in sight; the rest folds away.
            let visible = answers.filter { $0.value != nil || $0.missing != nil || $0.changed || $0.conflict }
            let folded = answers.filter { $0.value == nil && $0.missing == nil && !$0.changed && !$0.conflict }
            return Item(label: label, answered: visible, unanswered: folded, unansweredCount: folded.count, hasUnanswered: !folded.isEmpty)
        }
        var sections: [Section] = []
        var missingCount = 0
        // Attachments have a section of their own (`attachments`), with their links.
        for section in form.sections where section.applies(to: referral.kind) && section.key != LocalStore.attachmentGroup {
            var items: [Item] = []
            let applicable = section.fields.filter { $0.applies(to: referral.kind) }
            if section.isGroup {
                for (index, key) in referral.items(of: section.key).enumerated() {
                    items.append(item(
                        "\(section.itemName!.capitalized) \(index + 1)", applicable.map { answer($0, path: "\(section.key).\(key.lowercased).\($0.key)") }))
                }
            } else {
                items.append(item(nil, applicable.map { answer($0, path: "\(section.key).\($0.key)") }))
            }
            missingCount += items.flatMap(\.answered).filter { $0.missing != nil }.count
            sections.append(Section(key: section.key, title: section.title, items: items, emptyText: section.isGroup ? "No \(section.itemName!) added." : ""))
        }
        let children = referral.items(of: "children").map { key -> Child in
            let base = "children.\(key.lowercased)"
            let born = display("\(base).date_of_birth").map { "born \($0)" } ?? display("\(base).expected_delivery").map { "unborn, expected \($0)" }
            let details = [born, display("\(base).current_location").map { "now at \($0)" }, display("\(base).nhs_number").map { "NHS number \($0)" }]
                .compactMap { $0 }.joined(separator: "; ")
            return Child(name: display("\(base).full_name") ?? "(no name given)", details: details.isEmpty ? nil : details)
        }
        func facts(_ paths: [String]) -> [Fact] {
            paths.compactMap { path in
                display(path).map { Fact(label: form.field(atStoredPath: path)?.1.question ?? path, value: $0, sharedNote: nil) }
            }
        }
        switch shown["consent.status"] {
        case "given": consent = "given" + (shown["consent.given_by"].map { " (\($0))" } ?? "")
        case "refused": consent = "REFUSED" + (shown["consent.reason"].map { "; the referral goes ahead because: \($0)" } ?? "; no reason recorded")
        case "not-sought": consent = "NOT SOUGHT" + (shown["consent.reason"].map { "; because: \($0)" } ?? "; no reason recorded")
        default: consent = "not recorded"
        }
        anonymity = shown["referrer.anonymity_requested"] == "yes"
            ? "the referrer ASKED TO REMAIN ANONYMOUS (recorded; it cannot be guaranteed)"
            : "the referrer has not asked to remain anonymous"

        id = document.id
        reference = document.reference
        receipt = document.receipt ?? "(none)"
        let names = children.map(\.name)
        heading = names.isEmpty ? "No child named yet" : names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
        kindTitle = referral.kind.title
        owner = document.owner
        submitted = local(document.submittedAt ?? document.createdAt)
        self.notice = notice
        self.error = error
        self.zone = zone
        summary = display("concern.summary")
        notSafeNow = shown["urgency.child_safe_now"] == "no"
        safeNow = switch shown["urgency.child_safe_now"] {
        case "no": "NO: the referrer says the child is not safe now"
        case "yes": "yes, the referrer says the child is safe now"
        default: "not answered"
        }
        immediateRisk = shown["urgency.immediate_risk"] == "yes"
        lado = referral.kind == .lado
        deadline = display("urgency.deadline")
        concern = facts(["concern.allegations", "concern.sources", "concern.first_hand", "concern.when", "concern.where", "concern.perpetrator"])
        self.children = children
        referrer = facts(["referrer.name", "referrer.role", "referrer.agency", "referrer.phone", "referrer.email", "referrer.relationship"])

        clocks = document.clocks.map { clock in
            let state = switch clock.state {
            case .due: "due"
            case .overdue: "OVERDUE"
            case .met: "met \(clock.metAt.map(local) ?? "")"
            case .metLate: "met LATE, \(clock.metAt.map(local) ?? "")"
            case .stated: "stated by the referrer"
            }
            return Clock(
                title: clock.title, due: clock.due.map(local), state: state, alarm: clock.state == .overdue || clock.state == .metLate,
                rule: clock.rule, text: clock.text)
        }
        clockSources = ReferralClock.sources(of: document.clocks)
        acknowledged = fields[IntakePath.acknowledgedAt].map { "acknowledged \(local($0)) by \(fields[IntakePath.acknowledgedBy] ?? "?")" }
        rating = fields[IntakePath.rating]
        ratingTitle = fields[IntakePath.rating].flatMap { RAGRating(rawValue: $0)?.title } ?? ""
        ratingReason = fields[IntakePath.ratingReason] ?? ""
        ratingFeedback = fields[IntakePath.ratingFeedback] != nil
        ratedBy = fields[IntakePath.ratedBy] ?? ""
        ratedAt = fields[IntakePath.ratedAt].map(local) ?? ""
        let history = DecisionRecord.history(in: fields)
        decisions = history.enumerated().map { index, decision in
            Decision(
                title: decision.title, note: decision.note, by: decision.decidedBy, at: local(decision.decidedAt), reason: decision.reason,
                current: index == history.count - 1)
        }
        decided = !history.isEmpty
        changes = changed.values.sorted { $0.at < $1.at }.map { change in
            Change(
                anchor: anchor(change.path), question: form.field(atStoredPath: change.path)?.1.question ?? change.path,
                previous: shownValue(previous[change.path] ?? nil, at: change.path), value: shownValue(change.value, at: change.path),
                by: change.by, at: local(change.at))
        }
        changedSince = since
        seen = fields[IntakePath.seenAt].map { at in
            "\(local(at)) by \(fields[IntakePath.seenBy] ?? "?"): \(fields[IntakePath.seenNote] ?? "")"
        }
        // Open referrals naming a child with the same NHS number.
        var sameNHS: [Link] = []
        for match in related.children.flatMap(\.matches) where match.kind == .sameNHSNumber && match.referral.outcome == nil {
            if !sameNHS.contains(where: { $0.id == match.referral.id }) {
                sameNHS.append(Link(id: match.referral.id, reference: match.referral.reference ?? String(match.referral.id.prefix(13))))
            }
        }
        self.sameNHS = sameNHS
        known = KnownSection(related, staff: staff, local: local)
        conflictCount = document.conflicts.isEmpty ? nil : document.conflicts.count
        self.missingCount = missingCount == 0 ? nil : missingCount
        self.sections = sections

        canAct = staff.user.role == .intake
        csrf = staff.csrf
        ratings = RAGRating.allCases.map { Choice(value: $0.rawValue, title: $0.title, current: fields[IntakePath.rating] == $0.rawValue) }
        outcomes = ReferralOutcome.allCases.map { Choice(value: $0.rawValue, title: $0.title, current: false) }
        draftNote = draft["note"] ?? ""
        draftReason = draft["reason"] ?? ""
        draftRatingReason = draft["ratingReason"] ?? ""
        draftSeenNote = draft["seenNote"] ?? ""
        hasConcern = !concern.isEmpty
        hasChildren = !children.isEmpty
        hasReferrer = !referrer.isEmpty
        hasDecisions = !decisions.isEmpty
        hasChanges = !changes.isEmpty
    }
}

/// A referral's history as its page shows it (`ConsoleTemplates.history`).
struct HistoryPage {
    struct Entry {
        let revision: Int64
        let at: String
        let what: String
        let question: String
        let value: String
        let by: String
        let device: String
        let reason: String?
        let shared: String
    }

    let id: String
    let reference: String
    let heading: String
    let entries: [Entry]
    let zone: String
    let csv: String
    let count: Int
}

extension ConsoleRoutes {
    @Sendable func referral(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        let id = try context.parameters.require("id")
        let notice = try Self.query(DoneQuery.self, request, staff: staff).done.flatMap { Self.referralNotices[$0] }
        return try await referralPage(id, staff: staff, context: context, notice: notice)
    }

    /// What a write did, shown after its redirect (`?done=`): the form's
    /// address never stays in the address bar, so reloading sends nothing again.
    static let referralNotices = [
        "acknowledged": "Acknowledged.", "rated": "RAG rating recorded.",
        "decided": "Decision recorded; the referrer sees it on their next sync.",
        "seen": "Marked as seen: the decision stands, and the CHANGED flag is cleared until the next change.",
        "match-confirmed": "Match confirmed: the two children's chronologies are joined. Neither referral was changed.",
        "match-rejected": "Match rejected: the two children will not be suggested as a match again.",
        "match-undone": "The match decision was undone.",
    ]

    /// The referral's page, read and audited; `notice` or `error` on top after a write.
    func referralPage(
        _ id: String, staff: Staff, context: SyncRequestContext, status: HTTPResponse.Status = .ok, notice: String? = nil, error: String? = nil,
        draft: [String: String] = [:]
    ) async throws -> Response {
        guard UUID(uuidString: id) != nil, let document = try await frontDoor.document(id, in: storage, now: clock.now()) else {
            throw ConsoleError(.notFound, "No submitted referral has id '\(id.prefix(40))'.", staff: staff)
        }
        let related = try await frontDoor.related(id, in: storage, now: clock.now())
            ?? RelatedReferrals(id: id, reference: nil, children: [], household: [], known: [], recent: RecentReferrals(referrals: 1, agencies: 0, months: 12, possible: 0), accumulation: nil)
        // Every read of referral content is attributable, the related referrals shown with it too.
        try await storage.audit(AuditEvent(at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read", record: document.id, detail: "console"))
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read-related", record: document.id,
            detail: "referrals=\(Set(related.known.map(\.id) + related.children.flatMap { $0.matches.map(\.referral.id) }).count) console"))
        context.logger.notice("referral read", metadata: ["record": "\(document.id)", "via": "console"])
        let attachments = try await storage.attachments(of: document.id)
        let page = ReferralPage(
            document: document, form: frontDoor.form, staff: staff, zone: authority.timeZone, related: related,
            attachments: attachments, device: deviceName, notice: notice, error: error, draft: draft, local: local)
        return try self.page("referral", title: "Referral \(page.reference)", staff: staff, status: status, page)
    }

    @Sendable func history(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        let id = try context.parameters.require("id")
        guard UUID(uuidString: id) != nil, let entries = try await frontDoor.history(id, in: storage), let document = try await storage.document(id) else {
            throw ConsoleError(.notFound, "No submitted referral has id '\(id.prefix(40))'.", staff: staff)
        }
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read-history", record: id, detail: "entries=\(entries.count) console"))
        let form = frontDoor.form
        let page = HistoryPage(
            id: id, reference: document.reference, heading: "History of referral \(document.reference)",
            entries: entries.map { entry in
                let internalOnly = IntakePath.internalPaths.contains(entry.path)
                return HistoryPage.Entry(
                    revision: entry.revision, at: local(entry.at), what: Self.historyKind(entry),
                    question: Self.historyQuestion(entry.path, form: form), value: entry.value.map { display($0, at: entry.path) } ?? "(cleared)",
                    by: entry.by, device: deviceName(entry.device), reason: entry.reason,
                    shared: !entry.path.hasPrefix("@") ? "(the referrer's own)" : internalOnly ? "no (internal)" : "yes")
            },
            zone: authority.timeZone, csv: "/console/referrals/\(id)/history.csv", count: entries.count)
        return try self.page("history", title: page.heading, staff: staff, page)
    }

    /// What a history entry was, in words.
    static func historyKind(_ entry: ReferralHistoryEntry) -> String {
        switch (entry.kind, entry.path) {
        case ("resolution", _): "conflict resolved"
        case ("candidate", _): "conflict candidate (not current)"
        case ("conflict", _): "conflict state changed"
        case (_, IntakePath.acknowledgedAt): "acknowledged"
        case (_, IntakePath.rating): "rated"
        case (_, IntakePath.seenAt): "seen: decision stands"
        case (_, IntakePath.outcome): "decided"
        case (_, IntakePath.reference): "reference given"
        case (_, RecordPath.status): "status"
        default: "value written"
        }
    }

    /// The question a path answers, or the record-level path's meaning.
    static func historyQuestion(_ path: String, form: ReferralForm) -> String {
        if let question = form.field(atStoredPath: path)?.1.question { return question }
        let known: [String: String] = [
            IntakePath.acknowledgedAt: "Acknowledged at", IntakePath.acknowledgedBy: "Acknowledged by", IntakePath.rating: "RAG rating",
            IntakePath.ratingReason: "Reason for the rating (internal)", IntakePath.ratingFeedback: "Rating reason sent to the referrer",
            IntakePath.ratedAt: "Rated at", IntakePath.ratedBy: "Rated by", IntakePath.outcome: "Outcome", IntakePath.outcomeNote: "Feedback to the referrer",
            IntakePath.decidedAt: "Decided at", IntakePath.decidedBy: "Decided by", IntakePath.seenAt: "Seen at", IntakePath.seenBy: "Seen by",
            IntakePath.seenNote: "Why the decision stands (internal)", IntakePath.reference: "Reference", RecordPath.status: "Status",
            RecordPath.kind: "Kind of referral", RecordPath.form: "Form version",
        ]
        if let words = known[path] { return words }
        if let number = IntakePath.decisionNumber(path) { return "Decision \(number)" }
        return path
    }

    @Sendable func historyCSV(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        let id = try context.parameters.require("id")
        guard UUID(uuidString: id) != nil, let entries = try await frontDoor.history(id, in: storage) else {
            throw ConsoleError(.notFound, "No submitted referral has id '\(id.prefix(40))'.", staff: staff)
        }
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: staff.user.name, action: "download-history", record: id, detail: "entries=\(entries.count) console"))
        return Response(
            status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"referral-\(id.prefix(8))-history.csv\""],
            body: .init(byteBuffer: ByteBuffer(string: FrontDoor.historyCSV(entries))))
    }

    @Sendable func acknowledge(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, _) = try await staffForm(TokenForm.self, request, context, roles: [.intake]) { $0.csrf }
        return try await write(id, staff: staff, context: context, done: "acknowledged") {
            try await frontDoor.recordAcknowledgement(id, by: staff.user, device: ConsoleDevice.id, in: storage)
        }
    }

    struct RatingForm: Decodable {
        var csrf: String?
        var rating: String?
        var reason: String?
        var feedback: String?
    }

    @Sendable func rate(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(RatingForm.self, request, context, roles: [.intake]) { $0.csrf }
        guard let rating = form.rating, !rating.isEmpty else {
            return try await referralPage(
                id, staff: staff, context: context, status: .badRequest, error: "Choose a rating (red, amber or green) before recording it; nothing was changed.",
                draft: ["ratingReason": form.reason ?? ""])
        }
        let feedback = form.feedback == "yes"
        return try await write(id, staff: staff, context: context, done: "rated", draft: ["ratingReason": form.reason ?? ""]) {
            try await frontDoor.recordRating(
                id, RatingRequest(rating: rating, reason: form.reason ?? "", feedback: feedback), by: staff.user, device: ConsoleDevice.id, in: storage)
        }
    }

    struct SeenForm: Decodable {
        var csrf: String?
        var note: String?
    }

    @Sendable func seen(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(SeenForm.self, request, context, roles: [.intake]) { $0.csrf }
        return try await write(id, staff: staff, context: context, done: "seen", draft: ["seenNote": form.note ?? ""]) {
            try await frontDoor.recordSeen(id, note: form.note ?? "", by: staff.user, device: ConsoleDevice.id, in: storage)
        }
    }

    struct DecisionForm: Decodable {
        var csrf: String?
        var outcome: String?
        var note: String?
        var reason: String?
    }

    @Sendable func decide(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(DecisionForm.self, request, context, roles: [.intake]) { $0.csrf }
        let reason = form.reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        let draft = ["note": form.note ?? "", "reason": form.reason ?? ""]
        guard let outcome = form.outcome, !outcome.isEmpty else {
            return try await referralPage(
                id, staff: staff, context: context, status: .badRequest, error: "Choose an outcome before recording the decision; nothing was changed.", draft: draft)
        }
        // Decided by someone else while this page was open: say so in the console's words, keep what was typed.
        if reason == nil, let fields = try await storage.document(id)?.fields, let latest = DecisionRecord.history(in: fields).last {
            return try await referralPage(
                id, staff: staff, context: context, status: .conflict,
                error: "This referral is already decided (\(latest.title), by \(latest.decidedBy) at \(local(latest.decidedAt))), so yours was not recorded; that decision is shown above. To change it, say why in the box for the reason and record it again.",
                draft: draft)
        }
        let body = DecisionRequest(outcome: outcome, note: form.note ?? "", change: reason != nil ? true : nil, reason: reason)
        return try await write(id, staff: staff, context: context, done: "decided", draft: draft) {
            try await frontDoor.recordDecision(id, body, by: staff.user, device: ConsoleDevice.id, in: storage)
        }
    }

    /// Runs a front-door write and shows the referral again: with `done` on
    /// top, or with the refusal's sentence and its status (nothing changed).
    private func write<T>(
        _ id: String, staff: Staff, context: SyncRequestContext, done: String, draft: [String: String] = [:], _ body: () async throws -> T
    ) async throws -> Response {
        do {
            _ = try await body()
            context.logger.notice("console write", metadata: ["record": "\(id)"])
            return .redirect(to: "/console/referrals/\(id)?done=\(done)", type: .normal)
        } catch let error as APIError where error.status == .notFound {
            throw ConsoleError(.notFound, error.message, staff: staff)
        } catch let error as APIError {
            return try await referralPage(id, staff: staff, context: context, status: error.status, error: error.message, draft: draft)
        }
    }
}
