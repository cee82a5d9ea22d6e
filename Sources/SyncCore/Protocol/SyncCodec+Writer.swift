import Foundation

/// JSON text appended to a byte array, escaped as Foundation's
/// `JSONEncoder` escapes it (`SyncCodec`; `ReceiptDocument.encoded`, which
/// leaves `/` unescaped as `.withoutEscapingSlashes` does). Objects are
/// written member by member, in sorted order, by the message writers below.
struct JSONWriter {
    private(set) var bytes: [UInt8]
    /// Whether `/` is written `\/` (Foundation's default).
    let escapesSlashes: Bool

    init(capacity: Int, escapingSlashes: Bool = true) {
        bytes = []
        bytes.reserveCapacity(capacity)
        escapesSlashes = escapingSlashes
    }

    /// Text written as it is (punctuation, a literal).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A member's name and colon (`name` is `"name":`), after a comma unless
    /// it is the object's first.
    mutating func member(_ name: StaticString) {
        if bytes.last != UInt8(ascii: "{") { bytes.append(UInt8(ascii: ",")) }
        raw(name)
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            guard let base = utf8.baseAddress else { return }
            let count = utf8.count
            var start = 0, index = 0
            while index < count {
                // Eight bytes at a time while none needs escaping.
                if index + 8 <= count, !ByteScan.needsEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self), slash: escapesSlashes) {
                    index += 8
                    continue
                }
                let byte = base[index]
                index += 1
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || (byte == UInt8(ascii: "/") && escapesSlashes) else { continue }
                if start < index - 1 { bytes.append(contentsOf: UnsafeBufferPointer(start: base + start, count: index - 1 - start)) }
                escape(byte)
                start = index
            }
            if start < count { bytes.append(contentsOf: UnsafeBufferPointer(start: base + start, count: count - start)) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(byte)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        default:
            let hex: StaticString = "0123456789abcdef"
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            bytes.append(hex.utf8Start[Int(byte >> 4)])
            bytes.append(hex.utf8Start[Int(byte & 0xF)])
        }
    }

    mutating func string(_ value: String?) {
        if let value { string(value) } else { raw("null") }
    }

    mutating func integer<Integer: BinaryInteger>(_ value: Integer) {
        if value >= 0, value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // 20 digits hold UInt64.max; written backwards, then copied.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var magnitude = UInt64(value.magnitude)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    mutating func strings(_ values: [String]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// `[…]` with a comma between the elements `element` writes.
    mutating func array<Element>(_ values: [Element], _ element: (inout JSONWriter, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for index in values.indices {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, values[index])
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

// Each message's members in sorted order (what `.sortedKeys` gives for
// these names), optionals left out when nil as the synthesized
// `Encodable` conformances leave them out, `@NullEncoded` ones written.

extension JSONWriter {
    mutating func write(_ page: PullResponse) {
        raw("{")
        if let check = page.auditCheck {
            member(#""audit_check":"#)
            raw(#"{"holds":"#); bool(check.holds)
            raw(#","length":"#); integer(check.length)
            raw(#","position":"#); integer(check.position)
            raw("}")
        }
        member(#""changes":"#); array(page.changes) { $0.write($1) }
        member(#""cursor":"#); integer(page.cursor)
        if let end = page.end { member(#""end":"#); integer(end) }
        if let epoch = page.epoch { member(#""epoch":"#); string(epoch) }
        if let digest = page.formDigest { member(#""form_digest":"#); string(digest) }
        if let version = page.formVersion { member(#""form_version":"#); integer(version) }
        member(#""more":"#); bool(page.more)
        member(#""protocol":"#); integer(page.protocolVersion)
        if let time = page.serverTime { member(#""server_time":"#); string(time) }
        raw("}")
    }

    mutating func write(_ change: PulledChange) {
        raw(#"{"at":"#); string(change.at)
        raw(#","author":"#); string(change.author)
        if let conflict = change.conflict { raw(#","conflict":"#); write(conflict) }
        raw(#","device":"#); string(change.device)
        raw(#","hlc":"#); string(change.hlc)
        raw(#","path":"#); string(change.path)
        raw(#","record":"#); string(change.record)
        raw(#","revision":"#); integer(change.revision)
        raw(#","value":"#); string(change.value)
        raw("}")
    }

    mutating func write(_ conflict: ConflictState) {
        raw(#"{"candidates":"#)
        array(conflict.candidates) { writer, candidate in
            writer.raw(#"{"author":"#); writer.string(candidate.author)
            writer.raw(#","device":"#); writer.string(candidate.device)
            writer.raw(#","hlc":"#); writer.string(candidate.hlc)
            writer.raw(#","time":"#); writer.string(candidate.time)
            writer.raw(#","value":"#); writer.string(candidate.value)
            writer.raw("}")
        }
        raw(#","id":"#); string(conflict.id)
        if let resolution = conflict.resolution {
            raw(#","resolution":{"at":"#); string(resolution.at)
            raw(#","by":"#); string(resolution.by)
            raw(#","reason":"#); string(resolution.reason)
            raw("}")
        }
        raw(#","status":"#); string(conflict.status)
        raw("}")
    }

    mutating func write(_ response: PushResponse) {
        raw("{")
        if let lastSeq = response.lastSeq { member(#""last_seq":"#); integer(lastSeq) }
        member(#""outcomes":"#); array(response.outcomes) { $0.write($1) }
        member(#""protocol":"#); integer(response.protocolVersion)
        if let receipt = response.receipt { member(#""receipt":"#); write(receipt) }
        if let time = response.serverTime { member(#""server_time":"#); string(time) }
        raw("}")
    }

    mutating func write(_ outcome: ChangeOutcome) {
        raw("{")
        if let conflict = outcome.conflict { member(#""conflict":"#); string(conflict) }
        if let current = outcome.current {
            member(#""current":"#)
            raw("{")
            if let conflict = current.conflict { member(#""conflict":"#); string(conflict) }
            member(#""revision":"#); integer(current.revision)
            member(#""value":"#); string(current.value)
            raw("}")
        }
        if let original = outcome.original { member(#""original":"#); string(original.rawValue) }
        member(#""outcome":"#); string(outcome.outcome.rawValue)
        if let reason = outcome.reason { member(#""reason":"#); string(reason) }
        if let receipt = outcome.receipt { member(#""receipt":"#); string(receipt) }
        if let retry = outcome.retry { member(#""retry":"#); bool(retry) }
        if let revision = outcome.revision { member(#""revision":"#); integer(revision) }
        member(#""seq":"#); integer(outcome.seq)
        raw("}")
    }

    mutating func write(_ receipt: Receipt) {
        raw(#"{"changes":"#); integer(receipt.changes)
        raw(#","records":"#); strings(receipt.records)
        raw(#","reference":"#); string(receipt.reference)
        raw(#","server_time":"#); string(receipt.serverTime)
        if let signed = receipt.signed {
            raw(#","signed":{"payload":"#); string(signed.payload)
            raw(#","protected":"#); string(signed.protected)
            raw(#","signature":"#); string(signed.signature)
            raw("}")
        }
        raw("}")
    }
}
