import Foundation

/// A member of a message being read: not seen yet, its value (nil for
/// `null`), or why it cannot be the member's type. Failures are kept, not
/// thrown, until the whole text is read, and then reported in the order
/// the messages' synthesized `init(from:)` decodes their members, so that
/// a bad push is refused with the error `JSONDecoder` gives for it.
enum Member<Value> {
    case missing
    case present(Value?)
    case failed(DecodingError)

    var isMissing: Bool {
        if case .missing = self { true } else { false }
    }

    /// A member that must be there and not `null`.
    func required(_ name: String, at path: @autoclosure () -> [any CodingKey]) throws -> Value {
        switch self {
        case .missing:
            throw DecodingError.keyNotFound(WireKey(stringValue: name), .init(codingPath: path(), debugDescription: "No value associated with key \"\(name)\"."))
        case .present(nil):
            throw DecodingError.valueNotFound(Value.self, .init(
                codingPath: path() + [WireKey(stringValue: name)], debugDescription: "Expected \(Value.self) value but found null instead."))
        case .present(let value?):
            return value
        case .failed(let error):
            throw error
        }
    }

    /// A member that may be missing or `null` (nil).
    func optional() throws -> Value? {
        switch self {
        case .missing: return nil
        case .present(let value): return value
        case .failed(let error): throw error
        }
    }
}

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
            case 2 where changes.isMissing: changes = try self.changes(depth: 1)
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

    private mutating func changes(depth: Int) throws -> Member<[WireChange]> {
        switch peek ?? 0 {
        case UInt8(ascii: "["):
            var changes: [WireChange] = []
            var failure: DecodingError?
            try array(depth: depth) { reader, position in
                switch try reader.wireChange(at: position, depth: depth + 1) {
                case .success(let change): if failure == nil { changes.append(change) }
                case .failure(let error): if failure == nil { failure = error }
                }
            }
            return failure.map { .failed($0) } ?? .present(changes)
        case UInt8(ascii: "n"):
            _ = try literal()
            return .present(nil)
        default:
            return .failed(try mismatch([WireChange].self, "an array", at: [WireKey(stringValue: "changes")], depth: depth))
        }
    }

    private mutating func wireChange(at position: Int, depth: Int) throws -> Result<WireChange, DecodingError> {
        func path() -> [any CodingKey] { [WireKey(stringValue: "changes"), WireKey(intValue: position)] }
        switch peek ?? 0 {
        case UInt8(ascii: "{"):
            break
        case UInt8(ascii: "n"):
            _ = try literal()
            return .failure(.valueNotFound(WireChange.self, .init(codingPath: path(), debugDescription: "Cannot get keyed decoding container -- found null value instead")))
        default:
            return .failure(try mismatch(WireChange.self, "a dictionary", at: path(), depth: depth))
        }
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

    // MARK: Typed members

    /// A string member's value (nil for `null`).
    private mutating func string(at path: @autoclosure () -> [any CodingKey], _ name: String? = nil, depth: Int) throws -> Member<String> {
        switch peek ?? 0 {
        case UInt8(ascii: "\""): return .present(try string())
        case UInt8(ascii: "n"): _ = try literal(); return .present(nil)
        default: return .failed(try mismatch(String.self, "a string", at: Self.path(path(), name), depth: depth))
        }
    }

    /// An integer member's value (nil for `null`): digits only, within 64 bits.
    private mutating func integer(at path: @autoclosure () -> [any CodingKey], _ name: String? = nil, depth: Int) throws -> Member<Int64> {
        switch peek ?? 0 {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let (text, integral) = try number()
            if integral, let value = integer(text) { return .present(value) }
            let written = String(decoding: UnsafeBufferPointer(rebasing: bytes[text]).prefix(40), as: UTF8.self)
            // Foundation names no member for a number out of range.
            return .failed(.dataCorrupted(.init(
                codingPath: [], debugDescription: "Parsed JSON number <\(written)> is not a whole number that fits in Int64.")))
        case UInt8(ascii: "n"):
            _ = try literal()
            return .present(nil)
        default:
            return .failed(try mismatch(Int64.self, "a number", at: Self.path(path(), name), depth: depth))
        }
    }

    /// Reads past a value that is not what `type` needs and says so
    /// (`null` where an object or array belongs: `valueNotFound`).
    private mutating func mismatch(_ type: Any.Type, _ expected: String, at path: [any CodingKey], depth: Int) throws -> DecodingError {
        let isNull = peek == UInt8(ascii: "n")
        try skipValue(depth: depth)
        if isNull {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Expected \(expected) but found null instead."))
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) (\(expected)) but found another kind of value instead."))
    }

    private static func path(_ path: [any CodingKey], _ name: String?) -> [any CodingKey] {
        guard let name else { return path }
        return path + [WireKey(stringValue: name)]
    }
}
