import Foundation

extension JSONReader {
    /// The wire names of `PushRequest`'s and `WireChange`'s members, in the
    /// order their `init(from:)` decodes them.
    private static let pushRequestNames: [StaticString] = ["protocol", "device", "changes", "epoch", "cursor"]
    private static let wireChangeNames: [StaticString] = ["seq", "record", "path", "value", "base_rev", "hlc"]

    /// A push request, or the error `JSONDecoder` would give for this JSON
    /// value (thrown: text that is not JSON).
    mutating func pushRequest() throws -> Result<PushRequest, DecodingError> {
        guard peek == UInt8(ascii: "{") else { return .failure(try mismatch(PushRequest.self, "a dictionary", at: [], depth: 0)) }
        var version = Member<Int64>.missing, device = Member<String>.missing, changes = Member<[WireChange]>.missing
        var epoch = Member<String>.missing, cursor = Member<Int64>.missing
        try openObject(depth: 0)
        var first = true
        while let name = try nextMember(Self.pushRequestNames, first: &first) {
            switch name {
            case 0 where version.isMissing: version = try integer(at: [], "protocol", depth: 1)
            case 1 where device.isMissing: device = try string(at: [], "device", depth: 1)
            case 2 where changes.isMissing: changes = try elements("changes", depth: 1) { reader, position, depth in try reader.wireChange(at: position, depth: depth) }
            case 3 where epoch.isMissing: epoch = try string(at: [], "epoch", depth: 1)
            case 4 where cursor.isMissing: cursor = try integer(at: [], "cursor", depth: 1)
            default: try skipValue(depth: 1)
            }
        }
        return Result {
            let protocolVersion = try version.required("protocol", at: [])
            var request = PushRequest(
                device: try device.required("device", at: []), changes: try changes.required("changes", at: []),
                epoch: try epoch.optional(), cursor: try cursor.optional())
            request.protocolVersion = Int(protocolVersion)
            return request
        }.mapError { $0 as! DecodingError }
    }

    private mutating func wireChange(at position: Int, depth: Int) throws -> Result<WireChange, DecodingError> {
        func path() -> [any CodingKey] { [WireKey(stringValue: "changes"), WireKey(intValue: position)] }
        if let error = try notAnObject(WireChange.self, at: path(), depth: depth) { return .failure(error) }
        var seq = Member<Int64>.missing, record = Member<String>.missing, fieldPath = Member<String>.missing
        var value = Member<String>.missing, baseRevision = Member<Int64>.missing, hlc = Member<String>.missing
        try openObject(depth: depth)
        var first = true
        while let name = try nextMember(Self.wireChangeNames, first: &first) {
            switch name {
            case 0 where seq.isMissing: seq = try integer(at: path(), "seq", depth: depth + 1)
            case 1 where record.isMissing: record = try string(at: path(), "record", depth: depth + 1)
            case 2 where fieldPath.isMissing: fieldPath = try string(at: path(), "path", depth: depth + 1)
            case 3 where value.isMissing: value = try string(at: path(), "value", depth: depth + 1)
            case 4 where baseRevision.isMissing: baseRevision = try integer(at: path(), "base_rev", depth: depth + 1)
            case 5 where hlc.isMissing: hlc = try string(at: path(), "hlc", depth: depth + 1)
            default: try skipValue(depth: depth + 1)
            }
        }
        return Result {
            WireChange(
                seq: try seq.required("seq", at: path()), record: try record.required("record", at: path()),
                path: try fieldPath.required("path", at: path()), value: try value.optional(),
                baseRevision: try baseRevision.required("base_rev", at: path()), hlc: try hlc.required("hlc", at: path()))
        }.mapError { $0 as! DecodingError }
    }
}
