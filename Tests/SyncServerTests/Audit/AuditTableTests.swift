import Foundation
import SyncCore
import Testing
@testable import SyncServer

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Issue 29, item 4: an audit trail that misses nothing and names the right
/// person. Through the real `sync-server` on 127.0.0.1 (SQLite, or
/// PostgreSQL under `SYNC_TEST_BACKEND=postgres`): every route and console
/// page that reads or writes referral data or is a staff action, asked by
/// each role (practitioner, intake, admin, anonymous), allowed and denied,
/// leaves exactly the audit entries expected (action, actor, referral id);
/// a flood of refusals is written up to the limit, then summarised; operator
/// commands name the operating-system user, with `--reason`/`--by` as a reason.
@Suite("Audit trail: every route, every role, allowed and denied")
struct AuditTableTests {
    /// The server's clock at the start: Monday 23 November 2026, 09:00 in London.
    static let start = Timestamp.date("2026-11-23T09:00:00Z")!

    /// One audit entry a case expects: its action, actor and referral id,
    /// and words its detail must hold (`route=…`, `status=…`).
    struct Expected: CustomStringConvertible {
        let action: String
        let actor: String
        let record: String?
        var detail: [String] = []
        var description: String { "\(action) by \(actor) on \(record ?? "-")" }
    }

    /// A denied attempt's entry: `denied`, the actor, the referral id when
    /// the route names one, the route's pattern, the status and the address.
    static func refusal(_ actor: String, _ route: String, _ status: Int, record: String? = nil, method: String = "GET") -> Expected {
        Expected(action: "denied", actor: actor, record: record, detail: ["method=\(method)", "route=\(route)", "status=\(status)", "from=127.0.0.1"])
    }

    /// One row of the table: a request, the status it gets, the entries it leaves.
    struct Case {
        let name: String
        let status: Int
        let expected: [Expected]
        let send: () async throws -> Int
    }

    /// The operating-system user running these tests, as the server's operator commands record it.
    static var osUser: String { ServerProcess.operatingSystemUser }

    /// Everything the table needs: users of every role with tokens, devices
    /// and console sessions; two submitted referrals (one worked through the
    /// API, one through the console), each with an open conflict; two spare
    /// devices to revoke.
    final class World: @unchecked Sendable {
        let server: ServerProcess
        let janeToken: String
        let ianToken: String
        let adaToken: String
        let laptop: Device
        let phone: Device
        let ianDevice = "01a2072c-0000-7000-8000-0000000000a1"
        let adaDevice = "01a2072c-0000-7000-8000-0000000000a2"
        let spare = ["01a2072c-0000-7000-8000-0000000000b1", "01a2072c-0000-7000-8000-0000000000b2"]
        /// Worked through the API, and through the console.
        var apiReferral: UUID!
        var consoleReferral: UUID!
        var apiChild: UUID!
        var consoleChild: UUID!
        var conflicts: [String: String] = [:]
        let ian: ConsoleBoundaryTests.Client
        let ada: ConsoleBoundaryTests.Client
        let nobody: ConsoleBoundaryTests.Client
        let password = "a long enough password"
        private var minutes = 0

        init() async throws {
            server = try ServerProcess(clock: "2026-11-23T09:00:00Z", options: ["--console-idle-minutes", "1440"])
            janeToken = try server.addUser("jane")
            ianToken = try server.addUser("ian", role: .intake)
            adaToken = try server.addUser("ada", role: .admin)
            for name in ["jane", "ian", "ada"] {
                #expect(try server.command(["user", "set-password", name], input: password + "\n").status == 0)
            }
            laptop = try await Device(server: server, token: janeToken)
            phone = try await Device(server: server, token: janeToken)
            for (token, device) in [(ianToken, ianDevice), (adaToken, adaDevice), (janeToken, spare[0]), (janeToken, spare[1])] {
                let body = try JSONEncoder().encode(RegisterRequest(device: device))
                #expect(try await server.exchange("POST", "v1/register", token: token, device: device, body: body).0 == 200)
            }
            ian = ConsoleBoundaryTests.Client(server.url)
            ada = ConsoleBoundaryTests.Client(server.url)
            nobody = ConsoleBoundaryTests.Client(server.url)
            #expect(try await ian.signIn("ian", password).status == 303)
            #expect(try await ada.signIn("ada", password).status == 303)

            (apiReferral, apiChild) = try referral("Amy Smith")
            (consoleReferral, consoleChild) = try referral("Amy Smith")
            try await laptop.sync()
            try await phone.sync()
            // Both of Jane's devices change one answer of each referral without seeing each other: two conflicts.
            for record in [apiReferral!, consoleReferral!] {
                try laptop.store.set("concern.summary", of: record, to: "Seen at school with a bruise")
                try phone.store.set("concern.summary", of: record, to: "Seen at the clinic with a bruise")
            }
            try await laptop.sync()
            try await phone.sync()
            for row in try await server.database.rows("SELECT id, record_id FROM conflicts") {
                conflicts[row[1]!] = row[0]!
            }
            #expect(conflicts.count == 2, "two conflicts: \(conflicts)")
        }

        /// Jane's referral about `child`, submitted (not yet synced): its id and the child's item id.
        func referral(_ child: String) throws -> (UUID, UUID) {
            let record = try laptop.store.createReferral(kind: .socialCare)
            let item = try laptop.store.addItem(to: "children", of: record)
            for (path, value) in [
                ("children.1.full_name", child), ("referrer.name", "Jane Smith"), ("referrer.role", "Health visitor"),
                ("referrer.agency", "Worcester Health Visiting Team"), ("concern.summary", "Bruise on the arm"),
            ] {
                _ = try laptop.store.set(path, of: record, to: value)
            }
            _ = try laptop.store.submit(record)
            return (record, item)
        }

        /// The person key of a referral's child, as the related API gives it.
        func person(_ record: UUID, _ item: UUID) -> String { "\(record.lowercased)/children.\(item.lowercased)" }

        /// Moves the server's clock a minute and a second on: each case in a
        /// window of the denied-attempt limit of its own.
        func tick() throws {
            minutes += 1
            try server.setTime(Timestamp.string(AuditTableTests.start.addingTimeInterval(Double(minutes) * 61)))
        }

        /// An API request as `token` (nil: anonymous) from `device`: its status.
        func api(_ method: String, _ path: String, _ token: String?, device: String? = nil, body: (some Encodable)? = Optional<String>.none) async throws -> Int {
            try await server.exchange(method, path, token: token, device: device, body: try body.map { try JSONEncoder().encode($0) } ?? (method == "POST" ? Data("{}".utf8) : nil)).0
        }

        /// A console request by `client` (its session, if any); a POST carries the session's CSRF token.
        func console(_ client: ConsoleBoundaryTests.Client, _ method: String, _ path: String, form: [String: String]? = nil, csrf: Bool = true) async throws -> Int {
            var form = form
            if method == "POST", csrf, let session = client.cookies[ConsoleSessions.cookie] {
                form = (form ?? [:]).merging(["csrf": ConsoleSessions.csrf(for: session)]) { $1 }
            }
            return try await client.send(method, path, form: method == "POST" ? form ?? [:] : nil).status
        }

        /// Every audit entry after `id`: id, actor, action, record, detail.
        func entries(after id: Int) async throws -> [[String?]] {
            if TestBackend.current == .postgres { #expect(try server.chainAudit()) }
            return try await server.database.rows("SELECT id, actor, action, record_id, detail FROM audit WHERE id > ? ORDER BY id", [id])
        }

        func lastID() async throws -> Int {
            if TestBackend.current == .postgres { #expect(try server.chainAudit()) }
            return try await server.database.int("SELECT coalesce(max(id), 0) FROM audit") ?? 0
        }

        func remove() {
            laptop.remove()
            phone.remove()
        }
    }

    /// Runs each case on its own minute and checks its status and exactly its entries.
    static func run(_ cases: [Case], in world: World) async throws {
        for row in cases {
            try world.tick()
            let before = try await world.lastID()
            let status = try await row.send()
            #expect(status == row.status, "\(row.name): status \(status), expected \(row.status)")
            let entries = try await world.entries(after: before)
            let got = entries.map { "\($0[2] ?? "") by \($0[1] ?? "") on \($0[3] ?? "-")" }.sorted()
            #expect(got == row.expected.map(\.description).sorted(), "\(row.name): \(entries)")
            for expected in row.expected where !expected.detail.isEmpty {
                let match = entries.contains { entry in
                    entry[2] == expected.action && entry[1] == expected.actor && expected.detail.allSatisfy { (entry[4] ?? "").contains($0) }
                }
                #expect(match, "\(row.name): no \(expected) with \(expected.detail) in \(entries)")
            }
        }
    }

    @Test("the API: every referral, export and staff route, each role, allowed and denied, leaves the expected entry")
    func apiTable() async throws {
        let world = try await World()
        defer { world.remove() }
        let a = world.apiReferral.lowercased
        let b = world.consoleReferral.lowercased
        let (jane, ian, ada) = (world.janeToken, world.ianToken, world.adaToken)
        let missing = "01a2072c-dead-7000-8000-00000000beef"
        func refused(_ name: String, _ method: String, _ path: String, _ route: String, record: String? = nil) -> [Case] {
            var rows = [
                Case(name: "\(name), anonymous", status: 401, expected: [Self.refusal("anonymous", route, 401, record: record, method: method)]) {
                    try await world.api(method, path, nil)
                },
            ]
            let roles: [(String, String, String?)] = [("jane", jane, nil), ("ian", ian, world.ianDevice), ("ada", ada, world.adaDevice)]
            for (user, token, device) in roles where !(Self.allowed[route] ?? []).contains(user) {
                rows.append(Case(name: "\(name), \(user)", status: 403, expected: [Self.refusal(user, route, 403, record: record, method: method)]) {
                    try await world.api(method, path, token, device: device)
                })
            }
            return rows
        }
        let rating = RatingRequest(rating: "amber", reason: "Bruising, no disclosure", feedback: false)
        let decision = DecisionRequest(outcome: ReferralOutcome.childInNeedAssessment.rawValue, note: "An assessment will start this week.")
        let match = MatchDecisionRequest(
            person: world.person(world.apiReferral, world.apiChild), other: world.person(world.consoleReferral, world.consoleChild),
            decision: "confirm", reason: "Same name, same school; checked")
        var cases: [Case] = []
        cases += refused("the queue", "GET", "v1/intake/queue", "/v1/intake/queue")
        cases.append(Case(name: "the queue, ian", status: 200, expected: [.init(action: "read-queue", actor: "ian", record: nil)]) {
            try await world.api("GET", "v1/intake/queue", ian)
        })
        cases += refused("a referral", "GET", "v1/intake/referrals/\(a)", "/v1/intake/referrals/{id}", record: a)
        cases.append(Case(name: "a referral, ian", status: 200, expected: [.init(action: "read", actor: "ian", record: a)]) {
            try await world.api("GET", "v1/intake/referrals/\(a)", ian)
        })
        cases.append(Case(name: "a referral that is not there, ian", status: 404, expected: [Self.refusal("ian", "/v1/intake/referrals/{id}", 404, record: missing)]) {
            try await world.api("GET", "v1/intake/referrals/\(missing)", ian)
        })
        cases.append(Case(name: "an id that is not a referral id, ian", status: 404, expected: [Self.refusal("ian", "/v1/intake/referrals/{id}", 404)]) {
            try await world.api("GET", "v1/intake/referrals/not-an-id", ian)
        })
        cases += refused("a referral's history", "GET", "v1/intake/referrals/\(a)/history", "/v1/intake/referrals/{id}/history", record: a)
        cases.append(Case(name: "a referral's history, ian", status: 200, expected: [.init(action: "read-history", actor: "ian", record: a)]) {
            try await world.api("GET", "v1/intake/referrals/\(a)/history", ian)
        })
        cases += refused("related referrals", "GET", "v1/intake/referrals/\(a)/related", "/v1/intake/referrals/{id}/related", record: a)
        for (user, token) in [("ian", ian), ("ada", ada)] {
            cases.append(Case(name: "related referrals, \(user)", status: 200, expected: [.init(action: "read-related", actor: user, record: a)]) {
                try await world.api("GET", "v1/intake/referrals/\(a)/related", token)
            })
        }
        cases += refused("acknowledge", "POST", "v1/intake/referrals/\(a)/acknowledge", "/v1/intake/referrals/{id}/acknowledge", record: a)
        cases.append(Case(name: "acknowledge, ian", status: 200, expected: [.init(action: "acknowledge", actor: "ian", record: a)]) {
            try await world.api("POST", "v1/intake/referrals/\(a)/acknowledge", ian, device: world.ianDevice)
        })
        cases += refused("rate", "POST", "v1/intake/referrals/\(a)/rating", "/v1/intake/referrals/{id}/rating", record: a)
        cases.append(Case(name: "rate, ian", status: 200, expected: [.init(action: "rate", actor: "ian", record: a)]) {
            try await world.api("POST", "v1/intake/referrals/\(a)/rating", ian, device: world.ianDevice, body: rating)
        })
        cases += refused("decide", "POST", "v1/intake/referrals/\(a)/decision", "/v1/intake/referrals/{id}/decision", record: a)
        cases.append(Case(name: "decide, ian", status: 200, expected: [.init(action: "decide", actor: "ian", record: a)]) {
            try await world.api("POST", "v1/intake/referrals/\(a)/decision", ian, device: world.ianDevice, body: decision)
        })
        cases += refused("seen", "POST", "v1/intake/referrals/\(a)/seen", "/v1/intake/referrals/{id}/seen", record: a)
        cases.append(Case(name: "seen, ian, after Jane adds to the referral", status: 200, expected: [
            .init(action: "push", actor: "jane", record: nil), .init(action: "seen-decision-stands", actor: "ian", record: a),
        ]) {
            _ = try world.laptop.store.set("concern.when", of: world.apiReferral, to: "Last Tuesday")
            try await world.laptop.sync()
            return try await world.api("POST", "v1/intake/referrals/\(a)/seen", ian, device: world.ianDevice, body: SeenRequest(note: "Nothing new for the decision"))
        })
        cases += refused("a match decision", "POST", "v1/intake/matches", "/v1/intake/matches")
        cases.append(Case(name: "a match decision, ian", status: 200, expected: [
            .init(action: "confirm-match", actor: "ian", record: a), .init(action: "confirm-match", actor: "ian", record: b),
        ]) {
            try await world.api("POST", "v1/intake/matches", ian, device: world.ianDevice, body: match)
        })
        cases += refused("the conflicts", "GET", "v1/conflicts", "/v1/conflicts")
        cases.append(Case(name: "the conflicts, ada", status: 200, expected: [.init(action: "read-conflicts", actor: "ada", record: nil)]) {
            try await world.api("GET", "v1/conflicts", ada)
        })
        let conflict = world.conflicts[a]!
        cases += refused("resolve", "POST", "v1/conflicts/\(conflict)/resolve", "/v1/conflicts/{id}/resolve")
        cases.append(Case(name: "resolve, ada: the entry names the conflict's referral", status: 200, expected: [
            .init(action: "resolve", actor: "ada", record: a, detail: ["conflict=\(conflict)", "device=\(world.adaDevice)"]),
        ]) {
            try await world.api("POST", "v1/conflicts/\(conflict)/resolve", ada, device: world.adaDevice, body: ResolutionRequest(pick: 1, value: nil, reason: "The school's note"))
        })
        cases.append(Case(name: "resolve a conflict that is not there, ada", status: 404, expected: [
            .init(action: "denied", actor: "ada", record: nil, detail: ["route=/v1/conflicts/{id}/resolve", "status=404", "conflict=\(missing)"]),
        ]) {
            try await world.api("POST", "v1/conflicts/\(missing)/resolve", ada, device: world.adaDevice, body: ResolutionRequest(pick: 1, value: nil, reason: "x"))
        })
        cases += refused("revoke", "POST", "v1/devices/\(world.spare[0])/revoke", "/v1/devices/{id}/revoke")
        cases.append(Case(name: "revoke, ada", status: 200, expected: [
            .init(action: "revoke", actor: "ada", record: nil, detail: ["device=\(world.spare[0])"]),
        ]) {
            try await world.api("POST", "v1/devices/\(world.spare[0])/revoke", ada)
        })
        cases += refused("export", "GET", "v1/export", "/v1/export")
        for (user, token) in [("ian", ian), ("ada", ada)] {
            cases.append(Case(name: "export, \(user)", status: 200, expected: [.init(action: "export", actor: user, record: nil, detail: ["records="])]) {
                try await world.api("GET", "v1/export", token)
            })
        }
        cases += refused("pull", "GET", "v1/pull", "/v1/pull").filter { $0.status == 401 }
        cases.append(Case(name: "pull, jane: a practitioner's own referrals, no entry", status: 200, expected: []) {
            try await world.api("GET", "v1/pull", jane)
        })
        for (user, token) in [("ian", ian), ("ada", ada)] {
            cases.append(Case(name: "pull, \(user)", status: 200, expected: [.init(action: "pull", actor: user, record: nil, detail: ["records="])]) {
                try await world.api("GET", "v1/pull", token)
            })
        }
        cases.append(Case(name: "push, anonymous", status: 401, expected: [Self.refusal("anonymous", "/v1/push", 401, method: "POST")]) {
            try await world.api("POST", "v1/push", nil)
        })
        for (user, token) in [("ian", ian), ("ada", ada)] {
            cases.append(Case(name: "push, \(user)", status: 403, expected: [Self.refusal(user, "/v1/push", 403, method: "POST")]) {
                try await world.api("POST", "v1/push", token)
            })
        }
        cases.append(Case(name: "push, jane", status: 200, expected: [.init(action: "push", actor: "jane", record: nil, detail: ["records=\(a)"])]) {
            _ = try world.laptop.store.set("concern.where", of: world.apiReferral, to: "At school")
            try await world.laptop.sync()
            return 200
        })
        cases.append(Case(name: "a token that is not valid", status: 401, expected: [Self.refusal("anonymous", "/v1/intake/queue", 401)]) {
            try await world.api("GET", "v1/intake/queue", "fld_not_a_token")
        })
        try await Self.run(cases, in: world)
        #expect(try world.server.command(["audit", "verify"]).status == 0)
        // The referral's own trail finds the API's resolution now (it had no referral id).
        let trail = try world.server.command(["audit", "show", "--record", a]).output
        for action in ["read", "acknowledge", "rate", "decide", "seen-decision-stands", "confirm-match", "resolve", "denied"] {
            #expect(trail.contains(" \(action) "), "no \(action) in the referral's trail: \(trail)")
        }
        let everything = try await world.server.database.strings("SELECT detail FROM audit").compactMap { $0 }.joined(separator: "\n")
        for words in ["bruise", "Bruise", "Amy", "school's note", "Last Tuesday", "At school"] {
            #expect(!everything.contains(words), "referral content in the audit trail: \(words)")
        }
    }

    /// Who may use each API route (`AuditTableTests.apiTable`); every other role is refused with 403.
    static let allowed: [String: Set<String>] = [
        "/v1/intake/queue": ["ian"], "/v1/intake/referrals/{id}": ["ian"], "/v1/intake/referrals/{id}/history": ["ian"],
        "/v1/intake/referrals/{id}/related": ["ian", "ada"], "/v1/intake/referrals/{id}/acknowledge": ["ian"],
        "/v1/intake/referrals/{id}/rating": ["ian"], "/v1/intake/referrals/{id}/decision": ["ian"], "/v1/intake/referrals/{id}/seen": ["ian"],
        "/v1/intake/matches": ["ian", "ada"], "/v1/conflicts": ["ada"], "/v1/conflicts/{id}/resolve": ["ada"], "/v1/devices/{id}/revoke": ["ada"],
        "/v1/export": ["ian", "ada"], "/v1/pull": ["jane", "ian", "ada"],
    ]

    @Test("the console: every page that reads or writes referral data or is a staff action, each role, allowed and denied, leaves the expected entry")
    func consoleTable() async throws {
        let world = try await World()
        defer { world.remove() }
        let b = world.consoleReferral.lowercased
        let a = world.apiReferral.lowercased
        let (ian, ada, nobody) = (world.ian, world.ada, world.nobody)
        let missing = "01a2072c-dead-7000-8000-00000000beef"
        /// Refused for anyone with no session (a 303 to the sign-in page, as `anonymous`) and for the signed-in role(s) not in `allowed`.
        func refused(_ name: String, _ method: String, _ path: String, _ route: String, record: String? = nil, allowed: Set<String>) -> [Case] {
            var rows = [
                Case(name: "\(name), no session", status: 303, expected: [Self.refusal("anonymous", route, 303, record: record, method: method)]) {
                    try await world.console(nobody, method, path)
                },
            ]
            for (user, client) in [("ian", ian), ("ada", ada)] where !allowed.contains(user) {
                rows.append(Case(name: "\(name), \(user)", status: 403, expected: [Self.refusal(user, route, 403, record: record, method: method)]) {
                    try await world.console(client, method, path)
                })
            }
            return rows
        }
        var cases: [Case] = []
        cases.append(Case(name: "sign-in with a wrong password", status: 401, expected: [Self.refusal("anonymous", "/console/sign-in", 401, method: "POST")]) {
            try await ConsoleBoundaryTests.Client(world.server.url).signIn("ian", "not the password").status
        })
        cases.append(Case(name: "sign-in by a practitioner (the password right)", status: 403, expected: [Self.refusal("jane", "/console/sign-in", 403, method: "POST")]) {
            try await ConsoleBoundaryTests.Client(world.server.url).signIn("jane", world.password).status
        })
        cases.append(Case(name: "the console's home address with no session: the way in, not a refusal", status: 303, expected: []) {
            try await world.console(nobody, "GET", "/console")
        })
        cases.append(Case(name: "the sign-in page: no entry", status: 200, expected: []) {
            try await world.console(nobody, "GET", "/console/sign-in")
        })
        cases += refused("the queue", "GET", "/console/queue", "/console/queue", allowed: ["ian"])
        cases.append(Case(name: "the queue, ian", status: 200, expected: [.init(action: "read-queue", actor: "ian", record: nil)]) {
            try await world.console(ian, "GET", "/console/queue")
        })
        cases += refused("the queue as CSV", "GET", "/console/queue.csv", "/console/queue.csv", allowed: ["ian"])
        cases.append(Case(name: "the queue as CSV, ian", status: 200, expected: [.init(action: "download-queue", actor: "ian", record: nil)]) {
            try await world.console(ian, "GET", "/console/queue.csv")
        })
        cases += refused("a referral", "GET", "/console/referrals/\(b)", "/console/referrals/{id}", record: b, allowed: ["ian", "ada"])
        for (user, client) in [("ian", ian), ("ada", ada)] {
            cases.append(Case(name: "a referral, \(user)", status: 200, expected: [
                .init(action: "read", actor: user, record: b), .init(action: "read-related", actor: user, record: b),
            ]) {
                try await world.console(client, "GET", "/console/referrals/\(b)")
            })
        }
        cases.append(Case(name: "a referral that is not there, ian", status: 404, expected: [Self.refusal("ian", "/console/referrals/{id}", 404, record: missing)]) {
            try await world.console(ian, "GET", "/console/referrals/\(missing)")
        })
        cases += refused("a referral's history", "GET", "/console/referrals/\(b)/history", "/console/referrals/{id}/history", record: b, allowed: ["ian", "ada"])
        cases.append(Case(name: "a referral's history, ada", status: 200, expected: [.init(action: "read-history", actor: "ada", record: b)]) {
            try await world.console(ada, "GET", "/console/referrals/\(b)/history")
        })
        cases += refused("the history as CSV", "GET", "/console/referrals/\(b)/history.csv", "/console/referrals/{id}/history.csv", record: b, allowed: ["ian", "ada"])
        cases.append(Case(name: "the history as CSV, ian", status: 200, expected: [.init(action: "download-history", actor: "ian", record: b)]) {
            try await world.console(ian, "GET", "/console/referrals/\(b)/history.csv")
        })
        let chronology = "/console/referrals/\(b)/children/children.\(world.consoleChild.lowercased)"
        cases += refused("a child's chronology", "GET", chronology, "/console/referrals/{id}/children/{item}", record: b, allowed: ["ian", "ada"])
        cases.append(Case(name: "a child's chronology, ian", status: 200, expected: [.init(action: "read-chronology", actor: "ian", record: b)]) {
            try await world.console(ian, "GET", chronology)
        })
        for (action, path, form, audited, done) in [
            ("acknowledge", "acknowledge", [String: String](), "acknowledge", 303),
            ("rate", "rating", ["rating": "green", "reason": "Known to the school nurse"], "rate", 303),
            ("decide", "decision", ["outcome": ReferralOutcome.adviceGiven.rawValue, "note": "Advice given to the school"], "decide", 303),
        ] {
            let route = "/console/referrals/{id}/\(path)"
            cases += refused(action, "POST", "/console/referrals/\(b)/\(path)", route, record: b, allowed: ["ian"])
            cases.append(Case(name: "\(action) without its CSRF token, ian", status: 403, expected: [Self.refusal("ian", route, 403, record: b, method: "POST")]) {
                try await world.console(ian, "POST", "/console/referrals/\(b)/\(path)", form: form, csrf: false)
            })
            cases.append(Case(name: "\(action), ian", status: done, expected: [.init(action: audited, actor: "ian", record: b, detail: ["device=web-console"])]) {
                try await world.console(ian, "POST", "/console/referrals/\(b)/\(path)", form: form)
            })
        }
        cases += refused("seen", "POST", "/console/referrals/\(b)/seen", "/console/referrals/{id}/seen", record: b, allowed: ["ian"])
        cases.append(Case(name: "seen, ian, after Jane adds to the referral", status: 303, expected: [
            .init(action: "push", actor: "jane", record: nil), .init(action: "seen-decision-stands", actor: "ian", record: b),
        ]) {
            _ = try world.laptop.store.set("concern.when", of: world.consoleReferral, to: "Last Tuesday")
            try await world.laptop.sync()
            return try await world.console(ian, "POST", "/console/referrals/\(b)/seen", form: ["note": "Nothing new for the decision"])
        })
        let pair = [
            "person": world.person(world.consoleReferral, world.consoleChild), "other": world.person(world.apiReferral, world.apiChild),
            "decision": "reject", "reason": "Different schools; checked",
        ]
        cases += refused("a match decision", "POST", "/console/referrals/\(b)/matches", "/console/referrals/{id}/matches", record: b, allowed: ["ian", "ada"])
        cases.append(Case(name: "a match decision, ada", status: 303, expected: [
            .init(action: "reject-match", actor: "ada", record: b), .init(action: "reject-match", actor: "ada", record: a),
        ]) {
            try await world.console(ada, "POST", "/console/referrals/\(b)/matches", form: pair)
        })
        cases += refused("the conflicts", "GET", "/console/conflicts", "/console/conflicts", allowed: ["ada"])
        cases.append(Case(name: "the conflicts, ada", status: 200, expected: [.init(action: "read-conflicts", actor: "ada", record: nil)]) {
            try await world.console(ada, "GET", "/console/conflicts")
        })
        let conflict = world.conflicts[b]!
        cases += refused("resolve", "POST", "/console/conflicts/\(conflict)/resolve", "/console/conflicts/{id}/resolve", allowed: ["ada"])
        cases.append(Case(name: "resolve, ada: the same entry as the API's", status: 303, expected: [
            .init(action: "resolve", actor: "ada", record: b, detail: ["conflict=\(conflict)", "device=web-console"]),
        ]) {
            try await world.console(ada, "POST", "/console/conflicts/\(conflict)/resolve", form: ["pick": "2", "reason": "The clinic's note"])
        })
        cases += refused("the devices", "GET", "/console/devices", "/console/devices", allowed: ["ada"])
        cases.append(Case(name: "the devices, ada: no referral data, no entry", status: 200, expected: []) {
            try await world.console(ada, "GET", "/console/devices")
        })
        let device = world.spare[1]
        cases += refused("the revoke confirmation", "GET", "/console/devices/\(device)/revoke", "/console/devices/{id}/revoke", allowed: ["ada"])
        cases.append(Case(name: "the revoke confirmation, ada: no entry until it is confirmed", status: 200, expected: []) {
            try await world.console(ada, "GET", "/console/devices/\(device)/revoke")
        })
        cases += refused("revoke", "POST", "/console/devices/\(device)/revoke", "/console/devices/{id}/revoke", allowed: ["ada"])
        cases.append(Case(name: "revoke, ada", status: 303, expected: [.init(action: "revoke", actor: "ada", record: nil, detail: ["device=\(device)"])]) {
            try await world.console(ada, "POST", "/console/devices/\(device)/revoke", form: ["confirm": "yes"])
        })
        cases += refused("the audit trail", "GET", "/console/audit", "/console/audit", allowed: ["ada"])
        cases.append(Case(name: "the audit trail, ada", status: 200, expected: [.init(action: "read-audit", actor: "ada", record: nil)]) {
            try await world.console(ada, "GET", "/console/audit")
        })
        try await Self.run(cases, in: world)
        #expect(try world.server.command(["audit", "verify"]).status == 0)
        let everything = try await world.server.database.strings("SELECT detail FROM audit").compactMap { $0 }.joined(separator: "\n")
        for words in ["bruise", "Bruise", "Amy", "clinic's note", "Last Tuesday", "school nurse"] {
            #expect(!everything.contains(words), "referral content in the audit trail: \(words)")
        }
    }
}

extension AuditTableTests {
    @Test("a flood of refusals: the first ten a minute for each actor and address are written, the rest summarised at the next refusal after the window, or when the server stops; nothing else is held up")
    func flood() async throws {
        // The sign-in limits raised, so that the anonymous flood is answered 401, not 429.
        let server = try ServerProcess(clock: "2026-11-23T09:00:00Z", options: ["--auth-failure-limit", "1000", "--auth-failure-address-limit", "1000"])
        let ian = try server.addUser("ian", role: .intake)
        let before = try await Self.count(server)
        for _ in 0..<25 {
            #expect(try await server.exchange("GET", "v1/intake/queue", token: nil).0 == 401)
        }
        // Another actor from the same address has a window of its own.
        for _ in 0..<3 {
            #expect(try await server.exchange("GET", "v1/conflicts", token: ian).0 == 403)
        }
        // An allowed request is never held up by the flood.
        #expect(try await server.exchange("GET", "v1/intake/queue", token: ian).0 == 200)
        var rows = try await Self.denied(server, after: before)
        #expect(rows.filter { $0[0] == "anonymous" }.count == 10, "\(rows)")
        #expect(rows.filter { $0[0] == "ian" }.count == 3, "\(rows)")
        #expect(!rows.contains { ($0[1] ?? "").contains("more denied") })

        // The window closes; the next refusal brings the summary first.
        try server.setTime("2026-11-23T09:01:01Z")
        #expect(try await server.exchange("GET", "v1/intake/queue", token: nil).0 == 401)
        rows = try await Self.denied(server, after: before)
        let summaries = rows.filter { ($0[1] ?? "").hasPrefix("… and ") }
        #expect(summaries.count == 1 && summaries[0][0] == "anonymous", "\(rows)")
        #expect(summaries.first?[1]?.contains("… and 15 more denied from=127.0.0.1 between 2026-11-23T09:00:00") == true, "\(summaries)")
        #expect(rows.filter { $0[0] == "anonymous" && !($0[1] ?? "").hasPrefix("… and ") }.count == 11)

        // Twelve more in the new window, then a graceful stop: the two left over are summarised before the server exits.
        for _ in 0..<12 {
            #expect(try await server.exchange("GET", "v1/intake/queue", token: nil).0 == 401)
        }
        server.stop()
        rows = try await Self.denied(server, after: before)
        let last = rows.filter { ($0[1] ?? "").hasPrefix("… and ") }
        #expect(last.count == 2 && last[1][1]?.hasPrefix("… and 3 more denied from=127.0.0.1") == true, "\(last)")
        #expect(try server.command(["audit", "verify"]).status == 0)
    }

    static func count(_ server: ServerProcess) async throws -> Int {
        if TestBackend.current == .postgres { #expect(try server.chainAudit()) }
        return try await server.database.int("SELECT coalesce(max(id), 0) FROM audit") ?? 0
    }

    /// The `denied` entries after `id`: actor, detail.
    static func denied(_ server: ServerProcess, after id: Int) async throws -> [[String?]] {
        if TestBackend.current == .postgres { #expect(try server.chainAudit()) }
        return try await server.database.rows("SELECT actor, detail FROM audit WHERE action = 'denied' AND id > ? ORDER BY id", [id])
    }

    @Test("operator commands record the operating-system user as the actor, and --reason (or --by) as the reason, never instead of it")
    func operatorActor() async throws {
        let server = try ServerProcess()
        let ian = try server.addUser("ian", role: .intake)
        let device = "01a2072c-0000-7000-8000-0000000000c1"
        #expect(try await server.exchange("POST", "v1/register", token: ian, device: device, body: try JSONEncoder().encode(RegisterRequest(device: device))).0 == 200)
        let commands: [([String], String, String?)] = [
            (["user", "disable", "ian", "--by", "team manager"], "disable-user", "reason=team manager"),
            (["user", "enable", "ian", "--reason", "back from leave"], "enable-user", "reason=back from leave"),
            (["user", "set-role", "ian", "admin", "--reason", "covers the rota\nsecond line"], "set-role", "reason=covers the rota ↵ second line"),
            (["user", "rotate-token", "ian"], "rotate-token", nil),
            (["device", "revoke", device, "--by", "lost on a train"], "revoke", "reason=lost on a train"),
            (["export", "--since", "0"], "export", nil),
            (["key", "rotate", "--receipt-key", server.receiptKey, "--by", "yearly rotation"], "rotate-receipt-key", "reason=yearly rotation"),
            (["form", "publish", try server.formWithChildWords(), "--reason", "the concern section asks for the child's words"], "form-publish",
             "reason=the concern section asks for the child's words"),
        ]
        for (arguments, _, _) in commands {
            let result = try server.commandWithErrors(arguments)
            #expect(result.status == 0, "\(arguments): \(result.error)")
        }
        #expect(try server.chainAudit())
        let rows = try await server.database.rows("SELECT actor, action, detail FROM audit ORDER BY id")
        #expect(rows.first?[1] == "add-user" && rows.first?[0] == Self.osUser && rows.first?[2] == "user=ian role=intake", "\(rows)")
        for (arguments, action, reason) in commands {
            let row = rows.last { $0[1] == action }
            #expect(row?[0] == Self.osUser, "\(arguments): \(String(describing: row))")
            if let reason { #expect(row?[2]?.hasSuffix(reason) == true, "\(arguments): \(String(describing: row))") }
            #expect(row?[0] != "team manager" && row?[0] != "operator")
        }
        // The device's row and the user's say who did it: the operating-system user.
        let devices = try server.command(["device", "list"]).output
        #expect(devices.contains("by \(Self.osUser)"), "\(devices)")
        // --help says so.
        let help = try server.commandWithErrors(["device", "revoke", "--help"]).output
        #expect(help.contains("--reason") && help.contains("operating-system user"), "\(help)")
    }
}
