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
    /// A string member's value (nil for `null`).
    mutating func string(at path: @autoclosure () -> [any CodingKey], _ name: String? = nil, depth: Int) throws -> Member<String> {
        switch peek ?? 0 {
        case UInt8(ascii: "\""): return .present(try string())
        case UInt8(ascii: "n"): _ = try literal(); return .present(nil)
        default: return .failed(try mismatch(String.self, "a string", at: Self.path(path(), name), depth: depth))
        }
    }

    /// An integer member's value (nil for `null`): digits only, within 64 bits.
    mutating func integer(at path: @autoclosure () -> [any CodingKey], _ name: String? = nil, depth: Int) throws -> Member<Int64> {
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

    /// An array member (nil for `null`) whose elements `element` reads,
    /// given each one's position and nesting; the first element that is not
    /// the element type fails the member, as in `JSONDecoder`.
    mutating func elements<Element>(
        _ name: String, depth: Int, _ element: (inout JSONReader, Int, Int) throws -> Result<Element, DecodingError>
    ) throws -> Member<[Element]> {
        switch peek ?? 0 {
        case UInt8(ascii: "["):
            var elements: [Element] = []
            var failure: DecodingError?
            try array(depth: depth) { reader, position in
                switch try element(&reader, position, depth + 1) {
                case .success(let value): if failure == nil { elements.append(value) }
                case .failure(let error): if failure == nil { failure = error }
                }
            }
            return failure.map { .failed($0) } ?? .present(elements)
        case UInt8(ascii: "n"):
            _ = try literal()
            return .present(nil)
        default:
            return .failed(try mismatch([Element].self, "an array", at: [WireKey(stringValue: name)], depth: depth))
        }
    }

    /// Why the next value cannot be a `type` read as an object (read past
    /// it), or nil when it is an object, whose `{` is next.
    mutating func notAnObject(_ type: Any.Type, at path: [any CodingKey], depth: Int) throws -> DecodingError? {
        switch peek ?? 0 {
        case UInt8(ascii: "{"):
            return nil
        case UInt8(ascii: "n"):
            _ = try literal()
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Cannot get keyed decoding container -- found null value instead"))
        default:
            return try mismatch(type, "a dictionary", at: path, depth: depth)
        }
    }

    /// A boolean member's value. `null` is refused as the wrong type, as
    /// Foundation refuses it for a `Bool` that must be there (the messages
    /// have no optional booleans).
    mutating func boolean(at path: @autoclosure () -> [any CodingKey], _ name: String, depth: Int) throws -> Member<Bool> {
        switch peek ?? 0 {
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .present(try literal())
        case UInt8(ascii: "n"):
            _ = try literal()
            return .failed(.typeMismatch(Bool.self, .init(codingPath: Self.path(path(), name), debugDescription: "Expected to decode Bool but found null instead.")))
        default: return .failed(try mismatch(Bool.self, "a bool", at: Self.path(path(), name), depth: depth))
        }
    }

    /// A member of a rarely sent nested type (a pulled change's conflict
    /// state, a page's audit head check), read with Foundation's
    /// `JSONDecoder` from the value's own bytes once they are checked
    /// (nil for `null`). Its errors carry the whole coding path, as if the
    /// message had been decoded by Foundation in one piece.
    mutating func nested<Value: Decodable>(
        _ type: Value.Type, at path: @autoclosure () -> [any CodingKey], _ name: String, depth: Int
    ) throws -> Member<Value> {
        if peek == UInt8(ascii: "n") {
            _ = try literal()
            return .present(nil)
        }
        let start = index
        try skipValue(depth: depth)
        do {
            return .present(try JSONDecoder().decode(Value.self, from: Data(UnsafeBufferPointer(rebasing: bytes[start..<index]))))
        } catch let error as DecodingError {
            return .failed(error.prefixed(Self.path(path(), name)))
        }
    }

    /// Reads past a value that is not what `type` needs and says so
    /// (`null` where an object or array belongs: `valueNotFound`).
    mutating func mismatch(_ type: Any.Type, _ expected: String, at path: [any CodingKey], depth: Int) throws -> DecodingError {
        let isNull = peek == UInt8(ascii: "n")
        try skipValue(depth: depth)
        if isNull {
            return .valueNotFound(type, .init(codingPath: path, debugDescription: "Expected \(expected) but found null instead."))
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) (\(expected)) but found another kind of value instead."))
    }

    static func path(_ path: [any CodingKey], _ name: String?) -> [any CodingKey] {
        guard let name else { return path }
        return path + [WireKey(stringValue: name)]
    }
}

extension DecodingError {
    /// The same error with `prefix` before its coding path: an error met
    /// inside a member, as the whole message's decoder reports it.
    func prefixed(_ prefix: [any CodingKey]) -> DecodingError {
        func moved(_ context: Context) -> Context {
            Context(codingPath: prefix + context.codingPath, debugDescription: context.debugDescription, underlyingError: context.underlyingError)
        }
        switch self {
        case .typeMismatch(let type, let context): return .typeMismatch(type, moved(context))
        case .valueNotFound(let type, let context): return .valueNotFound(type, moved(context))
        case .keyNotFound(let key, let context): return .keyNotFound(key, moved(context))
        case .dataCorrupted(let context): return .dataCorrupted(moved(context))
        @unknown default: return self
        }
    }
}
