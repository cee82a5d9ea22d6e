import Foundation
import SyncCore

/// Counts failed authentications per key (the `Field-Device` header, else the
/// remote address). After `limit` failures within `window` of the first, the
/// key is blocked until the window has passed: its requests get a 429 without
/// their token being checked. A success changes no one's count. In memory only:
/// a restart forgets every count.
final class AuthFailureLimiter: @unchecked Sendable {
    let limit: Int
    let window: TimeInterval
    let clock: any WallClock
    /// Keys kept at most; past that, expired ones are dropped, then the older half
    /// (so a flood of new keys costs little per request and memory stays bounded).
    let capacity: Int

    private struct Entry {
        var start: Date
        var failures: Int
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    init(limit: Int, window: TimeInterval, clock: any WallClock, capacity: Int = 100_000) {
        self.limit = limit
        self.window = window
        self.clock = clock
        self.capacity = capacity
    }

    /// Whole seconds the key must wait, if it is blocked now.
    func retryAfter(_ key: String) -> Int? {
        let now = clock.now()
        return lock.withLock {
            guard let entry = entries[key] else { return nil }
            let end = entry.start.addingTimeInterval(window)
            guard now < end else {
                entries[key] = nil
                return nil
            }
            guard entry.failures >= limit else { return nil }
            return max(1, Int(end.timeIntervalSince(now).rounded(.up)))
        }
    }

    /// Records a failed authentication for the key.
    func recordFailure(_ key: String) {
        let now = clock.now()
        lock.withLock {
            if var entry = entries[key], now < entry.start.addingTimeInterval(window) {
                entry.failures += 1
                entries[key] = entry
                return
            }
            if entries.count >= capacity { prune(now: now) }
            entries[key] = Entry(start: now, failures: 1)
        }
    }

    private func prune(now: Date) {
        entries = entries.filter { now < $0.value.start.addingTimeInterval(window) }
        if entries.count >= capacity {
            let older = entries.sorted { $0.value.start < $1.value.start }.prefix(entries.count / 2 + 1)
            for (key, _) in older { entries[key] = nil }
        }
    }
}
