import Foundation
import Synchronization
import SyncCore

/// One refused request to a referral, export or staff route (a 401, 403 or
/// 404; `DeniedAudit.isAudited` says which routes): who, what, from where.
/// It holds ids and the route's pattern, never the path as sent, its query
/// or its body, so no referral content reaches the audit trail.
struct DeniedAttempt: Sendable, Equatable {
    /// The user the request proved to be (a valid token, a live console
    /// session, or a right password refused for another reason), else `anonymous`.
    var actor: String
    /// The peer's IP address, `unknown` when the connection has none.
    var address: String
    var method: String
    /// The route's pattern as the router holds it: `/v1/intake/referrals/{id}`.
    var route: String
    /// The status answered: 401, 403, 404, or 303 for a console page that
    /// sent someone with no live session to the sign-in page.
    var status: Int
    /// The referral the route names, when it names one (a referral id).
    var record: String?
    /// Another id the route names, as `conflict=…` or `device=…`.
    var named: String?

    static let anonymous = "anonymous"

    /// Its audit entry: action `denied`, the referral in `record_id`, and
    /// `method=… route=… status=… [conflict=…|device=…] from=…` as detail.
    func event(at: String) -> AuditEvent {
        AuditEvent(
            at: at, actor: actor, action: DeniedAttempts.action, record: record,
            detail: "method=\(method) route=\(route) status=\(status)" + (named.map { " \($0)" } ?? "") + " from=\(address)")
    }
}

/// Keeps a flood of refused requests from filling the audit trail: each
/// actor and address pair (`anonymous` from one address, a user from one
/// address) has its first `limit` refusals in a window of `window` seconds
/// written one by one; the rest are counted, and when the window has closed
/// one entry says `… and K more denied` with the window's start and end.
/// That entry is written at the first refusal, from anyone, after the window
/// closed, at the server's next sweep (every 15 seconds), or when the
/// server stops, whichever comes first (`DeniedAudit`).
///
/// In memory, per instance: a restart forgets the counts (it writes what it
/// holds first, on a graceful stop), and two instances each write their own
/// `limit`. At most `capacity` pairs are held; past that, the window that
/// opened first is closed early (its summary written) to make room, so the
/// memory stays bounded and no refusal goes uncounted.
final class DeniedAttempts: Sendable {
    /// The audit action of a refusal and of a window's summary.
    static let action = "denied"
    let limit: Int
    let window: TimeInterval
    let clock: any WallClock
    let capacity: Int

    private struct Key: Hashable {
        let actor: String
        let address: String
    }

    private struct Window {
        var start: Date
        var written: Int
        var more: Int
    }

    private struct State {
        var windows: [Key: Window] = [:]
        /// The earliest end of an open window: nothing to sweep before it.
        var earliestEnd: Date?
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - limit: refusals written one by one per actor and address in a window (at least 1).
    ///   - window: the window's length, in seconds.
    ///   - clock: the server's clock (`ServerConfiguration.clock`): tests move it.
    ///   - capacity: actor and address pairs held at most.
    init(limit: Int = 10, window: TimeInterval = 60, clock: any WallClock, capacity: Int = 10_000) {
        self.limit = max(1, limit)
        self.window = window
        self.clock = clock
        self.capacity = max(1, capacity)
    }

    /// The audit entries to write for `attempt`, in order: the summary of
    /// every window that has closed with refusals left unwritten (this
    /// pair's own among them), then the attempt's own entry, unless its
    /// window already has `limit` (then it is only counted).
    func admit(_ attempt: DeniedAttempt) -> [AuditEvent] {
        let now = clock.now()
        return state.withLock { state in
            var events = Self.sweep(&state, now: now, window: window, all: false)
            let key = Key(actor: attempt.actor, address: attempt.address)
            if var open = state.windows[key] {
                if open.written < limit {
                    open.written += 1
                    events.append(attempt.event(at: Timestamp.string(now)))
                } else {
                    open.more += 1
                }
                state.windows[key] = open
                return events
            }
            if state.windows.count >= capacity, let oldest = state.windows.min(by: { $0.value.start < $1.value.start }) {
                state.windows[oldest.key] = nil
                if let summary = Self.summary(oldest.key, oldest.value, end: now) { events.append(summary) }
            }
            state.windows[key] = Window(start: now, written: 1, more: 0)
            let end = now.addingTimeInterval(window)
            state.earliestEnd = min(state.earliestEnd ?? end, end)
            events.append(attempt.event(at: Timestamp.string(now)))
            return events
        }
    }

    /// The summaries of the windows that have closed (all of them, closed
    /// now, with `all`: a stopping server), which are forgotten.
    func sweep(all: Bool = false) -> [AuditEvent] {
        let now = clock.now()
        return state.withLock { Self.sweep(&$0, now: now, window: window, all: all) }
    }

    /// Actor and address pairs with an open window (for tests and metrics).
    var openWindows: Int { state.withLock { $0.windows.count } }

    private static func sweep(_ state: inout State, now: Date, window: TimeInterval, all: Bool) -> [AuditEvent] {
        guard all || state.earliestEnd.map({ $0 <= now }) == true else { return [] }
        var events: [AuditEvent] = []
        var earliest: Date?
        // Oldest first, so the summaries come in the order their windows opened.
        for (key, open) in state.windows.sorted(by: { $0.value.start < $1.value.start }) {
            let end = open.start.addingTimeInterval(window)
            if all || end <= now {
                state.windows[key] = nil
                if let summary = summary(key, open, end: min(end, now)) { events.append(summary) }
            } else {
                earliest = min(earliest ?? end, end)
            }
        }
        state.earliestEnd = earliest
        return events
    }

    /// `… and K more denied` for a window that counted refusals it did not
    /// write; nil when it wrote every one.
    private static func summary(_ key: Key, _ open: Window, end: Date) -> AuditEvent? {
        guard open.more > 0 else { return nil }
        return AuditEvent(
            at: Timestamp.string(end), actor: key.actor, action: action, record: nil,
            detail: "… and \(open.more) more denied from=\(key.address) between \(Timestamp.string(open.start)) and \(Timestamp.string(end)) (after \(open.written) written one by one)")
    }
}
