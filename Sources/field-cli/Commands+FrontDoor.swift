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

struct Intake: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The front door's work (intake role, online): the queue, reading, acknowledging and deciding.",
        subcommands: [Queue.self, IntakeShow.self, Acknowledge.self, Decide.self])
}

/// Finds a queued referral by id or unique prefix.
func queuedID(_ prefix: String, client: SyncClient) async throws -> String {
    let lowered = prefix.lowercased()
    let matches = try await client.queue().map(\.id).filter { $0.hasPrefix(lowered) }
    guard !lowered.isEmpty, let first = matches.first else { throw CLIError("No submitted referral has an id starting '\(prefix)'; `field intake queue` lists them.") }
    guard matches.count == 1 else { throw CLIError("'\(prefix)' matches \(matches.count) submitted referrals; give more of the id.") }
    return first
}

struct Queue: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "List submitted referrals for triage: immediate risk first, then by acknowledgement deadline.",
        discussion: """
            By default the referrals that still need the front door: not yet decided, or decided and changed \
            since (CHANGED) or with an open conflict (CONFLICT). FLAGS: IMMEDIATE-RISK (the referrer answered that a \
            child is at immediate risk), LADO (an allegation against an adult who works with children), CHANGED, CONFLICT.
            """)
    @Flag(help: "Only referrals not decided yet.") var open = false
    @Flag(help: "Only referrals past their acknowledgement deadline and not acknowledged.") var overdue = false
    @Flag(help: "Only decided referrals.") var decided = false
    @Flag(help: "Every submitted referral.") var all = false
    @OptionGroup var output: JSONOption

    var view: QueueView {
        open ? .open : overdue ? .overdue : decided ? .decided : all ? .all : .active
    }

    func validate() throws {
        let chosen = [("--open", open), ("--overdue", overdue), ("--decided", decided), ("--all", all)].filter(\.1).map(\.0)
        if chosen.count > 1 { throw ValidationError("Give only one of --open, --overdue, --decided and --all; you gave \(chosen.joined(separator: " and ")).") }
    }

    func run(in context: Context) async throws {
        let entries = try await context.onlineClient().queue(view: view)
        if output.json {
            try context.console.json(entries)
            return
        }
        guard !entries.isEmpty else {
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
        let authority = try context.authority()
        var rows = [["ID", "KIND", "CHILD", "AGENCY", "FLAGS", "RECEIPT", "ACKNOWLEDGE BY", "STATE"]]
        rows += entries.map { entry in
            let state = entry.outcome.map { "decided: \($0)" } ?? (entry.acknowledged ? "acknowledged" : entry.overdue ? "OVERDUE" : "due")
            var flags: [String] = []
            if entry.immediateRisk { flags.append("IMMEDIATE-RISK") }
            if entry.lado { flags.append("LADO") }
            if entry.changed { flags.append("CHANGED") }
            if entry.openConflicts > 0 { flags.append("CONFLICT") }
            let child = (entry.childName ?? (entry.children > 0 ? "(no name)" : "-")) + (entry.children > 1 ? " +\(entry.children - 1)" : "")
            return [String(entry.id.prefix(13)), entry.kind, child, entry.agency ?? "-", flags.isEmpty ? "-" : flags.joined(separator: ","),
                    entry.receipt ?? "-", Timestamp.date(entry.ackDue).map { Format.localTime($0, authority) } ?? entry.ackDue, state]
        }
        Format.table(rows).forEach(context.console.line)
    }
}

struct IntakeShow: FieldCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a submitted referral, section by section, with the guidance's warnings.")
    @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
    @OptionGroup var output: JSONOption

    /// `--json`: the server's document (fields by stored path, open
    /// conflicts, changes since the front door last looked), the decisions
    /// oldest first, and the guidance's report.
    struct Document: Encodable {
        let referral: ReferralDocument
        let decisions: [DecisionRecord]
        let guidance: GuidanceReport
    }

    func run(in context: Context) async throws {
        let client = try context.onlineClient()
        let document = try await client.submittedReferral(try await queuedID(id, client: client))
        if output.json {
            let referral = Referral(id: UUID(uuidString: document.id)!, createdAt: Date(timeIntervalSince1970: 0), createdBy: document.owner,
                                    updatedAt: Date(timeIntervalSince1970: 0), values: document.fields)
            try context.console.json(Document(referral: document, decisions: DecisionRecord.history(in: document.fields), guidance: Guidance.check(referral)))
            return
        }
        let created = Timestamp.date(document.createdAt) ?? Date(timeIntervalSince1970: 0)
        let referral = Referral(
            id: UUID(uuidString: document.id)!, createdAt: created, createdBy: document.owner, updatedAt: created,
            values: document.fields)
        let form = try context.store().forms.union
        // Under each field: what changed after the front door saw it, and every candidate of an open conflict.
        let since = document.fields[IntakePath.decidedAt] != nil ? "the decision" : "the acknowledgement"
        var notes: [String: [String]] = [:]
        var changedPaths: [String] = []
        for change in document.changes where change.kind == "write" || change.kind == "candidate" {
            if !changedPaths.contains(change.path) { changedPaths.append(change.path) }
        }
        for path in changedPaths {
            let last = document.changes.last { $0.path == path }!
            notes[path, default: []].append("* changed since \(since): by \(last.by) at \(last.at)")
        }
        for conflict in document.conflicts {
            notes[conflict.path, default: []].append("! open conflict, waiting for an admin; every candidate:")
            for (index, candidate) in conflict.candidates.enumerated() {
                notes[conflict.path, default: []].append("  \(index + 1). \(Format.value(candidate.value, at: conflict.path, form: form))  (\(Format.device(candidate.device, author: candidate.author)), \(candidate.time))")
            }
        }
        var lines = try Show.render(referral, all: false, context: context, notes: notes)
        lines[1] = "Referred by \(document.owner); first synced \(document.createdAt)"
        var header: [String] = []
        if let at = document.fields[IntakePath.acknowledgedAt] {
            header.append("Acknowledged \(at) by \(document.fields[IntakePath.acknowledgedBy] ?? "?")")
        }
        let decisions = DecisionRecord.history(in: document.fields)
        if !decisions.isEmpty {
            header.append(decisions.count == 1 ? "Decision:" : "Decisions, oldest first (the last one stands):")
            header += Format.decisionLines(decisions, indent: "  ")
        }
        if !changedPaths.isEmpty {
            header.append("Changed since \(since): \(changedPaths.map { Format.path($0, in: referral) }.joined(separator: ", ")) (marked * below).")
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

struct Conflicts: FieldCommand {
    static let configuration = CommandConfiguration(abstract: "List open conflicts (admin role): every candidate side by side.")
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
