import Foundation
import SyncCore
import Testing
@testable import SyncServer

/// The denied-attempt limiter on its own, on a clock the test moves: the
/// window's limit, its summary when it closes (at a sweep, at the next
/// refusal, or for all at a stop), and its bounded memory.
@Suite("Denied attempts: at most N a minute per actor and address, then one summary")
struct DeniedAttemptsTests {
    /// A clock that moves only when the test says so.
    final class ManualClock: WallClock, @unchecked Sendable {
        private let lock = NSLock()
        private var current: Date
        init(_ start: Date) { current = start }
        func now() -> Date { lock.withLock { current } }
        func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
    }

    static let start = Timestamp.date("2026-11-23T09:00:00Z")!

    static func attempt(_ actor: String, from address: String = "192.0.2.1", record: String? = nil) -> DeniedAttempt {
        DeniedAttempt(actor: actor, address: address, method: "GET", route: "/v1/intake/referrals/{id}", status: 403, record: record, named: nil)
    }

    @Test("the limit per actor and address, the summary at a sweep once the window closes, and nothing more")
    func windowAndSweep() {
        let clock = ManualClock(Self.start)
        let attempts = DeniedAttempts(limit: 3, window: 60, clock: clock)
        var written: [AuditEvent] = []
        for _ in 0..<7 { written += attempts.admit(Self.attempt("ian", record: "01a2072c-0000-7000-8000-000000000001")) }
        written += attempts.admit(Self.attempt("ian", from: "192.0.2.2"))
        written += attempts.admit(Self.attempt("anonymous"))
        #expect(written.count == 5)
        #expect(written[0] == AuditEvent(
            at: "2026-11-23T09:00:00Z", actor: "ian", action: "denied", record: "01a2072c-0000-7000-8000-000000000001",
            detail: "method=GET route=/v1/intake/referrals/{id} status=403 from=192.0.2.1"))
        clock.advance(59)
        #expect(attempts.sweep().isEmpty, "the window is still open")
        clock.advance(1)
        let summaries = attempts.sweep()
        #expect(summaries == [AuditEvent(
            at: "2026-11-23T09:01:00Z", actor: "ian", action: "denied", record: nil,
            detail: "… and 4 more denied from=192.0.2.1 between 2026-11-23T09:00:00Z and 2026-11-23T09:01:00Z (after 3 written one by one)")])
        #expect(attempts.openWindows == 0)
        #expect(attempts.sweep().isEmpty)
        // A new window starts with its own limit.
        #expect(attempts.admit(Self.attempt("ian")).count == 1)
    }

    @Test("a refusal after the window closed brings the summary before its own entry; a stop summarises every open window")
    func summaryOnNextAndAtStop() {
        let clock = ManualClock(Self.start)
        let attempts = DeniedAttempts(limit: 1, window: 60, clock: clock)
        _ = attempts.admit(Self.attempt("anonymous"))
        #expect(attempts.admit(Self.attempt("anonymous")).isEmpty)
        clock.advance(61)
        let next = attempts.admit(Self.attempt("anonymous"))
        #expect(next.count == 2 && next[0].detail.hasPrefix("… and 1 more denied") && next[1].detail.hasPrefix("method=GET"), "\(next)")
        #expect(attempts.admit(Self.attempt("anonymous")).isEmpty)
        #expect(attempts.admit(Self.attempt("anonymous")).isEmpty)
        clock.advance(10)
        let stop = attempts.sweep(all: true)
        #expect(stop.count == 1 && stop[0].detail.hasPrefix("… and 2 more denied from=192.0.2.1 between 2026-11-23T09:01:01Z and 2026-11-23T09:01:11Z"), "\(stop)")
        #expect(attempts.openWindows == 0)
    }

    @Test("memory is bounded: past its capacity the oldest window closes early, its count summarised, never lost")
    func capacity() {
        let clock = ManualClock(Self.start)
        let attempts = DeniedAttempts(limit: 1, window: 60, clock: clock, capacity: 2)
        _ = attempts.admit(Self.attempt("a"))
        _ = attempts.admit(Self.attempt("a"))
        clock.advance(1)
        _ = attempts.admit(Self.attempt("b"))
        clock.advance(1)
        let third = attempts.admit(Self.attempt("c"))
        #expect(third.count == 2 && third[0].actor == "a" && third[0].detail.hasPrefix("… and 1 more denied") && third[1].actor == "c", "\(third)")
        #expect(attempts.openWindows == 2)
    }
}
