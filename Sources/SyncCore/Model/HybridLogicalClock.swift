import Foundation

/// A hybrid logical clock stamp: wall time in milliseconds, a counter that
/// orders stamps within one millisecond (or when the wall clock went back),
/// and the device that made it, which breaks the last ties.
///
/// Stamps order the `lww` and `append` merge policies; revisions from the
/// server, not stamps, decide what a device has seen.
public struct HLCStamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var wall: Int64
    public var counter: Int32
    public var device: String

    public init(wall: Int64, counter: Int32, device: String) {
        self.wall = wall
        self.counter = counter
        self.device = device
    }

    /// The next stamp after `previous` at wall time `now`: it never goes backwards.
    public static func next(after previous: HLCStamp, now: Date) -> HLCStamp {
        let millis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        if millis > previous.wall {
            return HLCStamp(wall: millis, counter: 0, device: previous.device)
        }
        guard previous.counter < Int32.max else {
            return HLCStamp(wall: previous.wall + 1, counter: 0, device: previous.device)
        }
        return HLCStamp(wall: previous.wall, counter: previous.counter + 1, device: previous.device)
    }

    /// Fixed-width text form that sorts like the stamps themselves:
    /// `0001732350000000-0000-<device>`.
    public var description: String {
        String(format: "%016lld-%04d-", wall, counter) + device
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", maxSplits: 2)
        guard parts.count == 3, let wall = Int64(parts[0]), let counter = Int32(parts[1]) else { return nil }
        self.init(wall: wall, counter: counter, device: String(parts[2]))
    }

    public static func < (lhs: HLCStamp, rhs: HLCStamp) -> Bool {
        (lhs.wall, lhs.counter, lhs.device) < (rhs.wall, rhs.counter, rhs.device)
    }
}
