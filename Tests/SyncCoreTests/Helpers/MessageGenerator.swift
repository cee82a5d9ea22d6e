import Foundation
import SyncCore

/// Random sync messages from a seed (SplitMix64), for the codec's
/// differential tests: strings mixed from pieces that are awkward in JSON
/// (quotes, backslashes, slashes, every control character, DEL, combining
/// marks, emoji and their sequences, U+2028/U+2029, a byte-order mark,
/// U+FFFD), sometimes empty, sometimes long; optionals nil half the time.
struct MessageGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance() -> Bool { next() & 1 == 0 }

    static let pieces: [String] = {
        var pieces = ["\"", "\\", "/", "\\u0000", "\u{7F}", "é", "e\u{301}", "😀", "👩‍👧‍👦", "🇬🇧", "\u{2028}", "\u{2029}", "\u{FEFF}",
                      "\u{FFFD}", "\r\n", "中文", "ß", " ", "child.name", "0", "-1", "null", "true", "{}", "[", "\u{10FFFF}"]
        pieces += (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        pieces += (0..<26).map { String(UnicodeScalar(UInt8(97 + $0))) }
        return pieces
    }()

    mutating func string() -> String {
        switch below(10) {
        case 0: return ""
        case 1: return String(repeating: Self.pieces[below(Self.pieces.count)], count: 500 + below(3_000))
        default: return (0..<below(24)).map { _ in Self.pieces[below(Self.pieces.count)] }.joined()
        }
    }

    mutating func maybe<Value>(_ make: (inout Self) -> Value) -> Value? { chance() ? make(&self) : nil }

    mutating func integer() -> Int64 {
        switch below(4) {
        case 0: [Int64.min, Int64.max, 0, -1, 1, 9, 10][below(7)]
        case 1: Int64(bitPattern: next())
        default: Int64(below(100_000))
        }
    }

    // MARK: Messages

    mutating func pullResponse() -> PullResponse {
        var page = PullResponse(
            changes: (0..<below(12)).map { _ in pulledChange() }, cursor: integer(), more: chance(),
            epoch: maybe { $0.string() }, end: maybe { $0.integer() }, serverTime: maybe { $0.string() },
            formVersion: maybe { Int($0.integer()) }, formDigest: maybe { $0.string() })
        page.auditCheck = maybe { AuditHeadCheck(position: $0.integer(), holds: $0.chance(), length: $0.integer()) }
        return page
    }

    mutating func pulledChange() -> PulledChange {
        PulledChange(
            revision: integer(), record: string(), path: string(), value: maybe { $0.string() }, author: string(), device: string(),
            hlc: string(), at: string(), conflict: maybe { $0.conflictState() })
    }

    mutating func conflictState() -> ConflictState {
        ConflictState(
            id: string(), status: string(),
            candidates: (0..<below(4)).map { _ in
                ConflictCandidate(value: maybe { $0.string() }, author: string(), device: string(), time: string(), hlc: string())
            },
            resolution: maybe { ConflictState.Resolution(by: $0.string(), at: $0.string(), reason: $0.string()) })
    }

    mutating func pushResponse() -> PushResponse {
        PushResponse(
            outcomes: (0..<below(12)).map { _ in changeOutcome() },
            receipt: maybe {
                Receipt(
                    reference: $0.string(), serverTime: $0.string(), records: (0..<$0.below(4)).map { _ in "r" }, changes: Int($0.integer()),
                    signed: $0.maybe { SignedReceipt(protected: $0.string(), payload: $0.string(), signature: $0.string()) })
            },
            serverTime: maybe { $0.string() }, lastSeq: maybe { $0.integer() })
    }

    mutating func changeOutcome() -> ChangeOutcome {
        let outcomes: [Outcome] = [.applied, .conflict, .rejected, .duplicate]
        return ChangeOutcome(
            seq: integer(), outcome: outcomes[below(4)], original: maybe { outcomes[$0.below(4)] }, revision: maybe { $0.integer() },
            conflict: maybe { $0.string() }, reason: maybe { $0.string() },
            current: maybe { FieldState(value: $0.maybe { $0.string() }, revision: $0.integer(), conflict: $0.maybe { $0.string() }) },
            receipt: maybe { $0.string() }, retry: maybe { $0.chance() })
    }

    /// `changes` of them, or up to `maximumChanges` (default 40).
    mutating func pushRequest(maximumChanges: Int = 40, changes: Int? = nil) -> PushRequest {
        var request = PushRequest(
            device: string(),
            changes: (0..<(changes ?? below(maximumChanges + 1))).map { _ in
                WireChange(seq: integer(), record: string(), path: string(), value: maybe { $0.string() }, baseRevision: integer(), hlc: string())
            },
            epoch: maybe { $0.string() }, cursor: maybe { $0.integer() })
        if below(8) == 0 { request.protocolVersion = Int(integer()) }
        return request
    }

    // MARK: Breaking

    /// `bytes` broken in one of a few ways: cut short, a byte dropped,
    /// changed or added, a value swapped for a value of another kind, or
    /// something after the end.
    mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        let awkward: [UInt8] = Array(#"{}[]:,"\ -.0123456789eEtfnul"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xFF, 0xED]
        switch below(7) {
        case 0: bytes.removeLast(below(bytes.count) + 1)
        case 1: bytes.remove(at: below(bytes.count))
        case 2: bytes[below(bytes.count)] = awkward[below(awkward.count)]
        case 3: bytes.insert(awkward[below(awkward.count)], at: below(bytes.count + 1))
        case 4:
            // A member's value (after some `":`) replaced by another kind.
            let colons = bytes.indices.filter { bytes[$0] == UInt8(ascii: ":") }
            guard let colon = colons.isEmpty ? nil : colons[below(colons.count)] else { break }
            let values = ["null", "1", "-1.5", "\"x\"", "[]", "{}", "true", "[null]", "[{}]", "9223372036854775808"]
            var end = colon + 1
            var depth = 0, inString = false, escaped = false
            while end < bytes.count {
                let byte = bytes[end]
                if inString {
                    if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                } else if byte == UInt8(ascii: "\"") {
                    inString = true
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    depth += 1
                } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    if depth == 0 { break }
                    depth -= 1
                } else if byte == UInt8(ascii: ","), depth == 0 {
                    break
                }
                end += 1
            }
            bytes.replaceSubrange((colon + 1)..<end, with: Array(values[below(values.count)].utf8))
        case 5:
            // A member dropped: its name made into another.
            let quotes = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\"") && $0 + 1 < bytes.count && bytes[$0 + 1] >= UInt8(ascii: "a") }
            if let quote = quotes.isEmpty ? nil : quotes[below(quotes.count)] { bytes[quote + 1] = UInt8(ascii: "Z") }
        default:
            bytes += Array([" ", "x", ",", "}", "\u{0}", " \n"][below(6)].utf8)
        }
        return bytes
    }
}
