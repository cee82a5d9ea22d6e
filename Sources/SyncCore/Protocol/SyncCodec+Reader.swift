import Foundation

/// A strict RFC 8259 reader over UTF-8 bytes, for the messages `SyncCodec`
/// reads. Text that is not JSON is refused at once
/// (`DecodingError.dataCorrupted`, naming the byte offset); a member of the
/// wrong type is remembered and refused once the whole text has been read,
/// in the order `JSONDecoder` reports it (`JSONReader.Member`).
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Unescaped string bytes, reused from string to string.
    private var scratch: [UInt8] = []

    /// The deepest nesting of arrays and objects taken (Foundation's limit is about 512).
    static let maximumDepth = 256

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// A whole text: an optional byte-order mark, whitespace, the value `read`
    /// reads, whitespace, and nothing after it.
    mutating func document<Value>(_ read: (inout JSONReader) throws -> Value) throws -> Value {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        let value = try read(&self)
        skipWhitespace()
        guard index == bytes.count else { throw notJSON("text after the end of the message") }
        return value
    }

    // MARK: Lexical

    /// `DecodingError.dataCorrupted` for text that is not JSON, at the current byte.
    func notJSON(_ problem: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON: \(problem) at byte \(index)."))
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) or refuses.
    mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipWhitespace()
        guard peek == byte else { throw notJSON(index < bytes.count ? "expected \(what)" : "the text ends where \(what) belongs") }
        index += 1
    }

    /// Consumes `byte` (after whitespace) when it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// `true`, `false` or `null` (nil), whose first byte is next.
    mutating func literal() throws -> Bool? {
        let word: StaticString, value: Bool?
        switch bytes[index] {
        case UInt8(ascii: "t"): (word, value) = ("true", true)
        case UInt8(ascii: "f"): (word, value) = ("false", false)
        case UInt8(ascii: "n"): (word, value) = ("null", nil)
        default: throw notJSON("not a JSON value")
        }
        guard bytes.count - index >= word.utf8CodeUnitCount, memcmp(word.utf8Start, bytes.baseAddress! + index, word.utf8CodeUnitCount) == 0 else {
            throw notJSON("not a literal (true, false or null)")
        }
        index += word.utf8CodeUnitCount
        return value
    }

    /// A number's text, checked against RFC 8259's grammar; `integral` when
    /// it has neither a fraction nor an exponent.
    mutating func number() throws -> (text: Range<Int>, integral: Bool) {
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { throw notJSON("a number without digits") }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        var integral = true
        if peek == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { throw notJSON("a number without digits after its decimal point") }
            integral = false
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { throw notJSON("a number without digits in its exponent") }
            integral = false
        }
        return (start..<index, integral)
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    /// The integer a number's text holds, nil when it has a fraction or an
    /// exponent or does not fit in 64 bits.
    func integer(_ text: Range<Int>) -> Int64? {
        var position = text.lowerBound
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        var magnitude: UInt64 = 0
        while position < text.upperBound {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit <= 9 else { return nil }
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow, !carry else { return nil }
            magnitude = sum
            position += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// A string whose opening quote is next: its text, unescaped, checked to
    /// be UTF-8 with no control character left unescaped.
    mutating func string() throws -> String {
        index += 1
        let start = index
        // The high bits of every byte seen: none set, the text is ASCII and needs no UTF-8 check.
        var high: UInt64 = 0
        while index < bytes.count {
            // Eight bytes at a time while none ends the string, escapes or is a control character.
            if bytes.count - index >= 8 {
                let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                if !ByteScan.needsEscape(word, slash: false) {
                    high |= word
                    index += 8
                    continue
                }
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                if high & 0x8080_8080_8080_8080 == 0 { return String(decoding: raw, as: UTF8.self) }
                guard let text = String(validating: raw, as: UTF8.self) else { throw notJSON("a string that is not UTF-8") }
                return text
            }
            high |= UInt64(byte)
            if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard byte >= 0x20 else { throw notJSON("a control character not escaped in a string") }
            index += 1
        }
        throw notJSON("a string without its closing quote")
    }

    /// The rest of a string with escapes, from its first byte `start`.
    private mutating func escapedString(from start: Int) throws -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: scratch, as: UTF8.self) else { throw notJSON("a string that is not UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard let escaped = peek else { break }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escaped)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"): try unicodeEscape()
                default: index -= 1; throw notJSON("an unknown escape in a string")
                }
            case 0..<0x20:
                throw notJSON("a control character not escaped in a string")
            default:
                scratch.append(byte)
                index += 1
            }
        }
        throw notJSON("a string without its closing quote")
    }

    /// `\uXXXX` (its `\u` consumed), a surrogate pair's two, appended as UTF-8.
    private mutating func unicodeEscape() throws {
        let unit = try hexUnit()
        var scalar: Unicode.Scalar?
        switch unit {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw notJSON("a lone surrogate in a string")
            }
            index += 2
            let low = try hexUnit()
            guard (0xDC00...0xDFFF).contains(low) else { throw notJSON("a lone surrogate in a string") }
            scalar = Unicode.Scalar(0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00))
        case 0xDC00...0xDFFF:
            throw notJSON("a lone surrogate in a string")
        default:
            scalar = Unicode.Scalar(UInt32(unit))
        }
        guard let scalar else { throw notJSON("an escape that is not a character") }
        scratch.append(contentsOf: UTF8.encode(scalar)!)
    }

    private mutating func hexUnit() throws -> UInt16 {
        guard bytes.count - index >= 4 else { throw notJSON("a \\u escape without four hex digits") }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw notJSON("a \\u escape without four hex digits")
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    /// A member name whose opening quote is next, as one of `names` (its
    /// position) or nil for any other name (checked like any string).
    mutating func memberName(_ names: [StaticString]) throws -> Int? {
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            let name = UnsafeBufferPointer(rebasing: bytes[start..<end])
            for (position, known) in names.enumerated() where known.utf8CodeUnitCount == name.count {
                if memcmp(known.utf8Start, name.baseAddress!, name.count) == 0 {
                    index = end + 1
                    return position
                }
            }
        }
        // Escaped, unknown, or not a string at all: read (and check) it in full.
        let name = try string()
        return names.firstIndex { $0.description == name }
    }

    // MARK: Values

    /// Reads past one value of any kind, checking it as strictly as the rest.
    mutating func skipValue(depth: Int) throws {
        skipWhitespace()
        guard let byte = peek else { throw notJSON("the text ends where a value belongs") }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "{"):
            try object(depth: depth) { reader, _ in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try array(depth: depth) { reader, _ in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try number()
        default:
            _ = try literal()
        }
    }

    /// An object whose `{` is next; `member` reads each member's value,
    /// given its name (when one of `names`: its position, else nil).
    mutating func object(depth: Int, names: [StaticString] = [], _ member: (inout JSONReader, Int?) throws -> Void) throws {
        try openObject(depth: depth)
        var first = true
        while let name = try nextMember(names, first: &first) {
            try member(&self, name >= 0 ? name : nil)
        }
    }

    /// Consumes an object's `{`, which is next, at nesting `depth`.
    mutating func openObject(depth: Int) throws {
        guard depth < Self.maximumDepth else { throw notJSON("more than \(Self.maximumDepth) levels of nesting") }
        index += 1
    }

    /// The next member of an open object, up to its value: the name's
    /// position in `names`, -1 for another name; nil once the object is
    /// closed. `first` is true before the object's first member.
    mutating func nextMember(_ names: [StaticString], first: inout Bool) throws -> Int? {
        if first {
            first = false
            if take(UInt8(ascii: "}")) { return nil }
        } else if !take(UInt8(ascii: ",")) {
            try expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return nil
        }
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw notJSON(index < bytes.count ? "expected a member name" : "the text ends inside an object") }
        let name = try memberName(names) ?? -1
        try expect(UInt8(ascii: ":"), "':' after a member name")
        skipWhitespace()
        return name
    }

    /// An array whose `[` is next; `element` reads each element, given its position.
    mutating func array(depth: Int, _ element: (inout JSONReader, Int) throws -> Void) throws {
        guard depth < Self.maximumDepth else { throw notJSON("more than \(Self.maximumDepth) levels of nesting") }
        index += 1
        if take(UInt8(ascii: "]")) { return }
        var position = 0
        repeat {
            skipWhitespace()
            try element(&self, position)
            position += 1
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), "',' or ']' in an array")
    }
}
