import Foundation
import TestSupport
import SyncCore
import Testing

/// Issue 15, item 3: a bad network between the real `field` binary and a real
/// `sync-server`, through `FaultProxy` on 127.0.0.1. Whatever the network does
/// to a health check, a push or a pull (a reply dropped after the server
/// committed, a reply late, a reply or a request cut halfway, a connection
/// closed, a request delivered twice), the practitioner reads one plain
/// sentence, never a stack trace; the next sync over a good network
/// converges; and the server's log holds every change once, never twice.
@Suite("A bad network between field and the server")
struct NetworkFaultTests {
    /// A fault on one route.
    struct Case: Sendable, CustomStringConvertible {
        let path: String
        let fault: NetworkFault
        var description: String { "\(fault) on \(path)" }
        /// Whether `field sync` still succeeds through this fault.
        var survivable: Bool {
            switch fault {
            case .none, .delay, .answerTwice: true
            default: false
            }
        }
    }

    static let cases: [Case] =
        [NetworkFault.dropReply, .cutReply, .cutRequest, .closeConnection, .answerTwice, .delay(milliseconds: 1_500)].map { Case(path: "v1/push", fault: $0) }
        + [NetworkFault.dropReply, .cutReply, .closeConnection, .answerTwice].map { Case(path: "v1/pull", fault: $0) }
        + [Case(path: "healthz", fault: .closeConnection), Case(path: "healthz", fault: .cutReply)]

    /// A practitioner's two devices: `jane` syncs through the proxy, `desk` straight to the server.
    struct Setup {
        let server: ServerProcess
        let proxy: FaultProxy
        let jane: FieldHome
        let desk: FieldHome
        /// jane's token from `sync-server user add`.
        let token: String
        /// jane's device id, as `field login` printed it and the server's log names it.
        let janeDevice: String

        init(seed: Int) throws {
            server = try ServerProcess()
            token = try server.addUser("jane")
            proxy = try FaultProxy(to: server)
            jane = try FieldHome(user: "jane", seed: seed, clock: .machine)
            desk = try FieldHome(user: "jane", seed: seed + 1, clock: .machine)
            janeDevice = try NetworkFaultTests.login(jane, server: proxy.url, token: token)
            try desk.succeed(["login", "--server", server.url.absoluteString, "--token", token])
        }
    }

    /// `field login` at `server` with `token`: the device id it printed
    /// (which the server's log and audit trail name).
    @discardableResult
    static func login(_ home: FieldHome, server: URL, token: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let printed = try home.succeed(["login", "--server", server.absoluteString, "--token", token])
        return String(printed.split(separator: " ").last ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    /// Changes the device has not yet seen acknowledged, over all its referrals (`field status --json`).
    static func pending(_ home: FieldHome) throws -> Int {
        let output = try home.succeed(["status", "--json"])
        let documents = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] ?? []
        return documents.reduce(0) { $0 + ($1["pending"] as? Int ?? 0) }
    }

    /// What a failed sync may print: one line, one sentence starting `Error: `,
    /// that says the changes are safe, and nothing of a crash.
    static func expectPlainFailure(_ result: (output: String, status: Int32), _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(result.status != 0 && result.status < 128, "\(what): exit \(result.status): \(text)", sourceLocation: sourceLocation)
        #expect(!text.contains("\n"), "\(what): more than one line: \(text)", sourceLocation: sourceLocation)
        #expect(text.hasPrefix("Error: ") && text.hasSuffix("."), "\(what): \(text)", sourceLocation: sourceLocation)
        for sign in ["Fatal error", "Stack dump", "backtrace", "Thread ", "0x", "SyncError", "TransportError", "URLError", "Empty reply", "transfer closed", "bytes remaining"] {
            #expect(!text.contains(sign), "\(what): '\(sign)' in \(text)", sourceLocation: sourceLocation)
        }
        #expect(text.contains("safe") || text.contains("nothing was lost"), "\(what): does not say the changes are safe: \(text)", sourceLocation: sourceLocation)
    }

    /// A referral with what a submission needs, drafted offline; its id.
    /// The server's log: no `(device, seq)` written twice, and every device's
    /// writes numbered without a repeat.
    static func expectAppliedOnce(_ server: ServerProcess, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let twice = try await RecoveryTests.appliedTwice(server)
        #expect(twice.isEmpty, "applied twice: \(twice)", sourceLocation: sourceLocation)
    }

    @Test("a fault on one exchange: one plain sentence, the server stores what it acknowledged or nothing, the next sync converges, nothing applied twice", arguments: cases)
    func oneFault(_ fault: Case) async throws {
        let setup = try Setup(seed: 31)
        let id = try setup.jane.draftAndSubmit("Ann Example")
        let janeDevice = setup.janeDevice
        let faulted = fault.fault
        let path = fault.path
        setup.proxy.setRule { $0.path == path ? faulted : .none }
        let first = try setup.jane.run(["sync"])
        print("Network fault \(fault): field said: \(first.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        if fault.survivable {
            #expect(first.status == 0, "\(fault): \(first.output)")
            #expect(first.output.contains("Receipt R-"), "\(fault): \(first.output)")
        } else {
            Self.expectPlainFailure(first, "\(fault)")
        }
        #expect(setup.proxy.history.contains { $0.fault == faulted }, "\(fault): the fault never happened")
        // What the server holds after the fault: everything when the push got
        // through, whatever the network then did to its reply; nothing when
        // the push never arrived whole.
        let stored = try await setup.server.database.rows("SELECT count(*) FROM change_log WHERE device_id = ?", [janeDevice])[0][0]
        let pushArrived = path != "v1/push" || ![NetworkFault.cutRequest, .closeConnection].contains(faulted)
        let healthFailed = path == "healthz"
        if healthFailed || !pushArrived {
            #expect(stored == "0", "\(fault): the server stored \(stored ?? "?") changes it never received whole")
        } else {
            #expect(stored != "0", "\(fault): the push arrived but nothing is stored")
        }

        // The network is good again.
        setup.proxy.setRule { _ in .none }
        let second = try setup.jane.succeed(["sync"])
        #expect(second.contains("Pushed"), "\(fault): \(second)")
        #expect(try Self.pending(setup.jane) == 0, "\(fault): changes still pending")
        try setup.desk.succeed(["sync"])
        #expect(try setup.desk.succeed(["show", id, "--json"]) == setup.jane.succeed(["show", id, "--json"]), "\(fault): the devices differ")
        try await Self.expectAppliedOnce(setup.server)
        // Every write jane made (new, three fields, the submission), once each.
        let writes = try await setup.server.database.rows(
            "SELECT count(*), count(DISTINCT seq) FROM change_log WHERE device_id = ? AND kind = 'write'", [janeDevice])[0]
        #expect(writes[0] == writes[1], "\(fault): \(writes)")
    }

    @Test("seeded random faults on every exchange of two devices: each failure one sentence, then convergence, nothing lost, nothing applied twice")
    func randomFaults() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["NETWORK_FAULT_SEED"] ?? "") ?? 15
        let random = SeededRandom(seed: seed)
        let setup = try Setup(seed: 41)
        // jane's phone, behind the proxy too; her desk, straight to the server, only reads at the end.
        let phone = try FieldHome(user: "jane", seed: 43, clock: .machine)
        try phone.succeed(["login", "--server", setup.proxy.url.absoluteString, "--token", setup.token])
        let id = try setup.jane.draftAndSubmit("Ann Example")
        try setup.jane.succeed(["sync"])
        try phone.succeed(["sync"])
        let faults: [NetworkFault] = [.dropReply, .cutReply, .cutRequest, .closeConnection, .answerTwice, .delay(milliseconds: 200)]
        setup.proxy.setRule { _ in random.chance(0.5) ? faults[Int(random.next() % UInt64(faults.count))] : .none }
        // What must reach the server: each device's last value of a field before a sync that succeeded
        // (earlier local edits of that field coalesce into it and are never sent), and what is left at the end.
        var mustArrive: [(path: String, value: String)] = []
        var unsent: [URL: [String: String]] = [:]
        var failures = 0
        let homes = [setup.jane, phone]
        for step in 0..<24 {
            let home = homes[Int(random.next() % 2)]
            let path = ["concern.summary", "referrer.phone", "concern.notes"][Int(random.next() % 3)]
            let value = path == "referrer.phone" ? "0770090\(100 + step)" : "step \(step) on \(home.seed ?? 0)"
            try home.succeed(["set", id, path, value])
            unsent[home.folder, default: [:]][path] = value
            if random.chance(0.7) {
                let result = try home.run(["sync"])
                if result.status != 0 {
                    failures += 1
                    Self.expectPlainFailure(result, "seed \(seed) step \(step)")
                } else {
                    mustArrive += unsent[home.folder, default: [:]].map { ($0.key, $0.value) }
                    unsent[home.folder] = [:]
                }
            }
        }
        mustArrive += unsent.values.flatMap { $0.map { ($0.key, $0.value) } }
        setup.proxy.setRule { _ in .none }
        for _ in 0..<2 { for home in homes { try home.succeed(["sync"]) } }
        for home in homes { #expect(try Self.pending(home) == 0, "seed \(seed): changes still pending") }
        try setup.desk.succeed(["sync"])
        let shown = try (homes + [setup.desk]).map { try $0.succeed(["show", id, "--json"]) }
        #expect(Set(shown).count == 1, "seed \(seed): the devices differ")
        try await Self.expectAppliedOnce(setup.server)
        // Nothing lost: every value written is in the server's history (notes are appended to, so contained).
        let history = try await setup.server.database.rows("SELECT path, value FROM change_log WHERE record_id = ?", [id.lowercased()])
        for (path, value) in mustArrive {
            #expect(history.contains { $0[0] == path && ($0[1] ?? "").contains(value) }, "seed \(seed): \(path)=\(value) missing from the server's history")
        }
        let met = setup.proxy.history.filter { $0.fault != .none }.count
        print("Network faults: seed \(seed), \(setup.proxy.history.count) exchanges, \(met) faults, \(failures) failed syncs: " + setup.proxy.history.map { "\($0.exchange.path) \($0.fault)" }.joined(separator: "; "))
        #expect(met > 0)
    }
}
