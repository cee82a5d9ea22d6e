import ArgumentParser
import Foundation
import SyncCore

extension Context {
    /// A client for the server this device is logged in to.
    func client() throws -> SyncClient {
        let store = try store()
        guard let login = try store.login(), let url = URL(string: login.server) else { throw SyncError.notLoggedIn }
        if url.scheme == "http", !HTTPTransport.isLoopback(url) {
            console.error("Warning: \(login.server) is plain http:// to another machine: your token and referrals cross the network unencrypted.")
        }
        return SyncClient(store: store, transport: HTTPTransport(server: url, token: login.token, device: store.deviceID, trustedCA: login.ca), server: login.server)
    }
}

extension Context {
    /// The client for the intake and admin commands, which keep no referral
    /// on the device but need its token, sealed in the store. Run one-shot
    /// at a terminal, each of them asks for the passphrase; a tip says that
    /// a session asks once (docs/security.md, "Online roles").
    func onlineClient() throws -> SyncClient {
        if !isSession, console.isInteractive, !isUnlocked, ProcessInfo.processInfo.environment["FIELD_PASSPHRASE"] == nil {
            console.error("Tip: `field` on its own starts a session that asks for the passphrase once for all its intake and admin commands.")
        }
        return try client()
    }
}

extension ReferralOutcome: ExpressibleByArgument {}

extension RAGRating: ExpressibleByArgument {}

extension Field {
    struct Intake: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "intake",
            abstract: "The front door's work (intake role, online): the queue, search, reading, history, acknowledging, rating and deciding.",
            subcommands: [
                Queue.self, Search.self, Show.self, History.self, Related.self, Match.self, Acknowledge.self, Rate.self, Seen.self,
                Decide.self, Attachment.self,
            ])
    }
}

/// Finds a queued referral by its reference (`F-XXXX-XXXX`), a receipt, its id or a unique prefix of its id.
func queuedID(_ given: String, client: SyncClient) async throws -> String {
    let lowered = given.lowercased()
    let queue = try await client.queue()
    // A reference however it is typed or misheard (`f mj5s w39t`, `F-MJ5S-W39O`).
    if let reference = ReferralReference.canonical(given), let named = queue.first(where: { $0.reference == reference }) { return named.id }
    let receipts = queue.filter { $0.receipt?.lowercased() == lowered }
    if receipts.count == 1 { return receipts[0].id }
    if receipts.count > 1 {
        throw CLIError("The receipt \(given) covers \(receipts.count) referrals (\(receipts.map(\.shownReference).joined(separator: ", "))); give one of their references.")
    }
    let matches = queue.map(\.id).filter { $0.hasPrefix(lowered) }
    guard !lowered.isEmpty, let first = matches.first else {
        throw CLIError("No submitted referral has the reference, receipt or id '\(TerminalText.visible(given))'; `field intake queue` lists them.")
    }
    guard matches.count == 1 else { throw CLIError("'\(given)' matches \(matches.count) submitted referrals; give more of the id.") }
    return first
}

extension Field.Intake {
    struct Queue: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "queue",
            abstract: "List submitted referrals for triage: undecided ones at immediate risk first, then by the next clock due.",
            discussion: """
                By default the referrals that still need the front door: not yet decided, or decided and changed \
                since (CHANGED) or with an open conflict (CONFLICT). URGENCY: IMMEDIATE-RISK (the referrer answered that a \
                child is at immediate risk), NOT-SAFE-NOW (that the child is not safe now), DEADLINE (the referrer gave one: \
                `intake show` prints it). FLAGS: LADO (an allegation against an adult who works with children), CHANGED, CONFLICT, \
                KNOWN(n) (n referrals about the child in the accumulation window, this one included), POSSIBLE-MATCH(n) (matches \
                for intake to confirm or reject: `field intake related`), ADDING-UP (the authority's accumulation rule is met). \
                The clocks (ACKNOWLEDGE BY, DECIDE BY) are the authority's (docs/operations.md, "The front door's clocks").
                """)
        @Flag(help: "Only referrals not decided yet.") var open = false
        @Flag(help: "Only referrals past their acknowledgement or decision deadline.") var overdue = false
        @Flag(help: "Only decided referrals.") var decided = false
        @Flag(help: "Every submitted referral.") var all = false
        @Option(help: "Only referrals matching this: a child's name, a reference or receipt, an agency, an NHS number or the start of an id.") var search: String?
        @Option(help: "Only referrals rated red, amber or green, or unrated.") var rating: String?
        @Option(help: "Only referrals from this agency (any case).") var agency: String?
        @OptionGroup var output: JSONOption

        var view: QueueView {
            open ? .open : overdue ? .overdue : decided ? .decided : all ? .all : .active
        }

        func validate() throws {
            let chosen = [("--open", open), ("--overdue", overdue), ("--decided", decided), ("--all", all)].filter(\.1).map(\.0)
            if chosen.count > 1 { throw ValidationError("Give only one of --open, --overdue, --decided and --all; you gave \(chosen.joined(separator: " and ")).") }
            if let rating, !(RAGRating.allCases.map(\.rawValue) + ["unrated"]).contains(rating) {
                throw ValidationError("'\(rating)' is not a RAG rating to filter by; give red, amber, green or unrated.")
            }
        }

        func run(in context: Context) async throws {
            let entries = try await context.onlineClient().queue(view: view, search: search, rating: rating, agency: agency)
            if output.json {
                try context.console.json(entries)
                return
            }
            guard !entries.isEmpty else {
                if search != nil || rating != nil || agency != nil {
                    context.console.line("No referral in this view matches; `--all` searches every submitted referral.")
                    return
                }
                let message = switch view {
                case .all: "The queue is empty."
                case .active: "Nothing waits for the front door: every referral is decided, with no change or conflict since. `--all` lists them."
                case .open: "Every referral is decided."
                case .overdue: "No referral is overdue."
                case .decided: "No referral is decided yet."
                }
                context.console.line(message)
                return
            }
            try Self.print(entries, in: context)
        }

        /// The entries as a table, with the counts by urgency above it.
        static func print(_ entries: [QueueEntry], in context: Context) throws {
            let authority = try context.authority()
            let undecided = entries.filter { $0.outcome == nil }
            var counts = "\(entries.count) listed, \(undecided.count) undecided: \(undecided.filter(\.immediateRisk).count) IMMEDIATE RISK, "
                + "\(undecided.filter(\.notSafeNow).count) NOT SAFE NOW, \(undecided.filter { $0.overdue || $0.decisionOverdue }.count) OVERDUE; "
            counts += RAGRating.allCases.map { rating in "\(rating.rawValue) \(undecided.filter { $0.rating == rating.rawValue }.count)" }.joined(separator: ", ")
                + ", unrated \(undecided.filter { $0.rating == nil }.count)."
            context.console.line(counts)
            func time(_ stamp: String) -> String { Timestamp.date(stamp).map { Format.localTime($0, authority) } ?? stamp }
            var rows = [["REFERENCE", "ID", "CHILD", "URGENCY", "AGENCY", "ACKNOWLEDGE BY", "DECIDE BY", "FLAGS", "RAG", "STATE"]]
            rows += entries.map { entry in
                let state = entry.outcome.map { "decided: \($0)" } ?? (entry.acknowledged ? "acknowledged" : "new")
                var urgency: [String] = []
                if entry.immediateRisk { urgency.append("IMMEDIATE-RISK") }
                if entry.notSafeNow { urgency.append("NOT-SAFE-NOW") }
                if entry.deadline != nil { urgency.append("DEADLINE") }
                var flags: [String] = []
                if entry.lado { flags.append("LADO") }
                if entry.changed { flags.append("CHANGED") }
                if entry.openConflicts > 0 { flags.append("CONFLICT") }
                // A child known from other referrals (`field intake related` tells how).
                if let before = entry.knownReferrals, let count = before.split(separator: " ").first { flags.append("KNOWN(\(count))") }
                if entry.possibleMatches > 0 { flags.append("POSSIBLE-MATCH(\(entry.possibleMatches))") }
                if entry.accumulation != nil { flags.append("ADDING-UP") }
                let child = (entry.childName.map { String(TerminalText.oneLine($0).prefix(30)) } ?? (entry.children > 0 ? "(no name)" : "-"))
                    + (entry.children > 1 ? " +\(entry.children - 1)" : "")
                let acknowledge = entry.acknowledged ? "done" : time(entry.ackDue) + (entry.overdue ? " OVERDUE" : "")
                let decide = entry.outcome != nil ? "done" : time(entry.decideDue) + (entry.decisionOverdue ? " OVERDUE" : "")
                return [entry.shownReference, String(entry.id.prefix(13)), child, urgency.isEmpty ? "-" : urgency.joined(separator: ","),
                        entry.agency.map { String(TerminalText.oneLine($0).prefix(30)) } ?? "-", acknowledge, decide,
                        flags.isEmpty ? "-" : flags.joined(separator: ","), entry.rating ?? "-", state]
            }
            Format.table(rows).forEach(context.console.line)
        }
    }

    struct Search: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "search",
            abstract: "Find submitted referrals, decided or not: by a child's name or other name, a reference or receipt, an agency, an NHS number or the start of an id.",
            discussion: "Case, accents, spacing and punctuation are ignored (\"zoe obrien\" finds Zoë O'Brien); an NHS number matches however it is spaced. Each search is on the audit trail.")
        @Argument(help: "What to find.") var text: String
        @OptionGroup var output: JSONOption

        func validate() throws {
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw ValidationError("Give something to find: a child's name, a reference, an agency, an NHS number or the start of an id.")
            }
        }

        func run(in context: Context) async throws {
            let entries = try await context.onlineClient().queue(view: .all, search: text)
            if output.json {
                try context.console.json(entries)
                return
            }
            guard !entries.isEmpty else {
                context.console.line("No submitted referral matches '\(TerminalText.visible(text))'.")
                return
            }
            try Queue.print(entries, in: context)
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Show a submitted referral: its clocks and the front door's record, then every answer, with the guidance's warnings.")
        @Argument(help: "The referral's reference (F-XXXX-XXXX), id or a unique prefix of its id.", completion: .custom(Completion.referralIDs)) var id: String
        @OptionGroup var output: JSONOption

        /// `--json`: the server's document (fields by stored path, open
        /// conflicts, changes since the front door last looked, clocks), the
        /// decisions oldest first, and the guidance's report.
        struct Document: Encodable {
            let referral: ReferralDocument
            let decisions: [DecisionRecord]
            let guidance: GuidanceReport
        }

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let document = try await client.submittedReferral(try await queuedID(id, client: client))
            let created = Timestamp.date(document.createdAt) ?? Date(timeIntervalSince1970: 0)
            let referral = Referral(
                id: UUID(uuidString: document.id)!, createdAt: created, createdBy: document.owner, updatedAt: created,
                values: document.fields)
            // A referral on a form version this laptop has not synced yet: fetch it, so every answer has its question.
            if referral.formVersion > (try context.store().form.version) {
                do {
                    try await client.fetchForms(upTo: referral.formVersion)
                } catch {
                    context.console.error("Warning: form version \(referral.formVersion) could not be fetched (\(error)); answers it alone asks are shown under their paths.")
                }
            }
            if output.json {
                try context.console.json(Document(referral: document, decisions: DecisionRecord.history(in: document.fields), guidance: Guidance.check(referral)))
                return
            }
            let store = try context.store()
            let form = store.forms.union
            let authority = try context.authority()
            func time(_ stamp: String) -> String { Timestamp.date(stamp).map { Format.localTime($0, authority) } ?? stamp }
            // Under each field: what changed after the front door saw it, and every candidate of an open conflict.
            let since = document.fields[IntakePath.seenAt] != nil && (document.fields[IntakePath.seenAt] ?? "") >= (document.fields[IntakePath.decidedAt] ?? "")
                ? "the front door last marked changes seen" : document.fields[IntakePath.decidedAt] != nil ? "the decision" : "the acknowledgement"
            var notes: [String: [String]] = [:]
            var changedPaths: [String] = []
            for change in document.changes where change.kind == "write" || change.kind == "candidate" {
                if !changedPaths.contains(change.path) { changedPaths.append(change.path) }
            }
            for path in changedPaths {
                let first = document.changes.first { $0.path == path }!
                let last = document.changes.last { $0.path == path }!
                notes[path, default: []].append(
                    "* changed since \(since): by \(last.by) at \(last.at); before: \(Format.value(first.previous, at: path, form: form))")
            }
            for conflict in document.conflicts {
                notes[conflict.path, default: []].append("! open conflict, waiting for an admin; every candidate:")
                for (index, candidate) in conflict.candidates.enumerated() {
                    notes[conflict.path, default: []].append("  \(index + 1). \(Format.value(candidate.value, at: conflict.path, form: form))  (\(Format.device(candidate.device, author: candidate.author)), \(candidate.time))")
                }
            }
            var lines = try Field.Show.render(referral, all: false, context: context, notes: notes, forReferrer: false)
            lines[0] = "Referral \(document.reference): \(referral.kind.title) (id \(document.id))"
            lines[1] = "Referred by \(document.owner); submitted \(document.submittedAt ?? document.createdAt)" + (document.receipt.map { " under receipt \($0)" } ?? "")
            var header: [String] = []
            let values = referral.visibleValues
            header.append("Concern: " + (values["concern.summary"].map { TerminalText.oneLine($0) } ?? "(no summary given)"))
            header.append("Is the child safe now? " + (values["urgency.child_safe_now"] == "no" ? "NO" : values["urgency.child_safe_now"] ?? "not answered")
                + (values["urgency.immediate_risk"] == "yes" ? "; IMMEDIATE RISK" : ""))
            if !document.clocks.isEmpty {
                header.append("Clocks (times in \(authority.timeZone)):")
                for clock in document.clocks {
                    let state = switch clock.state {
                    case .due: "due"
                    case .overdue: "OVERDUE"
                    case .met: "met \(clock.metAt.map(time) ?? "")"
                    case .metLate: "met LATE, \(clock.metAt.map(time) ?? "")"
                    case .stated: "\"\(TerminalText.oneLine(clock.text ?? ""))\""
                    }
                    header.append("  \(clock.title): " + (clock.due.map { "by \(time($0)), " } ?? "") + state + " (rule: \(clock.rule))")
                }
                // Said once, as the console's referral page does.
                header.append("  The rules' source: " + ReferralClock.sources(of: document.clocks))
            }
            if let at = document.fields[IntakePath.acknowledgedAt] {
                header.append("Acknowledged \(at) by \(document.fields[IntakePath.acknowledgedBy] ?? "?")")
            }
            if let rating = document.fields[IntakePath.rating] {
                header.append("RAG rating: \(RAGRating(rawValue: rating)?.title ?? rating) (\(document.fields[IntakePath.ratedBy] ?? "?") at \(document.fields[IntakePath.ratedAt] ?? "?"))")
                let shared = document.fields[IntakePath.ratingFeedback] != nil ? "sent to the referrer as feedback" : "internal, not sent to the referrer"
                header.append("  reason (\(shared)): \(TerminalText.oneLine(document.fields[IntakePath.ratingReason] ?? ""))")
            }
            let decisions = DecisionRecord.history(in: document.fields)
            if !decisions.isEmpty {
                header.append(decisions.count == 1 ? "Decision:" : "Decisions, oldest first (the last one stands):")
                header += Format.decisionLines(decisions, indent: "  ")
            }
            if let at = document.fields[IntakePath.seenAt] {
                header.append("Seen, decision stands: \(at) by \(document.fields[IntakePath.seenBy] ?? "?"): \(TerminalText.oneLine(document.fields[IntakePath.seenNote] ?? "")) (note internal)")
            }
            if !changedPaths.isEmpty {
                header.append("CHANGED since \(since) (marked * below; `field intake seen` records that the decision stands):")
                for path in changedPaths {
                    let first = document.changes.first { $0.path == path }!
                    let last = document.changes.last { $0.path == path }!
                    header.append("  \(Format.path(path, in: referral)): \(Format.value(first.previous, at: path, form: form)) -> \(Format.value(last.value, at: path, form: form)) (\(last.by), \(last.at))")
                }
            }
            if !document.conflicts.isEmpty {
                header.append("Open conflicts: \(document.conflicts.map { Format.path($0.path, in: referral) }.joined(separator: ", ")) (marked ! below, every candidate shown).")
            }
            lines.insert(contentsOf: header, at: 2)
            lines.forEach(context.console.line)
            let report = Guidance.check(referral)
            context.console.line("")
            context.console.line(report.warnings.isEmpty ? "Guidance: nothing missing." : "Guidance: \(report.warnings.count) thing(s) missing:")
            report.warnings.forEach { context.console.line("  ! \(Format.path($0.path, in: referral)): \($0.message)") }
        }
    }

    struct History: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Show a submitted referral's whole history: every value, who wrote it, when and from which device; conflicts and how they were settled; every acknowledgement, rating, decision and \"seen\" note.")
        @Argument(help: "The referral's reference (F-XXXX-XXXX), id or a unique prefix of its id.", completion: .custom(Completion.referralIDs)) var id: String
        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let full = try await queuedID(id, client: client)
            let entries = try await client.referralHistory(full)
            if output.json {
                try context.console.json(entries)
                return
            }
            let form = try context.store().forms.union
            var rows = [["REV", "AT", "WHAT", "PATH", "VALUE", "BY", "DEVICE"]]
            rows += entries.map { entry in
                let what = switch entry.kind {
                case "resolution": "resolved: \(TerminalText.oneLine(entry.reason ?? ""))"
                case "candidate": "candidate"
                case "conflict": "conflict"
                default: entry.reachesReferrer ? "write" : "write (internal)"
                }
                let value = entry.path.hasPrefix("@") ? TerminalText.oneLine(entry.value ?? "(cleared)") : Format.value(entry.value, at: entry.path, form: form)
                return [String(entry.revision), entry.at, what, entry.path, String(value.prefix(60)), entry.by, Format.device(entry.device, author: entry.by)]
            }
            Format.table(rows).forEach(context.console.line)
        }
    }

    struct Related: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "related",
            abstract: "Show what the front door knows of a referral's children and household from other referrals: each child's chronology, possible matches with their reasons, the household's referrals.",
            discussion: """
                The same child: the same NHS number, or a match intake confirmed. A POSSIBLE match is only a suggestion, with the reasons it was \
                made: confirm or reject it with `field intake match`. Nothing is merged; each referral stays as it was sent. Every reading is audited.
                """)
        @Argument(help: "The referral's reference (F-XXXX-XXXX), id or a unique prefix of its id (an admin gives the whole id).", completion: .custom(Completion.referralIDs)) var id: String
        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            // A whole id needs no look-up in the queue (which only intake may read: admins give the id).
            let full = UUID.isCanonical(id.lowercased()) ? id.lowercased() : try await queuedID(id, client: client)
            let related = try await client.relatedReferrals(full)
            if output.json {
                try context.console.json(related)
                return
            }
            func glance(_ referral: ReferralGlance) -> [String] {
                [String(referral.submittedAt.prefix(10)), referral.reference ?? String(referral.id.prefix(13)), TerminalText.oneLine(referral.agency ?? "-"),
                 referral.rating ?? "unrated", referral.outcome ?? "undecided", String(TerminalText.oneLine(referral.summary ?? "").prefix(50))]
            }
            let console = context.console
            console.line("Referral \(related.reference ?? full): \(related.recent.flag ?? "no other referral about its children in \(related.recent.months) months")"
                + (related.recent.possible > 0 ? "; \(related.recent.possible) possible match(es) to check" : "") + ".")
            if let accumulation = related.accumulation { console.line("\(accumulation).") }
            for child in related.children {
                console.line("")
                console.line("Child \(TerminalText.oneLine(child.name ?? "(no name)"))\(child.dateOfBirth.map { ", born \($0)" } ?? "") [\(child.person)]")
                console.line("  Chronology (this child's referrals, oldest first):")
                Format.table(child.chronology.map { ["  " + ($0.id == full ? "*" : " ")] + glance($0) }).forEach(console.line)
                for match in child.matches {
                    let who = "\(TerminalText.oneLine(match.name ?? "(no name)"))\(match.dateOfBirth.map { ", born \($0)" } ?? "") in \(match.referral.reference ?? match.referral.id)"
                    switch match.kind {
                    case .sameNHSNumber: console.line("  SAME CHILD (same NHS number): \(who)")
                    case .confirmed: console.line("  SAME CHILD (confirmed by \(match.decidedBy ?? "?") at \(match.decidedAt ?? "?"): \(TerminalText.oneLine(match.decisionReason ?? ""))): \(who)")
                    case .possible:
                        console.line("  POSSIBLE MATCH (\(match.score ?? 0)/100): \(who): \(match.reasons.map(TerminalText.oneLine).joined(separator: "; "))")
                        console.line("    field intake match confirm \(child.person) \(match.person) --reason TEXT   (or reject)")
                    case .rejected:
                        console.line("  NOT THE SAME CHILD (rejected by \(match.decidedBy ?? "?") at \(match.decidedAt ?? "?"): \(TerminalText.oneLine(match.decisionReason ?? ""))): \(who)")
                    }
                }
            }
            if !related.household.isEmpty {
                console.line("")
                console.line("The household's other referrals:")
                for relation in related.household {
                    Format.table([["  "] + glance(relation.referral)]).forEach(console.line)
                    console.line("    because: \(relation.reasons.map(TerminalText.oneLine).joined(separator: "; "))")
                }
            }
            console.line("")
            console.line("Known to the front door: \(related.known.count) other referral(s) about these children or this household"
                + (related.recent.possible > 0 ? " (possible matches, above, count once confirmed)." : "."))
        }
    }

    struct Match: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "match",
            abstract: "Confirm or reject a possible match between two children in two referrals (with a reason), or undo a decision.",
            discussion: """
                confirm: the same child; their chronologies join. reject: not the same child; never suggested again. undo: the pair's decision is \
                removed. Each is audited on both referrals. `field intake related` prints the children's keys (<referral id>/children.<item id>).
                """)
        enum Decision: String, ExpressibleByArgument, CaseIterable { case confirm, reject, undo }
        @Argument(help: "confirm, reject or undo.") var decision: Decision
        @Argument(help: "One child's key, as `field intake related` prints it.") var person: String
        @Argument(help: "The other child's key.") var other: String
        @Option(help: "Why, for the record.") var reason: String

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let reply = try await client.decideMatch(MatchDecisionRequest(person: person, other: other, decision: decision.rawValue, reason: reason))
            let what = switch reply.decision {
            case "confirmed": "confirmed as the same child"
            case "rejected": "rejected: not the same child, and not suggested again"
            default: "undone (it was \(reply.previous ?? "undecided"))"
            }
            context.console.line("Match \(what), by \(reply.decidedBy) at \(reply.decidedAt).")
        }
    }

    struct Rate: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "rate",
            abstract: "Rate a referral red, amber or green, with a reason: the rating restarts the decision clock.",
            discussion: "The rating reaches the referrer; the reason stays with the front door unless --feedback sends it too. A new rating replaces the current one; the history keeps every rating.")
        @Argument(help: "The referral's reference (F-XXXX-XXXX), id or a unique prefix of its id.", completion: .custom(Completion.referralIDs)) var id: String
        @Option(help: "red, amber or green.") var rating: RAGRating
        @Option(help: "Why (kept with the rating; internal unless --feedback).") var reason: String
        @Flag(help: "Also send the reason to the referrer as feedback.") var feedback = false

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let full = try await queuedID(id, client: client)
            let reply = try await client.rate(full, rating: rating, reason: reason, feedback: feedback)
            context.console.line("Referral \(full) rated \(rating.title) at \(reply.ratedAt); the decision clock restarts. "
                + (feedback ? "The referrer sees the rating and its reason on their next sync." : "The referrer sees the rating, not the reason, on their next sync."))
        }
    }

    struct Seen: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "seen",
            abstract: "Record that the front door saw what changed since its decision, and the decision stands (clears CHANGED).",
            discussion: "The note is for the record and stays with the front door; the referrer sees that their change was seen.")
        @Argument(help: "The referral's reference (F-XXXX-XXXX), id or a unique prefix of its id.", completion: .custom(Completion.referralIDs)) var id: String
        @Option(help: "Why the decision stands.") var note: String

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let full = try await queuedID(id, client: client)
            let reply = try await client.markSeen(full, note: note)
            context.console.line("Referral \(full): changes marked seen at \(reply.seenAt) by \(reply.seenBy); the decision stands.")
        }
    }

    struct Acknowledge: FieldCommand {
        static let configuration = CommandConfiguration(commandName: "ack", abstract: "Record that the front door has received the referral (who and when).")
        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let full = try await queuedID(id, client: client)
            let (at, by) = try await client.acknowledge(full)
            context.console.line("Referral \(full) acknowledged at \(at) by \(by); the referrer sees it on their next sync.")
        }
    }

    struct Decide: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "decide",
            abstract: "Record the decision on a referral and the feedback for the referrer.",
            discussion: "A referral has one decision at a time; to change it, give --change and --reason: the earlier decision stays on the record, "
                + "and the referrer sees every decision. Outcomes: " + ReferralOutcome.allCases.map { "\($0.rawValue) (\($0.title))" }.joined(separator: "; ") + ".")
        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Option(help: "The outcome.") var outcome: ReferralOutcome
        @Option(help: "Feedback for the referrer, also when no further action is taken.") var note: String
        @Flag(help: "Change the decision already recorded (needs --reason).") var change = false
        @Option(help: "Why the decision changes; it stays on the record with the earlier decision.") var reason: String?

        func validate() throws {
            if change, reason?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ?? true {
                throw ValidationError("Changing a decision needs a reason: add --reason TEXT.")
            }
            if !change, reason != nil {
                throw ValidationError("--reason goes with --change; add --change to replace the decision already recorded.")
            }
        }

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let full = try await queuedID(id, client: client)
            let reply = try await client.recordDecision(full, outcome: outcome, note: note, change: change, reason: reason)
            if reply.number == 1 {
                context.console.line("Decision recorded for \(full) at \(reply.decidedAt): \(outcome.title). The referrer sees it on their next sync.")
            } else {
                context.console.line("Decision changed for \(full) at \(reply.decidedAt): \(outcome.title) (decision \(reply.number); the earlier ones stay on the record). The referrer sees it on their next sync.")
            }
        }
    }
}

extension Field {
    struct Conflicts: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "conflicts",
            abstract: "List open conflicts (admin role): every candidate side by side.")
        @Flag(help: "Include resolved conflicts, with their decisions.") var all = false
        @OptionGroup var output: JSONOption

        struct Row: Encodable {
            struct Candidate: Encodable {
                @NullEncoded var value: String?
                let author: String
                let device: String
                let time: String

                enum CodingKeys: String, CodingKey { case value, author, device, time }
            }

            let id: String
            let record: String
            let path: String
            let question: String
            let status: String
            let candidates: [Candidate]
            let resolution: ConflictSummary.Resolution?
        }

        func run(in context: Context) async throws {
            let conflicts = try await context.onlineClient().conflicts(all: all)
            if output.json {
                try context.console.json(conflicts.map { conflict in
                    Row(id: conflict.id, record: conflict.record, path: conflict.path, question: conflict.question, status: conflict.status,
                        candidates: conflict.candidates.map { .init(value: $0.value, author: $0.author, device: $0.device, time: $0.time) },
                        resolution: conflict.resolution)
                })
                return
            }
            guard !conflicts.isEmpty else {
                context.console.line(all ? "No conflicts." : "No open conflicts.")
                return
            }
            let form = try context.store().forms.union
            for conflict in conflicts {
                context.console.line("Conflict \(conflict.id) (\(conflict.status)) on referral \(conflict.record)")
                context.console.line("  \(conflict.path): \(conflict.question)")
                for (index, candidate) in conflict.candidates.enumerated() {
                    context.console.line("  \(index + 1). \(Format.value(candidate.value, at: conflict.path, form: form))")
                    context.console.line("     by \(Format.device(candidate.device, author: candidate.author)) at \(candidate.time)")
                }
                if let resolution = conflict.resolution {
                    context.console.line("  Resolved: \(Format.value(resolution.value, at: conflict.path, form: form)) by \(resolution.by) at \(resolution.at): \(TerminalText.oneLine(resolution.reason))")
                }
            }
        }
    }

    struct Resolve: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "resolve",
            abstract: "Settle a conflict (admin role): pick a candidate or give a value, with a reason.",
            discussion: "The decision becomes a new revision that every device receives on its next sync; the conflict keeps its candidates, the decision, who, when and why.")
        @Argument(help: "The conflict's id or a unique prefix of it.") var conflict: String
        @Option(help: "The candidate to keep, by its number in `field conflicts`.") var pick: Int?
        @Option(help: "A value of your own, such as a merge of the candidates.") var value: String?
        @Option(help: "Why: it stays on the record.") var reason: String

        func run(in context: Context) async throws {
            guard (pick == nil) != (value == nil) else { throw CLIError("Give either --pick N or --value TEXT, not both and not neither.") }
            let client = try context.onlineClient()
            let open = try await client.conflicts()
            let matches = open.filter { $0.id.hasPrefix(conflict.lowercased()) }
            guard let target = matches.first else { throw CLIError("No open conflict has an id starting '\(conflict)'; `field conflicts` lists them.") }
            guard matches.count == 1 else { throw CLIError("'\(conflict)' matches \(matches.count) conflicts; give more of the id.") }
            var stored = value
            if let value, let field = try context.store().forms.union.field(atStoredPath: target.path)?.1 {
                stored = try field.type.normalize(value, now: context.clock.now(), timeZone: .current)
            }
            let resolution = try await client.resolve(target.id, pick: pick, value: stored, reason: reason)
            let form = try context.store().forms.union
            context.console.line("Resolved conflict \(target.id): \(target.path) = \(Format.value(resolution.value, at: target.path, form: form)) (revision \(resolution.revision)). Every device receives it on its next sync.")
        }
    }
}
