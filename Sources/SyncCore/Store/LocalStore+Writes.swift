import Foundation
import GRDB

/// What one write did, for the caller to report.
public struct FieldWrite: Sendable, Equatable {
    public let path: String
    public let oldValue: String?
    public let newValue: String?
    /// False when the field already held the value: nothing was recorded.
    public let changed: Bool
}

extension LocalStore {
    /// Starts a draft referral and returns its id.
    public func createReferral(kind: ReferralKind) throws -> UUID {
        try writer.write { db in
            let now = clock.now()
            let id = ids.next()
            let author = try String.fetchOne(db, sql: "SELECT author FROM device") ?? ""
            try db.run("INSERT INTO referral (id, created_at, created_by, updated_at) VALUES (?, ?, ?, ?)",
                [id.lowercased, Timestamp.string(now), author, Timestamp.string(now)])
            // A draft is written on the newest form version the device has;
            // version 1 is implied, as drafts from before versions have it.
            let version = form.version > 1 ? [(RecordPath.form, String(form.version))] : []
            try record([(RecordPath.kind, kind.rawValue), (RecordPath.status, ReferralStatus.draft.rawValue)] + version,
                       in: id, db: db, now: now)
            return id
        }
    }

    /// Sets a field from what a person typed. The path may name a group item by
    /// id prefix or position; the value is checked against the field's type.
    /// Saying a call was made also records when, if no time is recorded yet.
    @discardableResult
    public func set(_ typedPath: String, of id: UUID, to input: String) throws -> [FieldWrite] {
        try editable(id) { db, referral, now in
            let resolved = try resolve(typedPath, in: referral)
            guard let field = resolved.field else {
                throw FormError.invalidValue(value: typedPath, expected: "a field of the item, as in \(typedPath).full_name")
            }
            let value = try field.type.normalize(input, now: now, timeZone: timeZone)
            // Refused now, while the writer can shorten it, rather than by the server at the next sync.
            if let size = SyncProtocol.oversize(value) {
                throw FormError.tooLargeToSend(path: typedPath, bytes: size, limit: SyncProtocol.maximumValueBytes)
            }
            if field.isName, value.unicodeScalars.contains(where: FieldType.bidirectionalControls.contains) {
                throw FormError.invalidValue(value: value.unicodeScalars.map { FieldType.bidirectionalControls.contains($0) ? "<U+\(String($0.value, radix: 16, uppercase: true))>" : String($0) }.joined(),
                    expected: "a name without bidirectional control characters (U+202A–U+202E, U+2066–U+2069), which can make it read as another")
            }
            var changes: [(String, String?)] = [(resolved.path, value)]
            if resolved.path == "urgency.call_made", value == "yes", referral.values["urgency.call_at"] == nil {
                changes.append(("urgency.call_at", Timestamp.string(now)))
            }
            return try record(changes, in: id, db: db, now: now)
        }
    }

    /// Clears a field. Its earlier values stay in the history.
    @discardableResult
    public func unset(_ typedPath: String, of id: UUID) throws -> FieldWrite {
        try editable(id) { db, referral, now in
            // An answer kept from a question the referral's version does not
            // ask (retired, or of the version before an upgrade) may still be
            // cleared: a wrong value must not stay for good.
            let resolved = try resolve(typedPath, in: referral, clearing: true)
            guard resolved.field != nil else {
                throw FormError.invalidValue(value: typedPath, expected: "a field; use `remove` for a whole item")
            }
            return try record([(resolved.path, nil)], in: id, db: db, now: now)[0]
        }
    }

    /// Adds an item to a repeating group and returns its new id.
    public func addItem(to typedGroup: String, of id: UUID) throws -> UUID {
        try editable(id) { db, referral, now in
            let group = try form(for: referral).group(named: typedGroup)
            let item = ids.next()
            try record([("\(group.key).\(item.lowercased)", ItemMarker.present)], in: id, db: db, now: now)
            return item
        }
    }

    /// Removes a group item (`children.<item>`). Its values stay in the history
    /// and in the store; the item is no longer shown or checked.
    @discardableResult
    public func removeItem(_ typedPath: String, of id: UUID) throws -> FieldWrite {
        try editable(id) { db, referral, now in
            let resolved = try resolve(typedPath, in: referral)
            guard resolved.item != nil, resolved.field == nil else {
                throw FormError.invalidValue(value: typedPath, expected: "a group item such as children.1 or children.<id>")
            }
            return try record([(resolved.path, nil)], in: id, db: db, now: now)[0]
        }
    }

    /// Marks a referral ready to send. Refused only on the guidance's hard
    /// rules (the thrown error names each); missing information never blocks.
    public func submit(_ id: UUID) throws -> GuidanceReport {
        try editable(id) { db, referral, now in
            let report = Guidance.check(referral, form: form(for: referral))
            guard report.errors.isEmpty else { throw StoreError.submissionBlocked(id, findings: report.errors) }
            try record([(RecordPath.status, ReferralStatus.submitted.rawValue)], in: id, db: db, now: now)
            return report
        }
    }

    /// Abandons a draft. The referral and its history are kept, not deleted.
    public func discard(_ id: UUID) throws {
        try editable(id) { db, referral, now in
            guard referral.status == .draft else { throw StoreError.alreadySubmitted(id) }
            try record([(RecordPath.status, ReferralStatus.discarded.rawValue)], in: id, db: db, now: now)
        }
    }

    // MARK: - One transaction per action

    /// Runs `body` in one write transaction on a referral that may still change.
    func editable<T>(_ id: UUID, _ body: (Database, Referral, Date) throws -> T) throws -> T {
        try writer.write { db in
            let referral = try fetchReferral(id, db: db)
            guard referral.status != .discarded else { throw StoreError.discarded(id) }
            return try body(db, referral, clock.now())
        }
    }

    func resolve(_ typedPath: String, in referral: Referral, clearing: Bool = false) throws -> ResolvedPath {
        let resolved = try resolveOnOwnVersion(typedPath, in: referral, clearing: clearing)
        if let field = resolved.field, !resolved.section.applies(to: referral.kind) || !field.applies(to: referral.kind) {
            throw FormError.fieldNotForKind(path: typedPath, kind: referral.kind)
        }
        if let item = resolved.item, resolved.field != nil,
            referral.values["\(resolved.section.key).\(item.lowercased)"] != ItemMarker.present
        {
            throw StoreError.itemRemoved(path: typedPath)
        }
        if resolved.item != nil, resolved.field == nil,
            referral.values[resolved.path] != ItemMarker.present
        {
            throw StoreError.itemRemoved(path: typedPath)
        }
        return resolved
    }

    /// Records edits of one referral: value, history line and outbox entry
    /// (`queue`, in LocalStore+Outbox.swift) for each path whose value changes. Must run inside a write transaction.
    /// A new edit of a field supersedes a change of it the server refused for
    /// its content (the refused value stays in the history).
    /// - Parameter resend: queue the value even when the field already shows
    ///   it (a restored server lacks it); a history line only if it changes.
    @discardableResult
    func record(_ changes: [(path: String, value: String?)], in id: UUID, db: Database, now: Date, resend: Bool = false) throws -> [FieldWrite] {
        let device = try db.row("SELECT device_id, author, next_seq, hlc_wall, hlc_counter, clock_offset_ms FROM device")!
        // Stamps run at the server's time once the device knows its clock is off.
        let stampTime = now.addingTimeInterval(-Double(device["clock_offset_ms"] as Int64) / 1000)
        let deviceID: String = device["device_id"]
        let author: String = device["author"]
        var nextSeq: Int64 = device["next_seq"]
        var stamp = HLCStamp(wall: device["hlc_wall"], counter: device["hlc_counter"], device: deviceID)
        let at = Timestamp.string(now)
        let referralID = id.lowercased
        var writes: [FieldWrite] = []

        for (path, value) in changes {
            let current = try db.row("SELECT value, base_rev FROM field_value WHERE referral_id = ? AND path = ?",
                [referralID, path])
            let oldValue = try current.flatMap { try cipher.open($0, "value", record: referralID, path: path) }
            let changesValue = current == nil || oldValue != value
            guard changesValue || resend, !(current == nil && value == nil) else {
                writes.append(FieldWrite(path: path, oldValue: oldValue, newValue: value, changed: false))
                continue
            }
            let baseRevision: Int64 = current?["base_rev"] ?? 0
            stamp = HLCStamp.next(after: stamp, now: stampTime)
            let sealedOld = current?["value"] as DatabaseValue? ?? .null
            let sealed = cipher.seal(value, record: referralID, path: path)
            if changesValue {
                try db.run("""
                        INSERT INTO history (referral_id, path, old_value, new_value, author, device_id, at, hlc)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    [referralID, path, sealedOld, sealed, author, deviceID, at, stamp.description])
                try db.run("""
                        INSERT INTO field_value (referral_id, path, value, base_rev, updated_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (referral_id, path) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                        """,
                    [referralID, path, sealed, baseRevision, at])
            }
            try queue(sealed, referral: referralID, path: path, baseRevision: baseRevision, stamp: stamp, author: author, at: at, nextSeq: &nextSeq, db: db)
            writes.append(FieldWrite(path: path, oldValue: oldValue, newValue: value, changed: true))
        }
        try db.run("UPDATE device SET next_seq = ?, hlc_wall = ?, hlc_counter = ?",
            [nextSeq, stamp.wall, stamp.counter])
        try db.run("UPDATE referral SET updated_at = ? WHERE id = ?", [at, referralID])
        return writes
    }
}

extension LocalStore {
    /// Resolves a typed path on the referral's own form version; a path of
    /// other versions only is refused with the versions that have it.
    /// With `clearing`, a path of another version that holds a value on this
    /// referral resolves too, so that it can be cleared.
    func resolveOnOwnVersion(_ typedPath: String, in referral: Referral, clearing: Bool = false) throws -> ResolvedPath {
        let own = form(for: referral)
        let result: Result<ResolvedPath, FormError> = Result { () throws(FormError) in
            try own.resolve(typedPath, items: referral.resolvableItems(of:))
        }
        guard case .failure(let error) = result, case .unknownPath = error else { return try result.get() }
        guard let other = try? forms.union.resolve(typedPath, items: referral.resolvableItems(of:)), let field = other.field,
              let versions = forms.versionsText(of: other.section.pattern(of: field))
        else { throw error }
        if clearing, referral.values[other.path] != nil { return other }
        let newer = (forms.introducedIn[other.section.pattern(of: field)] ?? 0) > own.version
        throw FormError.pathOfOtherVersion(
            path: typedPath, versions: versions, referralVersion: own.version, upgradeTo: newer ? forms.latest.version : nil)
    }

    /// Moves a draft to the newest form version this device has: a write of
    /// `@form`, synced like any other. Values of questions the new version
    /// retires stay on the referral, in its history and in the export; they
    /// are no longer asked or shown among the sections.
    /// - Returns: the versions moved between and the paths retired and added.
    /// - Throws: `StoreError.notDraft` for a submitted referral (the front
    ///   door has it as it was written), `StoreError.discarded`, `StoreError.notFound`.
    @discardableResult
    public func upgrade(_ id: UUID) throws -> (from: Int, to: Int, retired: [String], added: [String]) {
        try editable(id) { db, referral, now in
            guard referral.status == .draft else { throw StoreError.notDraft(id, referral.status) }
            let from = form(for: referral), to = form
            guard to.version > referral.formVersion else { return (referral.formVersion, referral.formVersion, [], []) }
            try record([(RecordPath.form, String(to.version))], in: id, db: db, now: now)
            let change = forms.difference(from: from, to: to)
            return (from.version, to.version, change.retired, change.added)
        }
    }
}
