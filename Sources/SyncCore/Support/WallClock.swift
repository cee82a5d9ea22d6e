import Foundation

/// Where the core reads the time. Nothing in SyncCore calls `Date()` directly,
/// so tests can fix "now" and get the same stamps on every run.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The machine's clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that starts at a fixed instant and moves forward by `step` on each
/// reading, so that successive writes get distinct, predictable stamps.
public final class SteppingClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private let step: TimeInterval

    public init(start: Date, step: TimeInterval = 1) {
        self.current = start
        self.step = step
    }

    public func now() -> Date {
        lock.lock()
        defer { lock.unlock() }
        let reading = current
        current = current.addingTimeInterval(step)
        return reading
    }
}
