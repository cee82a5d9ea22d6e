import Crypto
import Foundation
import GRDB
import Logging
import Synchronization
import SyncCore

/// One entry of the audit trail: who did what, when, to which referral. It
/// never holds referral content, only ids, counts and receipt references.
struct AuditEvent: Sendable, Equatable {
    var at: String
    var actor: String
    var action: String
    var record: String?
    var detail: String
}

/// The audit trail is append-only and hash-chained: each entry's hash covers
/// the previous entry's hash and its own fields, so changing, removing or
/// reordering an entry breaks every hash after it. `sync-server audit verify`
/// walks the chain and names the first entry that does not match.
enum AuditTrail {
    static let genesis = String(repeating: "0", count: 64)

    static func hash(previous: String, id: Int64, _ event: AuditEvent) -> String {
        let text = [previous, String(id), event.at, event.actor, event.action, event.record ?? "", event.detail].joined(separator: "\u{1F}")
        return Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    /// Appends an entry after the chain's head; runs inside the caller's
    /// write transaction, which holds the chain's turn
    /// (`SQLTransaction.takeAuditTurn`). Returns the chain's new head: this
    /// entry's position and hash.
    @discardableResult
    static func append(_ event: AuditEvent, in session: any SQLSession) async throws -> AuditHead {
        let last = try await session.rows("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", []).first
        let id = (try last?.int("id") ?? 0) + 1
        let previous = try last?.text("hash") ?? genesis
        let hash = hash(previous: previous, id: id, event)
        try await session.run(
            "INSERT INTO audit (id, at, actor, action, record_id, detail, previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [.int(id), .text(event.at), .text(event.actor), .text(event.action), .text(event.record), .text(event.detail), .text(previous),
             .text(hash)])
        return AuditHead(position: id, hash: hash)
    }

    enum Verification: Equatable {
        case intact(entries: Int)
        case broken(id: Int64, description: String)
    }

    /// One stored entry, as `verify` reads it.
    struct Entry {
        var id: Int64
        var event: AuditEvent
        var previousHash: String
        var hash: String
    }

    static func verify(db: Database) throws -> Verification {
        var entries: [Entry] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY id")
        while let row = try rows.next() {
            entries.append(Entry(
                id: row["id"], event: AuditEvent(at: row["at"], actor: row["actor"], action: row["action"], record: row["record_id"], detail: row["detail"]),
                previousHash: row["previous_hash"], hash: row["hash"]))
        }
        return verify(entries)
    }

    /// Walks the chain in id order; the same check for every backend.
    static func verify(_ entries: [Entry]) -> Verification {
        var previous = genesis
        var expectedID: Int64 = 1
        for entry in entries {
            let id = entry.id
            let event = entry.event
            let described = "entry \(id) (\(event.action) by \(event.actor) at \(event.at))"
            guard id == expectedID else {
                return .broken(id: expectedID, description: "entry \(expectedID) is missing; the next one is \(described)")
            }
            guard entry.previousHash == previous, entry.hash == hash(previous: previous, id: id, event) else {
                return .broken(id: id, description: described)
            }
            previous = entry.hash
            expectedID += 1
        }
        return .intact(entries: Int(expectedID - 1))
    }
}

/// When a `PostgresStorage` chains the audit entries its writers commit
/// (they leave them waiting in `audit_pending`; docs/protocol.md, "Audit").
/// Every start, `audit show` and `audit verify` chain what is waiting in
/// any case.
enum AuditChaining: Sendable, Equatable {
    /// An `AuditSequencer` chains them just after their commits, many at a
    /// time, off the writers' path: a server.
    case sequencer
    /// Each write chains them before it returns: a one-shot command, which
    /// may exit at once.
    case beforeReturning
    /// Only the next start, listing or verification does: tests of what a
    /// crash between a commit and its chaining leaves.
    case deferred
}

/// Chains the audit entries this instance's writers leave waiting
/// (PostgreSQL's `audit_pending`), after their commits, so that no writer
/// holds the chain's turn through its commit.
///
/// One chaining runs at a time. A wake that arrives while one runs asks for
/// one more run after it, so an entry committed before any wake is chained
/// by a run that starts after that commit. Entries that arrive together
/// share one transaction, and one flush, of the chain's turn. A run that
/// fails (PostgreSQL unreachable) is tried again after 1, 2, 4, 8 and 16
/// seconds, then waits for the next wake; nothing is lost meanwhile: the
/// entries wait, committed, and whatever lists or verifies the chain, and
/// every start, chains them first.
final class AuditSequencer: Sendable {
    private let chain: @Sendable () async throws -> Void
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var running = false
        var again = false
        var settledWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        /// Chaining runs started so far, and the last one that succeeded.
        var started = 0
        var succeeded = 0
        var chainWaiters: [Int: ChainWaiter] = [:]
    }

    /// A push waiting for its entry to be chained, and the timer that gives up on it.
    private struct ChainWaiter {
        var ticket: Ticket
        var continuation: CheckedContinuation<Bool, Never>
        var timeout: Task<Void, Never>?

        func resume(_ chained: Bool) {
            timeout?.cancel()
            continuation.resume(returning: chained)
        }
    }

    /// The chaining run that will take what was committed before a `wake`:
    /// the next run to start after it.
    struct Ticket: Sendable, Equatable {
        fileprivate let run: Int
    }

    /// - Parameter chain: chains everything committed and waiting (`PostgresStorage.chainPendingAudit`).
    init(logger: Logger, chain: @escaping @Sendable () async throws -> Void) {
        self.chain = chain
        self.logger = logger
    }

    /// Asks for a run once the caller's transaction has committed; returns
    /// at once, with the ticket of the run that will chain its entry.
    @discardableResult
    func wake() -> Ticket {
        let (start, ticket) = state.withLock { state in
            // Whether a run is going on (it may have started before the
            // caller's commit) or not, the next one to start is after it.
            let ticket = Ticket(run: state.started + 1)
            if state.running {
                state.again = true
                return (false, ticket)
            }
            state.running = true
            return (true, ticket)
        }
        if start { Task { await run() } }
        return ticket
    }

    /// Waits until the run of `ticket` (or a later one) has chained
    /// everything waiting: true; false when the runs gave up (PostgreSQL
    /// unreachable) or `limit` passed first. A push waits here to name the
    /// chain's head in its receipt.
    func chained(_ ticket: Ticket, within limit: Duration) async -> Bool {
        await withCheckedContinuation { continuation in
            let waiter = state.withLock { state -> Int? in
                if state.succeeded >= ticket.run { return nil }
                state.nextWaiter += 1
                state.chainWaiters[state.nextWaiter] = ChainWaiter(ticket: ticket, continuation: continuation)
                return state.nextWaiter
            }
            guard let waiter else { return continuation.resume(returning: true) }
            let timeout = Task { [self] in
                // Cancelled when the run resumes the waiter first.
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                state.withLock { $0.chainWaiters.removeValue(forKey: waiter) }?.resume(false)
            }
            state.withLock { state in
                if state.chainWaiters[waiter] != nil { state.chainWaiters[waiter]?.timeout = timeout } else { timeout.cancel() }
            }
        }
    }

    /// Returns once no run is going on or asked for: every entry committed
    /// before the last wake has been chained, or its runs have failed (and
    /// the entries wait for the next start or listing). For a graceful stop.
    /// - Parameter limit: returns after this long at the latest (a stop
    ///   while PostgreSQL is down must not wait for every retry).
    func settled(within limit: Duration? = nil) async {
        await withCheckedContinuation { continuation in
            let waiter = state.withLock { state -> Int? in
                if !state.running { return nil }
                state.nextWaiter += 1
                state.settledWaiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let waiter else { return continuation.resume() }
            if let limit {
                Task {
                    try? await Task.sleep(for: limit)
                    // Whichever comes first takes the waiter out, and resumes it once.
                    state.withLock { $0.settledWaiters.removeValue(forKey: waiter) }?.resume()
                }
            }
        }
    }

    private func run() async {
        var failures = 0
        while true {
            let run = state.withLock { state in
                state.again = false
                state.started += 1
                return state.started
            }
            do {
                try await chain()
                failures = 0
                let done = state.withLock { state in
                    state.succeeded = max(state.succeeded, run)
                    let done = state.chainWaiters.filter { $0.value.ticket.run <= run }
                    for key in done.keys { state.chainWaiters.removeValue(forKey: key) }
                    return Array(done.values)
                }
                done.forEach { $0.resume(true) }
            } catch {
                failures += 1
                // The error names no entry: the statement carries none.
                logger.warning("audit entries wait to be chained (try \(failures)): \(String(reflecting: error))")
                if failures <= 5 {
                    try? await Task.sleep(for: .seconds(1 << (failures - 1)))
                    state.withLock { $0.again = true }
                }
            }
            let waiters = state.withLock { state -> (settled: [CheckedContinuation<Void, Never>], unchained: [ChainWaiter])? in
                if state.again { return nil }
                state.running = false
                defer {
                    state.settledWaiters = [:]
                    state.chainWaiters = [:]
                }
                // Runs have given up: whoever waits for a chaining learns it now.
                return (Array(state.settledWaiters.values), Array(state.chainWaiters.values))
            }
            if let waiters {
                waiters.settled.forEach { $0.resume() }
                waiters.unchained.forEach { $0.resume(false) }
                return
            }
        }
    }
}
