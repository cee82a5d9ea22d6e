import Foundation
import Hummingbird
import Logging
import SyncCore

/// `/v1/register`, `/v1/push`, `/v1/pull`: the sync protocol (docs/protocol.md).
struct SyncRoutes {
    let storage: any SyncStorage
    let engine: PushEngine
    let forms: FormRegistry
    let metrics: ServerMetrics
    /// Signs each push's receipt; nil leaves them unsigned.
    let signer: ReceiptSigner?

    func add(to group: RouterGroup<SyncRequestContext>) {
        group.post("register", use: register)
        group.post("push", use: push)
        group.get("pull", use: pull)
    }

    @Sendable func register(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = context.user!
        var request = request
        let body = try await Self.decode(RegisterRequest.self, from: &request)
        guard let device = UUID(uuidString: body.device), device.lowercased == body.device else {
            throw APIError(.badRequest, "'\(body.device.prefix(40))' is not a device id (a lowercase UUID).")
        }
        let now = Timestamp.string(engine.clock.now())
        // Signed in with the user's token: the device gets its own, which it
        // keeps instead (and which revoking the device ends). A device signed
        // in with its own token keeps it.
        let deviceToken = context.signedInDevice == nil ? Tokens.make(prefix: "fld_dev_") : nil
        // One transaction: the device, its token and the `login` audit entry.
        switch try await storage.register(device: body.device, for: user, at: now, deviceTokenHash: deviceToken.map(Tokens.hash)) {
        case .revoked:
            throw APIError(.gone, AuthenticationMiddleware.revokedMessage)
        case .otherUser:
            throw APIError(.forbidden, "Device \(body.device) is registered to another user.")
        case .registered(let lastSeq):
            context.logger.info("device registered", metadata: ["device": "\(body.device)"])
            return try Self.json(RegisterResponse(
                device: body.device, user: user.name, role: user.role, serverTime: now, lastSeq: lastSeq, deviceToken: deviceToken))
        }
    }

    @Sendable func push(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = context.user!
        guard user.role == .practitioner else {
            throw APIError(.forbidden, "Only practitioners push referral content; \(user.name) is \(user.role.rawValue).")
        }
        var request = request
        let body = try await Self.decode(PushRequest.self, from: &request)
        guard body.changes.count <= SyncProtocol.maximumBatch else {
            throw APIError(.badRequest, "A push may carry at most \(SyncProtocol.maximumBatch) changes; this one has \(body.changes.count). Send smaller batches.")
        }
        let preflight = try await storage.pushPreflight(device: body.device)
        guard preflight.owner == user.id else {
            if preflight.revoked { throw AuthenticationMiddleware.revoked(preflight.revokeMode) }
            throw APIError(.forbidden, "Device \(body.device.prefix(40)) is not registered to \(user.name); run `field login` first.")
        }
        if preflight.revoked {
            // Revoked with "send submitted work first": only its submitted referrals still come in.
            guard preflight.revokeMode == .sendSubmitted, try await Self.onlySubmitted(body, in: storage) else {
                throw AuthenticationMiddleware.revoked(preflight.revokeMode)
            }
        }
        try Self.checkSameLog(body, identity: preflight.identity)
        let form = try await forms.catalog(for: body).union
        // The whole batch is one transaction, committed before the reply:
        // read phase, decision (no I/O), write phase (docs/protocol.md, "The server's write path").
        let reference = engine.newReference()
        var decided: PushEngine.Result?
        var seal: ReceiptSeal?
        if let signer { seal = { @Sendable document in try signer.sign(document) } }
        let committed = try await storage.push(PushNeeds(body), seal: seal) { snapshot in
            let decision = try engine.decide(body, user: user, reference: reference, form: form, epoch: preflight.identity.epoch, snapshot: snapshot)
            decided = decision.result
            return decision.plan
        }
        var result = decided!
        result.response = committed.revisions.resolve(result.response)
        if let signed = committed.receipt { result.response.receipt?.signed = signed }
        var response = result.response
        if response.outcomes.contains(where: { $0.retry == true }) {
            // Change numbers the device already used: it renumbers past this one.
            response.lastSeq = try await storage.lastSeq(of: body.device)
        }
        metrics.record(result)
        context.logger.info("push applied", metadata: [
            "device": "\(body.device)", "changes": "\(body.changes.count)", "applied": "\(result.applied)",
            "conflicts": "\(result.conflicts)", "rejected": "\(result.rejected)", "duplicates": "\(result.duplicates)",
            "receipt": "\(result.response.receipt?.reference ?? "-")",
        ])
        return try Self.json(response)
    }

    /// The audit head a pull presents (`audit_position` and `audit_hash`,
    /// both or neither), nil when none.
    /// - Throws: `APIError` 400 naming the bad value.
    static func presentedAuditHead(position: String?, hash: String?) throws -> AuditHead? {
        guard position != nil || hash != nil else { return nil }
        guard let position, let number = Int64(position), number >= 1 else {
            throw APIError(.badRequest, "'audit_position' must be an audit entry's position (a whole number from 1); got '\((position ?? "").prefix(40))'.")
        }
        guard let hash, hash.count == 64, hash.allSatisfy({ $0.isHexDigit }), hash == hash.lowercased() else {
            throw APIError(.badRequest, "'audit_hash' must be an audit entry's hash (64 lowercase hex digits); got '\((hash ?? "").prefix(80))'.")
        }
        return AuditHead(position: number, hash: String(hash))
    }

    /// A push from a device that synced with another log (the server was
    /// restored from a backup, or replaced) would merge against revisions
    /// this server does not have: it is refused whole, before anything is
    /// applied, and the device reconciles first (docs/protocol.md, "Recovery").
    static func checkSameLog(_ push: PushRequest, identity: ServerIdentity) throws {
        guard push.epoch != nil || push.cursor != nil else { return }
        if let epoch = push.epoch, epoch != identity.epoch {
            throw APIError(.conflict, "This server's log is not the one the device last synced with (epoch \(epoch.prefix(40)) is not \(identity.epoch)): the device must reconcile before it pushes.", code: ErrorCode.serverRestored)
        }
        if let cursor = push.cursor, cursor > identity.end {
            throw APIError(.conflict, "The device has seen revision \(cursor), past the end of this server's log (\(identity.end)): the server lost changes, and the device must reconcile before it pushes.", code: ErrorCode.serverRestored)
        }
    }

    @Sendable func pull(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = context.user!
        let since = request.uri.queryParameters.get("since") ?? "0"
        let limitText = request.uri.queryParameters.get("limit") ?? "1000"
        guard let cursor = Int64(since), cursor >= 0 else {
            throw APIError(.badRequest, "'since' must be a cursor from an earlier pull (a whole number from 0); got '\(since.prefix(40))'.")
        }
        guard let limit = Int(limitText), (1...SyncProtocol.maximumPage).contains(limit) else {
            throw APIError(.badRequest, "'limit' must be a whole number from 1 to \(SyncProtocol.maximumPage); got '\(limitText.prefix(40))'.")
        }
        let presented = try Self.presentedAuditHead(
            position: request.uri.queryParameters.get("audit_position"), hash: request.uri.queryParameters.get("audit_hash"))
        var page = try await storage.pull(since: cursor, limit: limit, for: user, presenting: presented)
        page.serverTime = Timestamp.string(engine.clock.now())
        if let check = page.auditCheck, let failure = check.failure {
            metrics.auditHeadsNotHeld.increment()
            context.logger.error("the audit chain does not hold the head a device presented: \(failure)", metadata: [
                "position": "\(check.position)", "length": "\(check.length)",
                "device": "\(context.signedInDevice ?? request.headers[AuthenticationMiddleware.deviceHeader] ?? "-")",
            ])
        }
        if let version = page.formVersion {
            // Another instance, or `sync-server form publish`, published one this instance has not read.
            _ = try await forms.catalog(holding: version)
        }
        // Reads of referral content by intake and admins are on the record.
        let audit = user.role != .practitioner && !page.changes.isEmpty
            ? AuditEvent(
                at: Timestamp.string(engine.clock.now()), actor: user.name, action: "pull", record: nil,
                detail: "since=\(cursor) changes=\(page.changes.count) records=\(Set(page.changes.map(\.record)).sorted().joined(separator: ","))")
            : nil
        // The device's last sync once per sync (its last page), not per page;
        // only a device registered to this user is updated.
        let synced = page.more ? nil : context.signedInDevice ?? request.headers[AuthenticationMiddleware.deviceHeader]
        try await storage.recordPull(audit: audit, syncOf: synced, user: user.id, at: page.serverTime ?? Timestamp.string(engine.clock.now()))
        metrics.pulled.increment(by: Int64(page.changes.count))
        context.logger.info("pull served", metadata: ["since": "\(cursor)", "changes": "\(page.changes.count)", "more": "\(page.more)"])
        return try Self.json(page)
    }

    /// Whether every change of `body` is about a referral that is submitted:
    /// on the server already, or by a change of this same push.
    static func onlySubmitted(_ body: PushRequest, in storage: any SyncStorage) async throws -> Bool {
        let submitting = Set(body.changes.filter { $0.path == RecordPath.status && $0.value == ReferralStatus.submitted.rawValue }.map(\.record))
        let others = Set(body.changes.map(\.record)).subtracting(submitting)
        let statuses = try await storage.recordStatuses(others)
        return others.allSatisfy { statuses[$0] == ReferralStatus.submitted.rawValue }
    }

    /// - Parameter empty: what an empty body means, for routes whose body is
    ///   optional (`{}` and nothing are the same); nil when a body is required.
    static func decode<T: Decodable>(_ type: T.Type, from request: inout Request, ifEmpty empty: T? = nil) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: SyncProtocol.maximumBody)
        } catch {
            throw APIError(.contentTooLarge, "The request body is larger than \(SyncProtocol.maximumBody) bytes; send smaller batches.")
        }
        if let empty, buffer.readableBytes == 0 { return empty }
        let message: T
        do {
            // A push through the sync-message codec: the same JSON and errors, a fraction of the time (SyncCodec).
            if T.self == PushRequest.self {
                message = try buffer.withUnsafeReadableBytes { try SyncCodec.decode(PushRequest.self, from: $0) } as! T
            } else {
                message = try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
            }
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.badRequest, "The request is missing '\(key.stringValue)'.")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw APIError(.badRequest, "The request has a wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'.")
        } catch {
            throw APIError(.badRequest, "The request body is not valid JSON for this route.")
        }
        if let versioned = message as? any ProtocolVersioned, versioned.protocolVersion != SyncProtocol.version {
            throw APIError(.badRequest, "Protocol version \(versioned.protocolVersion) is not supported; this server speaks version \(SyncProtocol.version).")
        }
        return message
    }

    static func json<T: Encodable>(_ value: T) throws -> Response {
        // Pull pages and push replies through the sync-message codec: the same JSON, a fraction of the time (SyncCodec).
        let body: ByteBuffer
        switch value {
        case let page as PullResponse: body = ByteBuffer(bytes: SyncCodec.encode(page))
        case let reply as PushResponse: body = ByteBuffer(bytes: SyncCodec.encode(reply))
        default: body = ByteBuffer(bytes: try JSONEncoder().encode(value))
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
}

protocol ProtocolVersioned {
    var protocolVersion: Int { get }
}

extension RegisterRequest: ProtocolVersioned {}
extension PushRequest: ProtocolVersioned {}
