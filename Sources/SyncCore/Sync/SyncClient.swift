import Foundation

/// Why a sync did not happen or stopped. Whatever was acknowledged before a
/// failure is kept; nothing else changes on the device.
public enum SyncError: Error, Equatable, Sendable, CustomStringConvertible {
    case notLoggedIn
    case unreachable(server: String, reason: String)
    /// The connection broke before a whole reply came back: the server may
    /// have applied the request; what it did not confirm stays pending and
    /// is sent again (a retry of an applied change is a `duplicate`).
    case interrupted(server: String, reason: String)
    /// The server's certificate is not trusted: nothing was sent.
    case untrusted(server: String, reason: String)
    case refused(status: Int, message: String)
    case unreadableReply(String)
    /// The server revoked this device; its referral data has been erased,
    /// and `WipeReport` says what of it the server never received.
    case revoked(WipeReport)
    /// The server's log is not the one this device synced with (409
    /// `server-restored`): `sync` reconciles and goes on; it surfaces only if
    /// the server keeps saying so.
    case serverRestored(message: String)

    public var description: String {
        switch self {
        case .revoked(let report):
            Self.revokedMessage(report)
        case .notLoggedIn:
            "This device is not registered with a server; run `field login --server URL --token TOKEN` first."
        case .unreachable(let server, let reason):
            "Cannot reach the server at \(server) (\(reason)); your changes are safe on this device and will be sent on the next sync."
        case .interrupted(let server, let reason):
            "The connection to the server at \(server) broke before a whole reply arrived (\(reason)); your changes are safe on this device, and the next sync sends again whatever the server did not confirm."
        case .untrusted(let server, let reason):
            "The server at \(server) did not present a certificate this device trusts (\(reason)), so nothing was sent; if it uses a private certificate authority, log in again with `field login --server \(server) --ca FILE`."
        case .refused(let status, let message) where status >= 500:
            // The server's trouble, not the request's: what was pending stays pending.
            "The server could not take the request (\(status): \(message.trimmingCharacters(in: CharacterSet(charactersIn: ".")))); your changes are safe on this device and will be sent on the next sync."
        case .refused(let status, let message):
            "The server refused the request (\(status)): \(message)"
        case .unreadableReply(let what):
            "The server's reply to \(what) could not be read; nothing was lost, try again."
        case .serverRestored(let message):
            "The server still reports a restored log after reconciling (\(message)); nothing was lost on this device, try again later."
        }
    }
}

extension SyncError {
    /// What a practitioner is told when their device was revoked: that it
    /// was erased, in plain words what the server never received (each
    /// referral, submitted ones and a child at immediate risk named), what to
    /// do about it, and the way back to a working laptop.
    static func revokedMessage(_ report: WipeReport) -> String {
        let sent = report.sentFirst > 0 ? " Before that, \(report.sentFirst) submitted referral(s) were sent to the server." : ""
        let wayBack = " To use this laptop again, ask your administrator for a token and run `field login`: it registers as a new device."
        guard !report.erased.isEmpty else {
            return "The server has revoked this device, so its referral data has been erased from it; everything on it had reached the server." + sent + wayBack
        }
        let listed = report.erased.map { erased in
            "referral \(erased.id.prefix(13)) (\(erased.status)\(erased.immediateRisk ? ", a child at immediate risk" : ""), \(erased.unsentChanges) unsent change(s))"
        }
        let submitted = report.erased.contains { $0.status == ReferralStatus.submitted.rawValue }
        let risk = report.erased.contains(where: \.immediateRisk)
        return "The server has revoked this device, so its referral data has been erased from it, including work the server never received: "
            + listed.joined(separator: "; ") + "." + sent
            + (submitted ? " The front door does not have what you submitted there: phone it now (`field contacts` lists the numbers) and tell them what you referred\(risk ? ", starting with the child at immediate risk" : "")." : "")
            + (report.erased.contains { $0.status != ReferralStatus.submitted.rawValue } ? " What was only a draft must be written again." : "")
            + wayBack
    }
}

/// What a sync did, for the summary line and `--json`.
public struct SyncSummary: Sendable, Equatable, Codable {
    public var pushed = 0
    public var applied = 0
    public var conflicts = 0
    public var rejected = 0
    /// Fields this device took from the server (its own writes coming back excluded).
    public var pulled = 0
    /// The last receipt's reference, if anything was acknowledged.
    @NullEncoded public var receipt: String?
    public var receiptTime: String?
    /// Attachments sent whole in this sync, and the bytes sent for them
    /// (chunks the server already held are not sent again); nil when none.
    public var attachmentsSent: Int?
    public var attachmentBytesSent: Int64?
    /// Changes refused for the device's state (a change number used before)
    /// and sent again under new numbers in this sync.
    public var renumbered = 0
    /// Whether the server's log turned out to be another one (restored from a
    /// backup): the device pulled it from the start.
    public var serverRestored = false
    /// Values this device sent back to a restored server that lacked them.
    public var restoredValues = 0
    /// Set when the device's clock is newly found off from the server's (or right again).
    @NullEncoded public var clock: ClockNotice?
    /// The newest form version this sync fetched (docs/form.md); nil when
    /// the device already had the server's newest.
    public var formVersion: Int?
    /// Whether this device's form versions were not the server's (it was
    /// restored from a backup and published again) and were replaced by them.
    public var formsReplaced: Bool?
    /// Receipts that did not check out on this device (not signed by a
    /// pinned key, altered, or not naming what was sent), one sentence each.
    public var receiptProblems: [String]?
    /// Set when the server's audit chain no longer holds the newest head this
    /// device was given (docs/security.md): one sentence.
    public var auditWarning: String?
    /// The newest form version the server's last pull page named, and its digest.
    var serverFormVersion: Int?
    var serverFormDigest: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case pushed, applied, conflicts, rejected, pulled, receipt, renumbered, serverRestored = "server_restored"
        case restoredValues = "restored_values", clock, formVersion = "form_version", formsReplaced = "forms_replaced"
        case receiptProblems = "receipt_problems", auditWarning = "audit_warning"
        case attachmentsSent = "attachments_sent", attachmentBytesSent = "attachment_bytes_sent"
    }
}

/// Progress of a long sync.
public enum SyncProgress: Sendable {
    case pushed(done: Int, total: Int)
    case pulled(done: Int)
    /// An attachment's upload: bytes the server holds of it, of its size.
    case uploading(sha256: String, done: Int64, total: Int64)
}

/// Runs the device side of the protocol: register, then push everything
/// pending in batches and pull every page.
public struct SyncClient: Sendable {
    public let store: LocalStore
    public let transport: any SyncTransport
    let server: String

    public init(store: LocalStore, transport: any SyncTransport, server: String) {
        self.store = store
        self.transport = transport
        self.server = server
    }

    /// Registers this device for the token's user.
    public func register() async throws -> RegisterResponse {
        let body = try JSONEncoder().encode(RegisterRequest(device: store.deviceID))
        let reply = try await call("register") { try await transport.post("v1/register", body: body) }
        return try decode(RegisterResponse.self, reply, what: "register")
    }

    /// Fetches the server's receipt keys (`GET /v1/keys`) and pins those
    /// this device lacks: at login, and when a receipt names a key not yet
    /// pinned (after a rotation). Returns how many were new; 0 from a server
    /// before signed receipts.
    @discardableResult
    public func pinReceiptKeys() async throws -> Int {
        let reply = try await call("the receipt keys") { try await transport.get("v1/keys", query: []) }
        return try store.pinReceiptKeys(try decode(ReceiptKeySet.self, reply, what: "the receipt keys").keys)
    }

    /// Pushes everything pending, then pulls every page, healing on the way
    /// (docs/protocol.md, "Recovery"):
    /// - refusals whose cause has gone away are sent again under new numbers;
    /// - a server whose log is not the one this device synced with (restored
    ///   from a backup) is reconciled: its log is pulled from the start, then
    ///   what it lacks is pushed again, in this same sync;
    /// - the server's time is noted on every reply (`SyncSummary.clock`).
    /// - Throws: `SyncError`; whatever was acknowledged before it stays acknowledged.
    public func sync(batchSize: Int = 500, pageSize: Int = 1_000, progress: @Sendable (SyncProgress) -> Void = { _ in }) async throws -> SyncSummary {
        // Offline is normal: find out before anything is marked as sent.
        _ = try await call("the health check") { try await transport.get("healthz", query: []) }
        var summary = SyncSummary()
        // The head this device held before this sync's push: a push gives a
        // new receipt naming the chain as it is now, which a shortened chain
        // would pass; the head from before must be checked.
        var presenting = try store.newestAuditHead()
        // Only practitioners write referral content; other roles only pull.
        let pushes = (try store.login()?.role ?? .practitioner) == .practitioner
        if pushes { summary.renumbered += try store.requeueLegacyRefusals() }
        // At most a few rounds: a reconciliation adds one, a server that
        // keeps reporting a restore after it ends the sync with an error.
        for _ in 0..<3 {
            if try store.isReconciling() {
                summary.serverRestored = true
                if try await pullAll(pageSize: pageSize, presenting: &presenting, into: &summary, progress: progress) { continue }
                summary.restoredValues += try store.finishReconcile(resend: pushes)
            }
            var last: HeldReply?
            if pushes {
                do {
                    try await uploadAttachments(into: &summary, progress: progress)
                    last = try await pushAll(batchSize: batchSize, into: &summary, progress: progress)
                } catch SyncError.serverRestored {
                    try store.beginReconcile(epoch: nil)
                    continue
                }
            }
            if try await pullAll(pageSize: pageSize, presenting: &presenting, after: last, into: &summary, progress: progress) { continue }
            try await fetchForms(into: &summary)
            return summary
        }
        throw SyncError.serverRestored(message: "after \(summary.restoredValues) value(s) sent back")
    }

    /// A push reply not yet taken: the sync's last, stored with the first
    /// pulled page in one transaction.
    struct HeldReply {
        var response: PushResponse
        var sent: [PendingChange]
    }

    /// Pushes the outbox in batches; changes refused as reusing a change
    /// number are renumbered past the server's last and sent again.
    ///
    /// Each batch costs one local transaction (`LocalStore.pushStep`): the
    /// reply to the batch before is taken, and the next batch is picked and
    /// marked sent, together. The last reply is returned, not taken, for the
    /// pull to take with its first page (`pullAll(after:)`); a reply that asks
    /// for changes to be sent again is taken here.
    ///
    /// Batches are sized by their encoded bytes (`boundedByBytes`), so a
    /// body never passes the server's limit whatever the values hold. A
    /// change that cannot be sent at all (a value over
    /// `SyncProtocol.maximumValueBytes`, stored before that rule, or one a
    /// server with a smaller limit still refuses with 413 on its own) is
    /// refused on the device, with the reason `field status` shows, and the
    /// changes queued behind it go on: one bad change never blocks the rest.
    func pushAll(batchSize: Int, into summary: inout SyncSummary, progress: @Sendable (SyncProgress) -> Void) async throws -> HeldReply? {
        let total = try store.pushableCount()
        var renumberings = 0
        // Halved on a 413, so a server with a smaller body limit is met too.
        var limit = batchSize
        func step(after reply: HeldReply?) throws -> PushStep {
            let step = try store.pushStep(
                after: reply.map { ($0.response, $0.sent) }, limit: limit, unsendable: Self.unsendable, choose: Self.boundedByBytes)
            summary.rejected += step.refused
            summary.clock = step.clock ?? summary.clock
            return step
        }
        var next = try step(after: nil)
        while !next.batch.isEmpty {
            let batch = next.batch
            let body = try JSONEncoder().encode(pushRequest(batch, epoch: next.epoch, cursor: next.cursor))
            // A body the server cannot take: fewer at a time, down to one, which is then refused here.
            func tooLarge() throws {
                if batch.count == 1 {
                    try store.refuseUnsent(batch[0].seq, reason: Self.tooLarge(body.count))
                    summary.rejected += 1
                } else {
                    limit = max(1, batch.count / 2)
                }
            }
            if body.count > SyncProtocol.maximumBody {
                // The estimate was short (it never should be).
                try tooLarge()
                next = try step(after: nil)
                continue
            }
            // Marked sent already (`pushStep`): a crash after sending leaves
            // them frozen, so a retry carries exactly what the server may already have.
            let reply: (status: Int, body: Data)
            do {
                reply = try await call("push") { try await transport.post("v1/push", body: body) }
            } catch SyncError.refused(status: 413, _) {
                // Nothing of the body was applied (a server with a smaller limit).
                try tooLarge()
                next = try step(after: nil)
                continue
            }
            let response = try decode(PushResponse.self, reply, what: "push")
            let sentSeqs = Set(batch.map(\.seq))
            guard response.outcomes.contains(where: { sentSeqs.contains($0.seq) }) else {
                // A reply that answers none of the changes would loop forever.
                throw SyncError.unreadableReply("push (it answered none of the changes sent)")
            }
            let held = HeldReply(response: response, sent: batch)
            if !next.rest, !response.outcomes.contains(where: { $0.retry == true }) {
                // Nothing was waiting behind this batch: the pull takes the reply.
                summary.pushed += batch.count
                progress(.pushed(done: summary.pushed, total: max(total, summary.pushed)))
                return held
            }
            next = try step(after: held)
            let tally = try await account(next.tally!, held, into: &summary)
            progress(.pushed(done: summary.pushed, total: max(total, summary.pushed)))
            if tally.toResend > 0 {
                // A device restored from a backup reuses numbers the server
                // has: number past them and send again, up to a few times.
                renumberings += 1
                if renumberings > 3 { break }
                summary.renumbered += try store.renumberForResend(past: response.lastSeq)
                next = try step(after: nil)
            }
        }
        return nil
    }

    /// Adds a taken push reply to the summary; a receipt signed by a key not
    /// pinned here is checked again with the server's keys.
    @discardableResult
    func account(_ taken: PushTally, _ reply: HeldReply, counted: Bool = false, into summary: inout SyncSummary) async throws -> PushTally {
        var tally = taken
        if tally.receiptKeyUnknown, let receipt = reply.response.receipt, (try? await pinReceiptKeys()) != nil {
            // Signed by a key this device had not pinned (rotated since its login): checked again with the server's keys.
            tally.receiptProblem = try store.reassess(receipt, response: reply.response, sent: reply.sent)
        }
        if let problem = tally.receiptProblem { summary.receiptProblems = (summary.receiptProblems ?? []) + [problem] }
        if !counted { summary.pushed += reply.sent.count }
        summary.applied += tally.applied
        summary.conflicts += tally.conflicts
        summary.rejected += tally.rejected - tally.toResend
        if let receipt = reply.response.receipt {
            summary.receipt = receipt.reference
            summary.receiptTime = receipt.serverTime
        }
        return tally
    }

    /// The push of `batch`, with this device's epoch and pull cursor.
    func pushRequest(_ batch: [PendingChange]) throws -> PushRequest {
        try pushRequest(batch, epoch: store.serverEpoch(), cursor: store.pullCursor())
    }

    func pushRequest(_ batch: [PendingChange], epoch: String?, cursor: Int64) -> PushRequest {
        PushRequest(
            device: store.deviceID,
            changes: batch.map {
                WireChange(seq: $0.seq, record: $0.record.lowercased, path: $0.path, value: $0.value, baseRevision: $0.baseRevision, hlc: $0.hlc.description)
            },
            epoch: epoch, cursor: cursor)
    }

    /// Why `change` can never be sent, or nil: its value takes more than
    /// `SyncProtocol.maximumValueBytes` encoded (written before the device
    /// refused such values), which every server refuses.
    static func unsendable(_ change: PendingChange) -> String? {
        guard let size = change.value.flatMap(SyncProtocol.oversize) else { return nil }
        return "Not sent: the value takes \(size) bytes encoded, more than the \(SyncProtocol.maximumValueBytes) the server accepts for one value; shorten it with `field set` and sync again."
    }

    static func tooLarge(_ bytes: Int) -> String {
        "Not sent: the server refused this change as too large (\(bytes) bytes encoded); shorten the value with `field set` and sync again."
    }

    /// The longest prefix of `batch` (at least one change) whose push body
    /// stays within the server's limit: each change counted at its value's
    /// and path's encoded size (`SyncProtocol.encodedSize`, an upper bound
    /// that counts a control character's six-byte escape) plus what its
    /// other members take.
    static func boundedByBytes(_ batch: [PendingChange]) -> [PendingChange] {
        var bytes = envelopeBytes
        var count = 0
        for change in batch {
            bytes += encodedBytes(change)
            if count > 0 && bytes > SyncProtocol.maximumBody { break }
            count += 1
        }
        return Array(batch.prefix(count))
    }

    /// A push body's bytes besides its changes (device, epoch, cursor, keys), generously.
    static let envelopeBytes = 1_024

    /// One change's bytes in a push body, generously: its value and path,
    /// and 300 for the keys, sequence number, record id, base revision and HLC.
    static func encodedBytes(_ change: PendingChange) -> Int {
        (change.value.map(SyncProtocol.encodedSize(of:)) ?? 4) + SyncProtocol.encodedSize(of: change.path) + 300
    }

    /// Pulls every page after the cursor. Returns true, having started a
    /// reconciliation, when the server's log is not the one this device
    /// synced with: another epoch, or an end before the device's cursor.
    /// `presenting`: the audit head to present with the first page (the
    /// newest this device held when the sync began), then nil. `after`: the
    /// push's last reply, taken with the first page in one transaction (on
    /// its own if no page can be stored).
    ///
    /// Pages stream: while a page is stored, the next is already asked for
    /// and read (its request carries the stored page's cursor). Only the
    /// transfer and the decoding run ahead; what a reply's status means (a
    /// revoked device, a restored server) is acted on in order, after the
    /// page before it is stored, and the cursor moves only with a stored
    /// page, so a sync stopped at any point resumes from the last page stored.
    func pullAll(
        pageSize: Int, presenting presented: inout (head: AuditHead, receipt: String, serverTime: String)?, after push: HeldReply? = nil,
        into summary: inout SyncSummary, progress: @Sendable (SyncProgress) -> Void
    ) async throws -> Bool {
        var held = push
        // The push's reply is taken whatever happens to the pull.
        func takeHeld() async throws {
            guard let reply = held else { return }
            held = nil
            try await account(try store.applyPush(reply.response, sent: reply.sent), reply, counted: true, into: &summary)
        }
        var cursor = try store.pullCursor()
        var query = Self.pullQuery(since: cursor, limit: pageSize)
        if let presented {
            query += [URLQueryItem(name: "audit_position", value: String(presented.head.position)), URLQueryItem(name: "audit_hash", value: presented.head.hash)]
        }
        var ahead = fetchPage(query)
        while true {
            let page: PullResponse
            do {
                let fetched = try await ahead.value
                // Taken before a refusal is acted on: a revoked device's
                // report must not count acknowledged changes as unsent, and
                // nothing may be written after its erasure.
                if !(200..<300).contains(fetched.reply.status) { try await takeHeld() }
                _ = try await check(fetched.reply)
                guard let decoded = fetched.page else { throw SyncError.unreadableReply("pull") }
                page = decoded
            } catch {
                try await takeHeld()
                throw error
            }
            if let presented, let check = page.auditCheck, let failure = check.failure {
                let message = ReceiptError.chainMissing(
                    receipt: presented.receipt, serverTime: presented.serverTime, position: presented.head.position, detail: failure).description
                try store.recordAuditFinding(receipt: presented.receipt, message: message)
                summary.auditWarning = message
            }
            presented = nil
            let known = try store.serverEpoch()
            let otherEpoch = page.epoch != nil && known != nil && page.epoch != known
            if otherEpoch || (page.end.map { cursor > $0 } ?? false) {
                try await takeHeld()
                try store.beginReconcile(epoch: page.epoch)
                summary.serverRestored = true
                return true
            }
            if let epoch = page.epoch, known == nil { try store.adoptServerEpoch(epoch) }
            // The next page travels and is decoded while this one is stored.
            if page.more { ahead = fetchPage(Self.pullQuery(since: page.cursor, limit: pageSize)) }
            let stored: (pulled: Int, tally: PushTally?, clock: ClockNotice?)
            do {
                stored = try store.applyPull(page, after: held.map { ($0.response, $0.sent) })
            } catch {
                ahead.cancel()
                try await takeHeld()
                throw error
            }
            if let tally = stored.tally, let reply = held {
                held = nil
                try await account(tally, reply, counted: true, into: &summary)
            }
            cursor = page.cursor
            summary.pulled += stored.pulled
            summary.clock = stored.clock ?? summary.clock
            summary.serverFormVersion = page.formVersion ?? summary.serverFormVersion
            summary.serverFormDigest = page.formDigest
            if !page.changes.isEmpty { progress(.pulled(done: summary.pulled)) }
            if !page.more { return false }
        }
    }

    static func pullQuery(since cursor: Int64, limit: Int) -> [URLQueryItem] {
        [URLQueryItem(name: "since", value: String(cursor)), URLQueryItem(name: "limit", value: String(limit))]
    }

    /// A pull page on its way: the reply, and the page decoded when the reply is a 200.
    typealias FetchedPage = (reply: (status: Int, body: Data), page: PullResponse?)

    /// Asks for a page and decodes it, in a task of its own, so that it runs
    /// while the page before is stored. Transport failures come back as
    /// `SyncError`s; the status is left for `check`.
    func fetchPage(_ query: [URLQueryItem]) -> Task<FetchedPage, any Error> {
        Task {
            let reply = try await send { try await transport.get("v1/pull", query: query) }
            let page = reply.status == 200 ? try? SyncCodec.decode(PullResponse.self, from: reply.body) : nil
            return (reply, page)
        }
    }

    /// Fetches, in order, the form versions the server has published and this
    /// device lacks (`GET /v1/forms/{version}`), and stores each: new drafts
    /// use the newest, drafts already started keep theirs (docs/form.md).
    func fetchForms(into summary: inout SyncSummary) async throws {
        guard let newest = summary.serverFormVersion else { return }
        // Digests only when the device has versions past the built-in one:
        // the common case (nothing published) hashes nothing.
        if store.form.version >= 2 {
            let mine = store.formDigests()
            if newest < store.form.version || (newest >= 2 && mine[newest].map { $0 != summary.serverFormDigest } == true) {
                try await replaceDivergedForms(newest: newest, mine: mine, into: &summary)
            }
        }
        while store.form.version < newest {
            let version = store.form.version + 1
            let reply = try await call("form version \(version)") { try await transport.get("v1/forms/\(version)", query: []) }
            guard reply.status == 200 else { throw SyncError.unreadableReply("form version \(version)") }
            do {
                try store.storeFormVersion(reply.body)
            } catch let error as FormDocumentError {
                throw SyncError.unreadableReply("form version \(version) (\(error))")
            }
            summary.formVersion = version
        }
    }

    /// The server's versions are not this device's (restored from a backup,
    /// perhaps published again): from the first version whose digest differs,
    /// the device takes the server's.
    func replaceDivergedForms(newest: Int, mine: [Int: String], into summary: inout SyncSummary) async throws {
        let reply = try await call("the form versions") { try await transport.get("v1/forms", query: []) }
        let list = try decode(FormVersionList.self, reply, what: "the form versions")
        let theirs = Dictionary(list.versions.map { ($0.version, $0.digest) }, uniquingKeysWith: { first, _ in first })
        guard let first = (2...max(2, store.form.version)).first(where: { mine[$0] != theirs[$0] }) else { return }
        var documents: [Data] = []
        for version in first...max(first, list.latest) where version <= list.latest {
            let fetched = try await call("form version \(version)") { try await transport.get("v1/forms/\(version)", query: []) }
            documents.append(fetched.body)
        }
        do {
            try store.replaceFormVersions(from: first, with: documents)
        } catch let error as FormDocumentError {
            throw SyncError.unreadableReply("the form versions (\(error))")
        }
        summary.formsReplaced = true
        summary.formVersion = list.latest
    }

    func call(_ what: String, _ request: () async throws -> (status: Int, body: Data)) async throws -> (status: Int, body: Data) {
        try await check(try await send(request))
    }

    /// Makes a request; a failure to get a reply becomes the `SyncError` that says so.
    func send(_ request: () async throws -> (status: Int, body: Data)) async throws -> (status: Int, body: Data) {
        do {
            return try await request()
        } catch TransportError.untrustedCertificate(let reason) {
            throw SyncError.untrusted(server: server, reason: reason)
        } catch TransportError.interrupted(let reason) {
            throw SyncError.interrupted(server: server, reason: reason)
        } catch {
            throw SyncError.unreachable(server: server, reason: Self.describe(error))
        }
    }

    /// Acts on a reply's status: a revoked device is erased (`erase`), a
    /// restored server or any other refusal becomes its `SyncError`.
    func check(_ reply: (status: Int, body: Data)) async throws -> (status: Int, body: Data) {
        if reply.status == 410 {
            let code = (try? JSONDecoder().decode(ErrorBody.self, from: reply.body))?.error.code
            throw SyncError.revoked(try await erase(sendingSubmittedFirst: code == ErrorCode.deviceRevokedSendSubmitted))
        }
        guard (200..<300).contains(reply.status) else {
            let error = (try? JSONDecoder().decode(ErrorBody.self, from: reply.body))?.error
            let message = error?.message ?? "no explanation given"
            if reply.status == 409, error?.code == ErrorCode.serverRestored { throw SyncError.serverRestored(message: message) }
            throw SyncError.refused(status: reply.status, message: message)
        }
        return reply
    }

    /// A revoked device's way out (docs/protocol.md, "Revocation"): with
    /// "send submitted work first", the changes of its submitted referrals
    /// are pushed while the server still takes them; then everything is
    /// erased, and the report of what the server never received goes to the
    /// server (best effort: the device is erased whether or not it arrives)
    /// and back to the caller, for the practitioner.
    func erase(sendingSubmittedFirst: Bool) async throws -> WipeReport {
        var sentFirst = 0
        if sendingSubmittedFirst {
            let before = Set(try store.unsentWork().filter { $0.status == ReferralStatus.submitted.rawValue }.map(\.id))
            await sendSubmitted()
            sentFirst = before.subtracting(try store.unsentWork().map(\.id)).count
        }
        let report = WipeReport(erased: try store.unsentWork(), sentFirst: sentFirst)
        try store.wipe()
        _ = try? await transport.post("v1/devices/wiped", body: try JSONEncoder().encode(report))
        return report
    }

    /// Pushes the changes of the device's submitted referrals until none is
    /// left or the server stops taking them; best effort, as the device is
    /// erased next whatever happens.
    func sendSubmitted() async {
        // The files its submitted referrals name go first, so their changes are taken.
        let submitted = Set(((try? store.submittedChangesToPush(limit: Int.max)) ?? []).map(\.seq))
        for upload in (try? store.pendingUploads()) ?? [] where !submitted.isDisjoint(with: upload.seqs) {
            _ = try? await self.upload(upload, progress: { _ in })
        }
        for _ in 0..<1_000 {
            guard let candidates = try? store.submittedChangesToPush(limit: 500), !candidates.isEmpty else { return }
            let batch = Self.boundedByBytes(candidates)
            guard let body = try? JSONEncoder().encode(try pushRequest(batch)), (try? store.markSent(batch.map(\.seq))) != nil,
                let reply = try? await transport.post("v1/push", body: body), reply.status == 200,
                let response = try? JSONDecoder().decode(PushResponse.self, from: reply.body),
                let tally = try? store.applyPush(response, sent: batch), tally.applied + tally.conflicts + tally.rejected > 0
            else { return }
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ reply: (status: Int, body: Data), what: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: reply.body) } catch { throw SyncError.unreadableReply(what) }
    }

    static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        return nsError.localizedDescription.isEmpty ? "\(error)" : nsError.localizedDescription
    }
}

/// The front door's calls: intake's queue, reading, acknowledging and
/// deciding, and admins' conflicts. Online only.
extension SyncClient {
    public func queue() async throws -> [QueueEntry] {
        try decode([QueueEntry].self, try await call("the queue") { try await transport.get("v1/intake/queue", query: []) }, what: "the queue")
    }

    public func submittedReferral(_ id: String) async throws -> ReferralDocument {
        try decode(ReferralDocument.self, try await call("the referral") { try await transport.get("v1/intake/referrals/\(id)", query: []) }, what: "the referral")
    }

    /// Returns when and by whom the referral was acknowledged (the first time).
    public func acknowledge(_ id: String) async throws -> (at: String, by: String) {
        struct Reply: Decodable { let acknowledged_at: String; let acknowledged_by: String }
        let reply = try decode(Reply.self, try await call("the acknowledgement") { try await transport.post("v1/intake/referrals/\(id)/acknowledge", body: Data("{}".utf8)) }, what: "the acknowledgement")
        return (reply.acknowledged_at, reply.acknowledged_by)
    }

    public func decide(_ id: String, outcome: ReferralOutcome, note: String) async throws -> String {
        struct Reply: Decodable { let decided_at: String }
        let body = try JSONEncoder().encode(DecisionRequest(outcome: outcome.rawValue, note: note))
        return try decode(Reply.self, try await call("the decision") { try await transport.post("v1/intake/referrals/\(id)/decision", body: body) }, what: "the decision").decided_at
    }

    public func conflicts(all: Bool = false) async throws -> [ConflictSummary] {
        let query = all ? [URLQueryItem(name: "status", value: "all")] : []
        return try decode([ConflictSummary].self, try await call("the conflicts") { try await transport.get("v1/conflicts", query: query) }, what: "the conflicts")
    }

    public func resolve(_ id: String, pick: Int?, value: String?, reason: String) async throws -> ConflictSummary.Resolution {
        let body = try JSONEncoder().encode(ResolutionRequest(pick: pick, value: value, reason: reason))
        return try decode(ConflictSummary.Resolution.self, try await call("the resolution") { try await transport.post("v1/conflicts/\(id)/resolve", body: body) }, what: "the resolution")
    }
}
