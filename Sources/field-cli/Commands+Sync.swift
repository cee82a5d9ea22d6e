import ArgumentParser
import Foundation
import SyncCore

extension Field {
    struct Login: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "login",
            abstract: "Register this device with a server.",
            discussion: """
                The token comes from the server's administrator (`sync-server user add`). The device then writes as that user. \
                The server's certificate is always checked; --ca trusts a private certificate authority for this server, \
                remembered for every later sync. Plain http:// is allowed only to this machine (localhost, 127.0.0.1, ::1).
                """)

        @Option(help: "The server's address, such as https://referrals.example.org or http://127.0.0.1:8080.") var server: String
        @Option(help: "Your bearer token; `-` reads it from standard input (keeps it out of shell history), or set FIELD_TOKEN.")
        var token: String?
        @Option(help: "A PEM file with the certificate authority that signed the server's certificate, when it is not one the system trusts.")
        var ca: String?
        @Flag(help: "Allow plain http:// to another machine: the token and referrals then cross the network unencrypted.")
        var allowInsecureHttp = false

        func run(in context: Context) async throws {
            guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw CLIError("'\(server)' is not a server address such as https://referrals.example.org.")
            }
            if scheme == "http", !HTTPTransport.isLoopback(url), !allowInsecureHttp {
                throw CLIError("'\(server)' is plain http:// to another machine, which would send your token and referrals unencrypted; use https://, or pass --allow-insecure-http if you really mean it.")
            }
            var authority: String?
            if let ca {
                guard scheme == "https" else { throw CLIError("--ca '\(ca)' applies to https:// servers only; '\(server)' is http://.") }
                authority = try Self.readCA(ca)
            }
            var token = self.token ?? ProcessInfo.processInfo.environment["FIELD_TOKEN"]
            if token == "-" { token = context.console.readLine()?.trimmingCharacters(in: .whitespaces) }
            guard let token, !token.isEmpty else {
                throw CLIError("No token given; pass --token TOKEN, --token - to read it from standard input, or set FIELD_TOKEN.")
            }
            let store = try context.store()
            let client = SyncClient(
                store: store, transport: HTTPTransport(server: url, token: token, device: store.deviceID, trustedCA: authority), server: server)
            let reply: RegisterResponse
            do {
                reply = try await client.register()
            } catch SyncError.unreachable(let server, let reason) {
                // The generic wording promises a later sync, which a failed login cannot keep.
                throw CLIError("Cannot reach the server at \(server) (\(reason)); this device is not logged in: check the address and run `field login` again.")
            } catch SyncError.interrupted(let server, let reason) {
                throw CLIError("The connection to the server at \(server) broke before it answered (\(reason)); this device is not logged in: run `field login` again.")
            }
            // The device keeps the token the server issued to it, never the user's.
            try store.saveLogin(
                ServerLogin(server: server, token: reply.deviceToken ?? token, user: reply.user, role: reply.role, ca: authority),
                lastSeq: reply.lastSeq)
            // The server's receipt keys, pinned: receipts are then checked here, offline (docs/security.md).
            try await client.pinReceiptKeys()
            context.console.line("Logged in to \(server) as \(reply.user) (\(reply.role.rawValue)); this device is \(reply.device).")
        }

        /// The CA file's text, if it holds at least one PEM certificate.
        static func readCA(_ path: String) throws -> String {
            guard FileManager.default.fileExists(atPath: path) else { throw CLIError("The CA file '\(path)' does not exist.") }
            guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("The CA file '\(path)' cannot be read.") }
            let text = String(decoding: data, as: UTF8.self)
            guard text.contains("-----BEGIN CERTIFICATE-----"), text.contains("-----END CERTIFICATE-----") else {
                throw CLIError("The CA file '\(path)' does not hold a PEM certificate (-----BEGIN CERTIFICATE-----).")
            }
            return text
        }
    }

    struct Sync: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Send every pending change to the server, get a receipt, and receive what others wrote.",
            discussion: "With the server unreachable, nothing changes on the device and the command exits non-zero; sync again later.")

        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            let client = try context.client()
            let console = context.console
            let json = output.json
            let before = try client.store.syncStatus()
            let summary = try await client.sync { progress in
                guard !json else { return }
                switch progress {
                case .pushed(let done, let total) where total > 500:
                    console.error("Pushed \(done) of \(total) changes…")
                case .pulled(let done) where done > 1_000:
                    console.error("Pulled \(done) changes…")
                case .uploading(let sha256, let done, let total):
                    // A line at each quarter of the file: a 20 MB photo is 40 chunks, not 40 lines.
                    let percent = total > 0 ? done * 100 / total : 100
                    let chunk = Int64(AttachmentChunks.size)
                    if percent == 100 || (done * 4 / max(total, 1)) > ((done - min(done, chunk)) * 4 / max(total, 1)) {
                        console.error("Uploading attachment \(sha256.prefix(12))…: \(done.byteCount) of \(total.byteCount) (\(percent) %)")
                    }
                default:
                    break
                }
            }
            let store = client.store
            let after = try store.syncStatus()
            let summaries = try store.summaries()
            if json {
                try console.json(SyncDocument(summary: summary, news: SyncNews.lines(before: before, after: after, summaries: summaries) { path, id in
                    (try? store.referral(id)).map { Format.path(path, in: $0) } ?? path
                }))
                return
            }
            if let sent = summary.attachmentsSent {
                console.line("Sent \(sent) attachment(s), \((summary.attachmentBytesSent ?? 0).byteCount) uploaded; each was checked whole by the server.")
            }
            console.line("Pushed \(summary.pushed) change(s): \(summary.applied) applied, \(summary.conflicts) conflict(s), \(summary.rejected) rejected. Received \(summary.pulled) update(s) from the server.")
            if let receipt = summary.receipt {
                console.line("Receipt \(receipt) at \(summary.receiptTime ?? "?"): quote it as proof the server received your changes; the front door acknowledges a referral separately (`field status`).")
            }
            let news = SyncNews.lines(before: before, after: after, summaries: summaries) { path, id in
                (try? store.referral(id)).map { Format.path(path, in: $0) } ?? path
            }
            news.forEach(console.line)
            if let clock = summary.clock { console.line(clock.sentence) }
            if summary.formsReplaced == true {
                console.line("The server's form versions were not this device's (was the server restored from a backup?): this device now has the server's, up to version \(summary.formVersion ?? 1). Drafts keep every answer; `field show` lists what their version does not ask.")
            } else if let version = summary.formVersion {
                let behind = summaries.filter { $0.status == .draft }.compactMap { try? store.referral($0.id) }.filter { $0.formVersion < version }
                console.line("The server published form version \(version): new drafts are written on it."
                    + (behind.isEmpty ? "" : " \(behind.count) draft(s) stay on their version until you run `field upgrade <id>` (\(behind.prefix(3).map { String($0.id.lowercased.prefix(13)) }.joined(separator: ", "))\(behind.count > 3 ? ", …" : ""))."))
            }
            if summary.serverRestored {
                console.line("The server was restored from a backup: this device pulled its records again and sent back \(summary.restoredValues) value(s) the server had lost.")
            }
            if summary.renumbered > 0 {
                console.line("\(summary.renumbered) change(s) had numbers the server had already used (was this device restored from a backup?) and were sent again under new numbers.")
            }
            for problem in summary.receiptProblems ?? [] { console.line("Warning: \(problem) Keep this device's copy; tell your administrator.") }
            if let warning = summary.auditWarning {
                console.line("Warning: \(warning) Tell your administrator: your receipts still prove what you sent (`field receipt export`).")
            }
            if summary.rejected > 0 { console.line("Refused changes stay on this device: `field status` shows why.") }
            if summary.conflicts > 0 { console.line("Conflicting edits are kept side by side for an admin to resolve: `field status` lists them.") }
        }
    }

    struct Status: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show what is waiting to sync, the last receipt and any conflicts, per referral.")

        @Argument(help: "One referral's id or a unique prefix of it; all when omitted.", completion: .custom(Completion.referralIDs)) var id: String?
        @OptionGroup var output: JSONOption

        struct Document: Encodable {
            struct ReceiptJSON: Encodable {
                let reference: String
                let time: String
            }

            struct ConflictJSON: Encodable {
                let id: String
                let path: String
                let candidates: [ConflictCandidate]
            }

            struct RejectedJSON: Encodable {
                let path: String
                let value: String?
                let reason: String
            }

            struct AcknowledgedJSON: Encodable {
                let at: String
                let by: String
            }

            struct OutcomeJSON: Encodable {
                let outcome: String
                let title: String
                let note: String?
                let at: String?
                let by: String?
            }

            struct DecisionJSON: Encodable {
                let outcome: String
                let title: String
                let note: String
                let at: String
                let by: String
                /// Why an earlier decision was changed; null for the first.
                @NullEncoded var reason: String?

                enum CodingKeys: String, CodingKey { case outcome, title, note, at, by, reason }
            }

            let id: String
            let status: String
            let pending: Int
            @NullEncoded var receipt: ReceiptJSON?
            let conflicts: [ConflictJSON]
            /// Conflicts an admin settled: path, by, at, reason.
            let resolved: [ResolvedJSON]
            let rejected: [RejectedJSON]
            @NullEncoded var acknowledged: AcknowledgedJSON?
            @NullEncoded var outcome: OutcomeJSON?
            /// The front door's RAG rating, with the reason when it was sent as feedback.
            @NullEncoded var rating: RatingJSON?
            /// The referral's own reference (`F-XXXX-XXXX`), once the server gave it one.
            @NullEncoded var reference: String?
            /// When the front door saw a change made after its decision, and the decision stood.
            @NullEncoded var seen: SeenJSON?
            /// Every decision, oldest first; the last is `outcome`.
            let decisions: [DecisionJSON]
            /// Set once three working days have passed since receipt with no acknowledgement.
            @NullEncoded var escalate: String?

            struct RatingJSON: Encodable {
                let rating: String
                let title: String
                /// The reason, only when the front door sent it as feedback (otherwise it stays internal); null if not.
                @NullEncoded var feedback: String?
                let at: String
                let by: String

                enum CodingKeys: String, CodingKey { case rating, title, feedback, at, by }
            }

            struct SeenJSON: Encodable {
                let at: String
                let by: String
            }

            struct ResolvedJSON: Encodable {
                let id: String
                let path: String
                let by: String
                let at: String
                let reason: String
            }

            enum CodingKeys: String, CodingKey {
                case id, reference, status, pending, receipt, conflicts, resolved, rejected, acknowledged, outcome, rating, seen, decisions, escalate
            }
        }

        static let escalation = "no acknowledgement after 3 working days: contact the team manager"

        func run(in context: Context) async throws {
            let store = try context.store()
            let statuses = try store.syncStatus(of: id.map { try context.referralID($0) })
            let calendar = WorkingCalendar(authority: try context.authority())
            let now = context.clock.now()
            let documents = statuses.map { status in
                let door = status.frontDoor
                let acknowledged = door[IntakePath.acknowledgedAt].map { Document.AcknowledgedJSON(at: $0, by: door[IntakePath.acknowledgedBy] ?? "") }
                let outcome = door[IntakePath.outcome].map {
                    Document.OutcomeJSON(outcome: $0, title: ReferralOutcome(rawValue: $0)?.title ?? $0, note: door[IntakePath.outcomeNote],
                                         at: door[IntakePath.decidedAt], by: door[IntakePath.decidedBy])
                }
                let rating = door[IntakePath.rating].map {
                    Document.RatingJSON(rating: $0, title: RAGRating(rawValue: $0)?.title ?? $0, feedback: door[IntakePath.ratingFeedback],
                                        at: door[IntakePath.ratedAt] ?? "", by: door[IntakePath.ratedBy] ?? "")
                }
                let seen = door[IntakePath.seenAt].map { Document.SeenJSON(at: $0, by: door[IntakePath.seenBy] ?? "") }
                let overdue = status.receivedAt.map { acknowledged == nil && now > calendar.escalationDue(receivedAt: $0) } ?? false
                return Document(
                    id: status.id.lowercased, status: status.status.rawValue, pending: status.pending,
                    receipt: status.lastReceipt.map { .init(reference: $0.reference, time: $0.serverTime) },
                    conflicts: status.conflicts.map { .init(id: $0.id, path: $0.path, candidates: $0.candidates) },
                    resolved: status.resolved.map { .init(id: $0.id, path: $0.path, by: $0.resolution.by, at: $0.resolution.at, reason: $0.resolution.reason) },
                    rejected: status.rejected.map { .init(path: $0.path, value: $0.value, reason: $0.rejectedReason ?? "") },
                    acknowledged: acknowledged, outcome: outcome, rating: rating, reference: door[IntakePath.reference], seen: seen,
                    decisions: status.decisions.map { .init(outcome: $0.outcome, title: $0.title, note: $0.note, at: $0.decidedAt, by: $0.decidedBy, reason: $0.reason) },
                    escalate: overdue ? Self.escalation : nil)
            }
            if output.json {
                if id != nil { try context.console.json(documents[0]) } else { try context.console.json(documents) }
                return
            }
            if documents.isEmpty { context.console.line("No referrals on this device.") }
            let login = try store.login()
            if id == nil {
                context.console.line(login.map { "Registered with \($0.server) as \($0.user)." } ?? "Not logged in to a server: `field login` first.")
                // What the audit head checks found stays in view until the administrator has answered it.
                for finding in try store.auditFindings() {
                    context.console.line("Warning (\(finding.at)): \(finding.message)")
                }
            }
            for (status, document) in zip(statuses, documents) {
                let referral = try store.referral(status.id)
                var line = "\(document.id)  \(document.status)" + (document.reference.map { ", reference \($0)" } ?? "")
                line += document.pending == 0 ? ", nothing waiting" : ", \(document.pending) change(s) waiting to sync"
                if let receipt = document.receipt { line += ", last receipt \(receipt.reference) at \(receipt.time)" }
                context.console.line(line)
                if let acknowledged = document.acknowledged {
                    context.console.line("  acknowledged by the front door at \(acknowledged.at) (\(acknowledged.by))")
                } else if status.receivedAt != nil {
                    context.console.line("  received by the server, not yet acknowledged by the front door")
                }
                if let rating = document.rating {
                    context.console.line("  RAG rating: \(rating.title) (\(rating.by) at \(rating.at))")
                    if let feedback = rating.feedback { context.console.line("  the front door's feedback on the rating: \(TerminalText.oneLine(feedback))") }
                }
                if let outcome = document.outcome {
                    context.console.line("  outcome: \(outcome.title)" + (outcome.note.map { ": \(TerminalText.oneLine($0))" } ?? ""))
                }
                if status.decisions.count > 1 {
                    context.console.line("  the front door changed its decision; every decision, oldest first:")
                    Format.decisionLines(status.decisions, indent: "    ").forEach(context.console.line)
                }
                if let seen = document.seen {
                    context.console.line("  the front door saw the changes it had by \(seen.at) (\(seen.by)); its decision stood then")
                }
                if let escalate = document.escalate { context.console.line("  Escalate: \(escalate).") }
                for conflict in status.conflicts {
                    context.console.line("  conflict on \(Format.path(conflict.path, in: referral)), waiting for an admin:")
                    for candidate in conflict.candidates {
                        let device = Format.device(candidate.device, author: candidate.author, this: store.deviceID)
                        context.console.line("    \(Format.value(candidate.value, at: conflict.path, form: store.forms.union))  (\(device), \(candidate.time))")
                    }
                }
                for settled in status.resolved {
                    let resolution = settled.resolution
                    context.console.line("  conflict on \(Format.path(settled.path, in: referral)) resolved by \(resolution.by) at \(resolution.at) because \(TerminalText.oneLine(resolution.reason))")
                }
                for change in status.rejected {
                    context.console.line("  refused: \(Format.path(change.path, in: referral)): \(TerminalText.oneLine(change.rejectedReason ?? ""))")
                }
                if !status.rejected.isEmpty {
                    context.console.line("  Correct a refused answer with `set` (the new value is sent instead), or send it again as it is with `field retry \(document.id.prefix(13))`.")
                }
            }
            _ = try context.authority()
            if context.authorityIsExample {
                context.console.line("Authority: the shipped example's contacts (\(Authority.example.name)) are in use, not necessarily your authority's; `field contacts --init` writes them to $FIELD_HOME/authority.json to edit.")
            }
        }
    }

    struct Retry: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry",
            abstract: "Send a referral's refused changes again, as they are, on the next sync.",
            discussion: "A change the server refused for its content stays on the device with the reason (`field status`). Editing the field sends the new value instead; `retry` sends the refused value again unchanged, for when the cause has gone (say, the server now accepts the question). Changes refused for the device's own state are sent again by `field sync` without asking.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String

        func run(in context: Context) async throws {
            let store = try context.store()
            let referral = try context.referralID(id)
            let count = try store.retryRefused(referral)
            context.console.line(count == 0
                ? "Referral \(referral.lowercased) has no refused changes."
                : "\(count) refused change(s) of referral \(referral.lowercased) will be sent again on the next `field sync`.")
        }
    }
}
