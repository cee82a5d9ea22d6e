import Foundation

extension SyncCodec {
    /// A pull page read from JSON: what a device does with every page it
    /// pulls (issue 30, item 3), the reverse of `encode(_: PullResponse)`.
    /// - Throws: `DecodingError`, as `JSONDecoder` would for the same bytes
    ///   (the rules of `decode(_: PushRequest.Type, from:)`): `dataCorrupted`
    ///   for text that is not JSON (or not JSON this codec takes),
    ///   `keyNotFound`, `typeMismatch`, `valueNotFound` with the member's
    ///   coding path when it is JSON but not a pull page.
    public static func decode(_ type: PullResponse.Type, from bytes: UnsafeRawBufferPointer) throws -> PullResponse {
        var reader = JSONReader(bytes.bindMemory(to: UInt8.self))
        return try reader.document { reader in try reader.pullResponse() }.get()
    }

    /// A pull page read from JSON held in `bytes` (`Data`, `[UInt8]`…).
    /// - Throws: `DecodingError`, as `decode(_:from:)` over raw bytes.
    public static func decode<Bytes: ContiguousBytes>(_ type: PullResponse.Type, from bytes: Bytes) throws -> PullResponse {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }
}

extension JSONReader {
    /// The wire names of `PullResponse`'s and `PulledChange`'s members, in
    /// the order their `init(from:)` decodes them.
    private static let pullResponseNames: [StaticString] = [
        "protocol", "changes", "cursor", "more", "epoch", "end", "server_time", "form_version", "form_digest", "audit_check",
    ]
    private static let pulledChangeNames: [StaticString] = ["revision", "record", "path", "value", "author", "device", "hlc", "at", "conflict"]

    /// A pull page, or the error `JSONDecoder` would give for this JSON
    /// value (thrown: text that is not JSON).
    mutating func pullResponse() throws -> Result<PullResponse, DecodingError> {
        guard peek == UInt8(ascii: "{") else { return .failure(try mismatch(PullResponse.self, "a dictionary", at: [], depth: 0)) }
        var version = Member<Int64>.missing, changes = Member<[PulledChange]>.missing, cursor = Member<Int64>.missing
        var more = Member<Bool>.missing, epoch = Member<String>.missing, end = Member<Int64>.missing
        var serverTime = Member<String>.missing, formVersion = Member<Int64>.missing, formDigest = Member<String>.missing
        var auditCheck = Member<AuditHeadCheck>.missing
        try openObject(depth: 0)
        var first = true
        while let name = try nextMember(Self.pullResponseNames, first: &first) {
            switch name {
            case 0 where version.isMissing: version = try integer(at: [], "protocol", depth: 1)
            case 1 where changes.isMissing: changes = try elements("changes", depth: 1) { reader, position, depth in try reader.pulledChange(at: position, depth: depth) }
            case 2 where cursor.isMissing: cursor = try integer(at: [], "cursor", depth: 1)
            case 3 where more.isMissing: more = try boolean(at: [], "more", depth: 1)
            case 4 where epoch.isMissing: epoch = try string(at: [], "epoch", depth: 1)
            case 5 where end.isMissing: end = try integer(at: [], "end", depth: 1)
            case 6 where serverTime.isMissing: serverTime = try string(at: [], "server_time", depth: 1)
            case 7 where formVersion.isMissing: formVersion = try integer(at: [], "form_version", depth: 1)
            case 8 where formDigest.isMissing: formDigest = try string(at: [], "form_digest", depth: 1)
            case 9 where auditCheck.isMissing: auditCheck = try nested(AuditHeadCheck.self, at: [], "audit_check", depth: 1)
            default: try skipValue(depth: 1)
            }
        }
        return Result {
            // In the order of the synthesized `init(from:)`, so that the first error is Foundation's.
            let protocolVersion = try version.required("protocol", at: [])
            var page = PullResponse(
                changes: try changes.required("changes", at: []), cursor: try cursor.required("cursor", at: []),
                more: try more.required("more", at: []), epoch: try epoch.optional(), end: try end.optional(),
                serverTime: try serverTime.optional(), formVersion: try formVersion.optional().map { Int($0) },
                formDigest: try formDigest.optional())
            page.protocolVersion = Int(protocolVersion)
            page.auditCheck = try auditCheck.optional()
            return page
        }.mapError { $0 as! DecodingError }
    }

    private mutating func pulledChange(at position: Int, depth: Int) throws -> Result<PulledChange, DecodingError> {
        func path() -> [any CodingKey] { [WireKey(stringValue: "changes"), WireKey(intValue: position)] }
        if let error = try notAnObject(PulledChange.self, at: path(), depth: depth) { return .failure(error) }
        var revision = Member<Int64>.missing, record = Member<String>.missing, fieldPath = Member<String>.missing
        var value = Member<String>.missing, author = Member<String>.missing, device = Member<String>.missing
        var hlc = Member<String>.missing, at = Member<String>.missing, conflict = Member<ConflictState>.missing
        try openObject(depth: depth)
        var first = true
        while let name = try nextMember(Self.pulledChangeNames, first: &first) {
            switch name {
            case 0 where revision.isMissing: revision = try integer(at: path(), "revision", depth: depth + 1)
            case 1 where record.isMissing: record = try string(at: path(), "record", depth: depth + 1)
            case 2 where fieldPath.isMissing: fieldPath = try string(at: path(), "path", depth: depth + 1)
            case 3 where value.isMissing: value = try string(at: path(), "value", depth: depth + 1)
            case 4 where author.isMissing: author = try string(at: path(), "author", depth: depth + 1)
            case 5 where device.isMissing: device = try string(at: path(), "device", depth: depth + 1)
            case 6 where hlc.isMissing: hlc = try string(at: path(), "hlc", depth: depth + 1)
            case 7 where at.isMissing: at = try string(at: path(), "at", depth: depth + 1)
            case 8 where conflict.isMissing: conflict = try nested(ConflictState.self, at: path(), "conflict", depth: depth + 1)
            default: try skipValue(depth: depth + 1)
            }
        }
        return Result {
            PulledChange(
                revision: try revision.required("revision", at: path()), record: try record.required("record", at: path()),
                path: try fieldPath.required("path", at: path()), value: try value.optional(),
                author: try author.required("author", at: path()), device: try device.required("device", at: path()),
                hlc: try hlc.required("hlc", at: path()), at: try at.required("at", at: path()),
                conflict: try conflict.optional())
        }.mapError { $0 as! DecodingError }
    }
}
