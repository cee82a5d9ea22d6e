import Foundation

/// The sync messages on the hot paths, the server's and the device's,
/// written and read straight from bytes rather than through Foundation's
/// `JSONEncoder`/`JSONDecoder` (issue 30, items 1 and 3; docs/performance.md,
/// "The sync-message codec" and "Issue 30 again").
///
/// The wire format is the one the messages' `Codable` conformances define
/// (docs/protocol.md); this is a second, faster implementation of it, proven
/// against Foundation by differential tests (`SyncCodecTests`) and the
/// decoder fuzzer (`scripts/fuzz`):
///
/// - **Writing** `PullResponse` and `PushResponse` gives the bytes
///   `JSONEncoder` with `.sortedKeys` gives: the same member names, members
///   in sorted order, `@NullEncoded` values as `null`, other optionals left
///   out when nil, integers in decimal, strings escaped as Foundation
///   escapes them (`\"`, `\\`, `\/`, `\b \t \n \f \r`, other control
///   characters as `\u00XX`; everything else, non-ASCII included, as UTF-8).
/// - **Reading** `PushRequest` (the server) and `PullResponse` (the device;
///   `SyncCodec+PullResponse.swift`) accepts only what `JSONDecoder`
///   accepts, and gives the same value: unknown members ignored, the first
///   of repeated members used, `null` or a missing optional read as nil. It
///   refuses with the same `DecodingError`s (`keyNotFound`, `typeMismatch` and
///   `valueNotFound` with the same coding path, `dataCorrupted` for text
///   that is not JSON), so callers word them as before. It is stricter
///   than Foundation where Foundation is lenient and no device relies on
///   it: the text must be UTF-8 (a leading byte-order mark is skipped),
///   every value, including those of members it ignores, must be valid
///   RFC 8259 JSON (Foundation lets `1.`, `"\q"`, a lone `\ud800` or
///   invalid UTF-8 through there), no trailing commas, integers written as
///   integers (not `1.0` or `1e2`), at most 256 levels of nesting.
///
/// Only Foundation is imported, so that the decoder fuzzer, which compiles
/// the protocol's files with a bare `swiftc`, can run it next to Foundation.
public enum SyncCodec {
    /// A pull page as JSON (UTF-8).
    public static func encode(_ page: PullResponse) -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + page.changes.count * 320)
        writer.write(page)
        return writer.bytes
    }

    /// A push's reply as JSON (UTF-8).
    public static func encode(_ response: PushResponse) -> [UInt8] {
        var writer = JSONWriter(capacity: 512 + response.outcomes.count * 160 + (response.receipt?.signed?.payload.utf8.count ?? 0))
        writer.write(response)
        return writer.bytes
    }

    /// A push request read from JSON.
    /// - Throws: `DecodingError`, as `JSONDecoder` would for the same bytes:
    ///   `dataCorrupted` when they are not JSON (or not JSON this codec takes,
    ///   see above), `keyNotFound`, `typeMismatch`, `valueNotFound` (with the
    ///   member's coding path) when they are JSON but not a push request.
    public static func decode(_ type: PushRequest.Type, from bytes: UnsafeRawBufferPointer) throws -> PushRequest {
        var reader = JSONReader(bytes.bindMemory(to: UInt8.self))
        return try reader.document { reader in try reader.pushRequest() }.get()
    }

    /// A push request read from JSON held in `bytes` (`Data`, `[UInt8]`…).
    /// - Throws: `DecodingError`, as `decode(_:from:)` over raw bytes.
    public static func decode<Bytes: ContiguousBytes>(_ type: PushRequest.Type, from bytes: Bytes) throws -> PushRequest {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }
}

/// A member name or array position in a `DecodingError`'s coding path,
/// spelled as `JSONDecoder` spells them (`"changes"`, `"Index 3"`).
struct WireKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "Index \(intValue)"
        self.intValue = intValue
    }
}

/// Eight bytes of a string tested at once (SWAR) for what JSON escapes.
enum ByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any of the eight bytes in `word` is a control character
    /// (below 0x20), `"` or `\`, or `/` when `slash`.
    @inline(__always)
    static func needsEscape(_ word: UInt64, slash: Bool) -> Bool {
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = hasZeroByte(word ^ (ones &* 0x22)), backslash = hasZeroByte(word ^ (ones &* 0x5C))
        return control != 0 || quote || backslash || (slash && hasZeroByte(word ^ (ones &* 0x2F)))
    }

    @inline(__always)
    private static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & highs != 0
    }
}
