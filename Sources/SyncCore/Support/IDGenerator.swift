import Foundation

/// Where the core gets new identifiers (referrals, group items, devices).
public protocol IDGenerator: Sendable {
    func next() -> UUID
}

/// Time-ordered UUIDs (RFC 9562 version 7): 48 bits of Unix milliseconds, then
/// random bits. Sorting them sorts by creation time, which keeps group items in
/// the order they were added.
///
/// With a seed the random bits repeat from run to run, which, with a fixed
/// clock, makes ids predictable for tests and golden transcripts.
public final class UUIDv7Generator: IDGenerator, @unchecked Sendable {
    private let clock: any WallClock
    private let lock = NSLock()
    private var seededState: UInt64?

    public init(clock: any WallClock = SystemClock(), seed: UInt64? = nil) {
        self.clock = clock
        self.seededState = seed
    }

    public func next() -> UUID {
        let millis = UInt64(max(0, clock.now().timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8((millis >> (8 * (5 - index))) & 0xFF)
        }
        let (high, low) = randomWords()
        for index in 0..<8 {
            bytes[8 + index] = UInt8((low >> (8 * index)) & 0xFF)
        }
        bytes[6] = UInt8(high & 0xFF)
        bytes[7] = UInt8((high >> 8) & 0xFF)
        bytes[6] = (bytes[6] & 0x0F) | 0x70  // version 7
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
    }

    private func randomWords() -> (UInt64, UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard var state = seededState else {
            var generator = SystemRandomNumberGenerator()
            return (generator.next(), generator.next())
        }
        let high = Self.splitMix(&state)
        let low = Self.splitMix(&state)
        seededState = state
        return (high, low)
    }

    /// SplitMix64: a small, well-mixed generator, for seeded runs only.
    static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension UUID {
    /// The lowercase form used everywhere in the store, on the wire and in output.
    public var lowercased: String { uuidString.lowercased() }

    /// Whether `text` is a UUID in the lowercase 8-4-4-4-12 form ids travel in.
    /// Cheaper than parsing, for checks on every change of a push.
    public static func isCanonical(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            switch count {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            default:
                guard (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) else { return false }
            }
            count += 1
            if count > 36 { return false }
        }
        return count == 36
    }
}
