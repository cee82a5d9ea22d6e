// The sync benchmark: figures for docs/performance.md, printed, never asserted.
//
//   swift build -c release && .build/release/sync-bench
//
// 1. Push throughput: 1,000 referrals × 60 fields through the real server
//    (HTTP on loopback, batches of 1,000, each committed with synchronous=FULL
//    before the reply), next to a raw SQLite insert of the same rows (value
//    upsert + history row, same batches, same durability) in the same run.
// 2. One-field sync round trip: `SyncClient.sync()` after one edit (health
//    check, push, pull), and the push's request bytes.
// 3. Cold pull of 100,000 field versions to a new device.
// 8. `field sync` end to end (`--field PATH`, default: the `field` beside this
//    benchmark): a device home with 80 referrals × 60 fields waiting, one
//    `field sync` process timed from spawn to exit (start-up, push, pull of
//    its own writes, every commit), next to a raw SQLite insert of the same
//    rows in the same run (issue 30's target: at least 0.25× raw).
// `--only 2,3,8` runs only the sections listed (the server starts either way).
// 6. The front door's search: 10,000 submitted referrals (`--search-referrals N`),
//    `GET /v1/intake/queue?q=…` for a child's name, a reference and an NHS
//    number, next to the same queue read without a search in the same run
//    (target: under 100 ms, issue 27).
// 7. Matching a child across referrals (issue 28): the synthetic corpus
//    (`--match-referrals N`, 10,000 referrals of about 6,000 made-up children
//    with planted repeats) pushed through the server, then every referral's
//    related referrals read (`GET /v1/intake/referrals/{id}/related`):
//    precision and recall of the planted same-child pairs (targets: recall
//    >= 0.95 at precision >= 0.9); then the index topped up to
//    `--match-people N` (100,000) people and the related referrals of 200
//    referrals timed (target: under 50 ms). `--match-referrals 0` leaves it out.
//
// `--postgres postgres://user@host:port/db` runs the server on that (empty)
// PostgreSQL database instead of a SQLite file, and adds:
// 1b. a raw batched insert of the same rows into the same cluster (one
//     `unnest` statement per batch of 1,000, each batch its own transaction);
// 4. instances: 8 devices pushing different referrals at once through one
//    server instance, then through two on the same database;
// 5. a one-change push of another referral through instance two while
//    instance one commits 1,000-change batches, next to those batches' time.
import BenchmarkSupport
import Foundation
import GRDB
import Logging
import PostgresNIO
import SyncCore
import SyntheticReferrals
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: String) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return arguments[index + 1]
}
let serverBinary = option("--server", URL(fileURLWithPath: arguments[0]).deletingLastPathComponent().appendingPathComponent("sync-server").path)
let referralCount = Int(option("--referrals", "1000"))!
let postgres = arguments.contains("--postgres") ? option("--postgres", "") : nil
let fieldsPerReferral = 60
let work = FileManager.default.temporaryDirectory.appendingPathComponent("sync-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
// `--keep` leaves the work folder (the server's database) for a look afterwards.
let keep = arguments.contains("--keep")
let only = Swift.Set(option("--only", "").split(separator: ",").compactMap { Int($0) })
func wants(_ section: Int) -> Bool { only.isEmpty || only.contains(section) }
defer { if keep { print("kept: \(work.path)") } else { try? FileManager.default.removeItem(at: work) } }

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

func run(_ executable: String, _ args: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = args
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `--db FILE`, or `--postgres URL` when the benchmark was given one.
func storage(_ database: String) -> [String] {
    postgres.map { ["--postgres", $0] } ?? ["--db", database]
}

/// Starts the real server on a free port; returns it and its address.
func startServer(database: String) throws -> (Process, URL) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: serverBinary)
    process.arguments = ["serve", "--port", "0"] + storage(database)
    // Its receipt key (made at the first start) beside the database, whichever backend; any build takes this.
    process.currentDirectoryURL = URL(fileURLWithPath: database).deletingLastPathComponent()
    var environment = ProcessInfo.processInfo.environment
    environment["LOG_LEVEL"] = "error"
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    var buffer = Data()
    while !buffer.contains(UInt8(ascii: "\n")) { buffer.append(pipe.fileHandleForReading.availableData) }
    let line = String(decoding: buffer, as: UTF8.self).split(separator: "\n")[0]
    return (process, URL(string: String(line.split(separator: " ").last!))!)
}

// 60 distinct paths of a social-care referral: plain text fields, then the fields of two children (BenchmarkReferral).
func referralChanges(record: String, children: [String], seq: inout Int64, hlc: Int64) -> [WireChange] {
    BenchmarkReferral.changes(record: record, children: children, fields: fieldsPerReferral, seq: &seq, wall: hlc, device: "bench") {
        "A realistic sentence of about sixty characters for \($0.suffix(12))"
    }
}

func makeChanges(referrals: Int, seed: UInt64) -> [WireChange] {
    var seq: Int64 = 0
    var all: [WireChange] = []
    all.reserveCapacity(referrals * fieldsPerReferral)
    let generator = UUIDv7Generator(clock: SteppingClock(start: Date(timeIntervalSince1970: 1_795_000_000 + Double(seed))), seed: seed)
    for index in 0..<referrals {
        let ids = (0..<4).map { _ in generator.next().lowercased }
        all += referralChanges(record: ids[0], children: Array(ids[1...]), seq: &seq, hlc: 1_795_000_000_000 + Int64(index))
    }
    return all
}

func push(_ changes: [WireChange], device: String, transport: HTTPTransport, batch: Int = 1_000) async throws -> Int {
    var requestBytes = 0
    for start in stride(from: 0, to: changes.count, by: batch) {
        let body = try JSONEncoder().encode(PushRequest(device: device, changes: Array(changes[start..<min(start + batch, changes.count)])))
        requestBytes += body.count
        let (status, reply) = try await transport.post("v1/push", body: body)
        guard status == 200 else { fatalError("push failed: \(status) \(String(decoding: reply, as: UTF8.self))") }
    }
    return requestBytes
}

func register(_ device: String, transport: HTTPTransport) async throws {
    let (status, _) = try await transport.post("v1/register", body: try JSONEncoder().encode(RegisterRequest(device: device)))
    precondition(status == 200, "register failed")
}

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
print("sync-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)")
print("server: \(serverBinary), storage: \(postgres.map { "PostgreSQL \($0)" } ?? "SQLite (synchronous = FULL)")")

// MARK: 1. Push throughput, and raw SQLite in the same run

let database = work.appendingPathComponent("server.sqlite").path
let token = try run(serverBinary, ["user", "add", "bench", "--role", "practitioner"] + storage(database))
let (server, url) = try startServer(database: database)
defer { server.terminate() }
let transport = HTTPTransport(server: url, token: token, timeout: 300)
let device = UUIDv7Generator().next().lowercased
try await register(device, transport: transport)

let changes = makeChanges(referrals: wants(1) ? referralCount : 0, seed: 1)
var pushBytes = 0
let pushSeconds = try await seconds { pushBytes = try await push(changes, device: device, transport: transport) }
let pushRate = Double(changes.count) / pushSeconds

var rawConfiguration = Configuration()
rawConfiguration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
let raw = try DatabasePool(path: work.appendingPathComponent("raw.sqlite").path, configuration: rawConfiguration)
// GRDB's WAL set-up puts the pool's writer back to NORMAL after `prepareDatabase`: FULL again, as the server's.
try raw.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
try await raw.write { db in
    try db.execute(sql: """
        CREATE TABLE fields (record_id TEXT NOT NULL, path TEXT NOT NULL, value TEXT, revision INTEGER NOT NULL, PRIMARY KEY (record_id, path)) WITHOUT ROWID;
        CREATE TABLE history (revision INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, path TEXT NOT NULL, value TEXT);
        """)
}
let rawSeconds = try await seconds {
    for start in stride(from: 0, to: changes.count, by: 1_000) {
        try await raw.write { db in
            let history = try db.cachedStatement(sql: "INSERT INTO history (record_id, path, value) VALUES (?, ?, ?)")
            let upsert = try db.cachedStatement(sql: "INSERT INTO fields (record_id, path, value, revision) VALUES (?, ?, ?, ?) ON CONFLICT (record_id, path) DO UPDATE SET value = excluded.value, revision = excluded.revision")
            for change in changes[start..<min(start + 1_000, changes.count)] {
                try history.execute(arguments: [change.record, change.path, change.value])
                try upsert.execute(arguments: [change.record, change.path, change.value, db.lastInsertedRowID])
            }
        }
    }
}
let rawRate = Double(changes.count) / rawSeconds
if wants(1) {
print("")
print("1. push of \(referralCount) referrals × \(fieldsPerReferral) fields = \(changes.count) changes, batches of 1,000, durable before reply")
print(String(format: "   through the server: %.2f s, %.0f changes/s (%.1f MB of requests)", pushSeconds, pushRate, Double(pushBytes) / 1e6))
print(String(format: "   raw SQLite, same rows, same batches: %.2f s, %.0f rows/s", rawSeconds, rawRate))
print(String(format: "   ratio: %.2f of raw SQLite", pushRate / rawRate))
if let postgres {
    let rawPostgres = try await RawPostgres(url: postgres)
    let rawPostgresSeconds = try await seconds { try await rawPostgres.insert(changes, batch: 1_000) }
    let rawPostgresRate = Double(changes.count) / rawPostgresSeconds
    print(String(format: "   raw PostgreSQL, same rows, same batches (unnest, one transaction each): %.2f s, %.0f rows/s", rawPostgresSeconds, rawPostgresRate))
    print(String(format: "   ratio: %.2f of raw PostgreSQL (target ≥ 0.5)", pushRate / rawPostgresRate))
    try await rawPostgres.close()
} else {
    print("   (target ≥ 0.5 of raw)")
}
}

// MARK: 2. One-field sync round trip

let storePath = work.appendingPathComponent("device.sqlite").path
let store = try LocalStore(path: storePath, author: "bench", passphrase: "bench passphrase")
let client = SyncClient(store: store, transport: transport, server: url.absoluteString)
_ = try await client.register()
let record = try store.createReferral(kind: .socialCare)
_ = try await client.sync()
var roundTrips: [Double] = []
for round in 0..<200 {
    try store.set("concern.summary", of: record, to: "Round trip \(round)")
    roundTrips.append(try await seconds { _ = try await client.sync() } * 1000)
}
let oneChange = try JSONEncoder().encode(PushRequest(device: store.deviceID, changes: [
    WireChange(seq: 1, record: record.lowercased, path: "concern.summary", value: "Round trip 199", baseRevision: 60_001, hlc: HLCStamp(wall: 1_795_000_000_000, counter: 0, device: store.deviceID).description),
]))
print("")
print("2. one-field sync (health check + push + pull, 3 HTTP requests), 200 rounds")
print(String(format: "   median %.2f ms, p90 %.2f ms, max %.2f ms (target median < 5 ms); push request body %d bytes", percentile(roundTrips, 0.5), percentile(roundTrips, 0.9), roundTrips.max()!, oneChange.count))

// MARK: 3. Cold pull of 100,000 field versions

let puller = try run(serverBinary, ["user", "add", "puller", "--role", "practitioner"] + storage(database))
let pullerTransport = HTTPTransport(server: url, token: puller, timeout: 300)
let seeder = UUIDv7Generator().next().lowercased
try await register(seeder, transport: pullerTransport)
let versions = makeChanges(referrals: 100_000 / fieldsPerReferral + 1, seed: 2).prefix(100_000)
_ = try await push(Array(versions), device: seeder, transport: pullerTransport)
let fresh = try LocalStore(path: work.appendingPathComponent("fresh.sqlite").path, author: "puller", passphrase: "bench passphrase")
let freshClient = SyncClient(store: fresh, transport: pullerTransport, server: url.absoluteString)
_ = try await freshClient.register()
var pulled = 0
let pullSeconds = try await seconds { pulled = try await freshClient.sync(pageSize: 5_000).pulled }
print("")
print("3. cold pull to a new device, pages of 5,000, each stored in one transaction")
print(String(format: "   %d field versions in %.2f s (%.0f/s) (target < 1 s)", pulled, pullSeconds, Double(pulled) / pullSeconds))

// MARK: 8. `field sync` end to end, next to raw SQLite

let fieldBinary = option("--field", URL(fileURLWithPath: arguments[0]).deletingLastPathComponent().appendingPathComponent("field").path)
if wants(8), FileManager.default.isExecutableFile(atPath: fieldBinary) {
    let home = work.appendingPathComponent("field-home")
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    // The store is made here with the testing key cost, so the figure leaves
    // out the passphrase's deliberate stretching (one scrypt derivation).
    let homeStore = try LocalStore(path: home.appendingPathComponent("field.sqlite").path, author: "bench", passphrase: "bench passphrase", keyDerivation: .testing)
    let fieldPaths = ReferralForm.standard.patterns
        .filter { !$0.section.isGroup && $0.field.type == .text && $0.section.applies(to: .socialCare) }.map(\.pattern)
    let childTexts = BenchmarkReferral.childFields
    for n in 0..<80 {
        let record = try homeStore.createReferral(kind: .socialCare)
        var written = try homeStore.pushableCount() - n * fieldsPerReferral
        var child = 0
        for path in fieldPaths where written < fieldsPerReferral {
            _ = try homeStore.set(path, of: record, to: "A realistic sentence of about sixty characters, referral \(n) \(path.suffix(9))")
            written += 1
        }
        while written < fieldsPerReferral {
            child += 1
            _ = try homeStore.addItem(to: "children", of: record)
            written += 1
            for key in childTexts where written < fieldsPerReferral {
                _ = try homeStore.set("children.\(child).\(key)", of: record, to: "Child \(child) of referral \(n): \(key)")
                written += 1
            }
        }
    }
    let waiting = try homeStore.pendingChanges()
    let fieldToken = try run(serverBinary, ["user", "add", "field-bench-user", "--role", "practitioner"] + storage(database))
    var environment = ProcessInfo.processInfo.environment
    environment["FIELD_HOME"] = home.path
    environment["FIELD_PASSPHRASE"] = "bench passphrase"
    environment["FIELD_USER"] = "bench"
    func field(_ args: [String]) throws -> (status: Int32, seconds: Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fieldBinary)
        process.arguments = args
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let start = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - start
        return (process.terminationStatus, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    let login = try field(["login", "--server", url.absoluteString, "--token", fieldToken])
    precondition(login.status == 0, "field login failed")
    let fieldSync = try field(["sync"])
    precondition(fieldSync.status == 0, "field sync failed")
    let emptySyncs = try (0..<5).map { _ in try field(["sync"]).seconds }
    let left = try LocalStore(path: home.appendingPathComponent("field.sqlite").path, author: "bench", passphrase: "bench passphrase").pendingChanges().count
    // Raw SQLite: the same rows (history insert + value upsert each), 500 a transaction as the device pushes them.
    let rawField = try DatabaseQueue(path: work.appendingPathComponent("raw-field.sqlite").path, configuration: rawConfiguration)
    try rawField.write { db in
        try db.execute(sql: """
            CREATE TABLE fields (record_id TEXT NOT NULL, path TEXT NOT NULL, value TEXT, revision INTEGER NOT NULL, PRIMARY KEY (record_id, path)) WITHOUT ROWID;
            CREATE TABLE history (revision INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, path TEXT NOT NULL, value TEXT);
            """)
    }
    let rawFieldSeconds = try await seconds {
        for start in stride(from: 0, to: waiting.count, by: 500) {
            try rawField.write { db in
                let history = try db.cachedStatement(sql: "INSERT INTO history (record_id, path, value) VALUES (?, ?, ?)")
                let upsert = try db.cachedStatement(sql: "INSERT INTO fields (record_id, path, value, revision) VALUES (?, ?, ?, ?) ON CONFLICT (record_id, path) DO UPDATE SET value = excluded.value, revision = excluded.revision")
                for change in waiting[start..<min(start + 500, waiting.count)] {
                    try history.execute(arguments: [change.record.lowercased, change.path, change.value])
                    try upsert.execute(arguments: [change.record.lowercased, change.path, change.value, db.lastInsertedRowID])
                }
            }
        }
    }
    let syncRate = Double(waiting.count) / fieldSync.seconds
    let rawFieldRate = Double(waiting.count) / rawFieldSeconds
    print("")
    print("8. `field sync` end to end: \(waiting.count) changes of 80 referrals waiting, one process (\(fieldBinary))")
    print(String(format: "   field sync: %.3f s, %.0f changes/s (start-up, push, pull, every commit; testing key cost); %d left pending", fieldSync.seconds, syncRate, left))
    print(String(format: "   field sync with nothing to send (start-up, health check, empty pull), median of 5: %.1f ms", percentile(emptySyncs, 0.5) * 1000))
    print(String(format: "   raw SQLite, same rows, 500 a transaction: %.3f s, %.0f rows/s", rawFieldSeconds, rawFieldRate))
    print(String(format: "   ratio: %.3f of raw SQLite (target ≥ 0.25)", syncRate / rawFieldRate))
}

// MARK: 6. The front door's search over 10,000 submitted referrals

let searchReferrals = wants(6) ? Int(option("--search-referrals", "10000"))! : 0
let searcher = try run(serverBinary, ["user", "add", "searcher", "--role", "practitioner"] + storage(database))
let searcherTransport = HTTPTransport(server: url, token: searcher, timeout: 300)
let searcherDevice = UUIDv7Generator().next().lowercased
try await register(searcherDevice, transport: searcherTransport)
let names = ["Amy", "Kai", "Mia", "Sam", "Zoë", "Ben", "Ava", "Leo", "Isla", "Noah"]
let surnames = ["Smith", "Brown", "O'Brien", "Jones", "Patel", "Khan", "Green", "Taylor", "Wilson", "Evans"]
var submittedChanges: [WireChange] = []
var searchSeq: Int64 = 0
let searchIDs = UUIDv7Generator(clock: SteppingClock(start: Date(timeIntervalSince1970: 1_795_100_000)), seed: 6)
for index in 0..<searchReferrals {
    let record = searchIDs.next().lowercased
    let child = searchIDs.next().lowercased
    let nhs = String(format: "%010d", 1_000_000_000 + index * 7)
    let values: [(String, String)] = [
        ("@kind", "social-care"), ("referrer.name", "Practitioner \(index % 97)"), ("referrer.agency", "Agency \(index % 40)"),
        ("concern.summary", "A realistic sentence of about sixty characters for referral \(index)"),
        ("children.\(child)", ItemMarker.present), ("children.\(child).full_name", "\(names[index % 10]) \(surnames[(index / 10) % 10]) \(index)"),
        ("children.\(child).nhs_number", nhs), ("@status", "submitted"),
    ]
    for (path, value) in values {
        searchSeq += 1
        submittedChanges.append(WireChange(
            seq: searchSeq, record: record, path: path, value: value, baseRevision: 0,
            hlc: HLCStamp(wall: 1_795_100_000_000 + Int64(index), counter: Int32(searchSeq % 9999), device: searcherDevice).description))
    }
}
_ = try await push(submittedChanges, device: searcherDevice, transport: searcherTransport)
let intakeToken = try run(serverBinary, ["user", "add", "bench-intake", "--role", "intake"] + storage(database))
let intakeTransport = HTTPTransport(server: url, token: intakeToken, timeout: 300)
func timedQueue(_ query: [URLQueryItem]) async throws -> (ms: Double, entries: [QueueEntry]) {
    var entries: [QueueEntry] = []
    let elapsed = try await seconds {
        let (status, body) = try await intakeTransport.get("v1/intake/queue", query: query)
        precondition(status == 200, "queue failed: \(status)")
        entries = try JSONDecoder().decode([QueueEntry].self, from: body)
    }
    return (elapsed * 1000, entries)
}
let anyReference = try await timedQueue([URLQueryItem(name: "view", value: "all"), URLQueryItem(name: "q", value: "Zoë O'Brien 4")]).entries.first?.reference ?? "F-0000-0000"
let searches: [(String, [URLQueryItem])] = [
    ("a child's name, accents and punctuation folded (\"zoe obrien 4\")", [URLQueryItem(name: "view", value: "all"), URLQueryItem(name: "q", value: "zoe obrien 4")]),
    ("a reference (\(anyReference))", [URLQueryItem(name: "view", value: "all"), URLQueryItem(name: "q", value: anyReference)]),
    ("an NHS number, spaced (\"100 000 0700\")", [URLQueryItem(name: "view", value: "all"), URLQueryItem(name: "q", value: "100 000 0700")]),
    ("the default view, no search (baseline)", [URLQueryItem(name: "view", value: "active")]),
]
print("")
print("6. the front door's search over \(searchReferrals) submitted referrals (GET /v1/intake/queue, 15 runs each, after one warm-up)")
for (label, query) in searches {
    _ = try await timedQueue(query)
    var times: [Double] = []
    var found = 0
    for _ in 0..<15 {
        let (ms, entries) = try await timedQueue(query)
        times.append(ms)
        found = entries.count
    }
    print(String(format: "   %@: median %.1f ms, p90 %.1f ms, %d found (target < 100 ms)", label, percentile(times, 0.5), percentile(times, 0.9), found))
}

// MARK: 7. Matching a child across referrals

/// Pushes a corpus's referrals as one practitioner's device, numbering its changes after `after`; returns how many changes, and the last seq.
func pushCorpus(_ corpus: ReferralCorpus, device: String, transport: HTTPTransport, after: Int64) async throws -> (changes: Int, last: Int64) {
    var changes: [WireChange] = []
    var seq = after
    for (index, referral) in corpus.referrals.enumerated() {
        // Items before their values, the status last, as a device sends them.
        let paths = referral.fields.keys.sorted { ($0 == "@status" ? 2 : $0.split(separator: ".").count == 2 ? 0 : 1, $0) < ($1 == "@status" ? 2 : $1.split(separator: ".").count == 2 ? 0 : 1, $1) }
        for path in paths {
            seq += 1
            changes.append(WireChange(
                seq: seq, record: referral.id, path: path, value: referral.fields[path], baseRevision: 0,
                hlc: HLCStamp(wall: 1_795_200_000_000 + Int64(index), counter: Int32(seq % 9999), device: device).description))
        }
    }
    return (try await push(changes, device: device, transport: transport), seq)
}

/// One referral's related referrals, and the time it took (ms).
func timedRelated(_ id: String) async throws -> (ms: Double, related: RelatedReferrals) {
    var related: RelatedReferrals?
    let elapsed = try await seconds {
        let (status, body) = try await intakeTransport.get("v1/intake/referrals/\(id)/related", query: [])
        precondition(status == 200, "related failed: \(status) \(String(decoding: body, as: UTF8.self))")
        related = try JSONDecoder().decode(RelatedReferrals.self, from: body)
    }
    return (elapsed * 1000, related!)
}

let matchReferrals = wants(7) ? Int(option("--match-referrals", "10000"))! : 0
let matchPeople = Int(option("--match-people", "100000"))!
func matching() async throws {
let matcher = try run(serverBinary, ["user", "add", "matcher", "--role", "practitioner"] + storage(database))
let matcherTransport = HTTPTransport(server: url, token: matcher, timeout: 600)
let matcherDevice = UUIDv7Generator().next().lowercased
try await register(matcherDevice, transport: matcherTransport)
let corpus = ReferralCorpus(referrals: matchReferrals, seed: 28)
let (corpusBytes, corpusSeq) = try await pushCorpus(corpus, device: matcherDevice, transport: matcherTransport, after: 0)

var predicted = Set<[String]>()
var corpusTimes: [Double] = []
let corpusStart = Date()
for referral in corpus.referrals {
    let (ms, related) = try await timedRelated(referral.id)
    corpusTimes.append(ms)
    for child in related.children {
        for match in child.matches where match.kind == .sameNHSNumber || match.kind == .possible {
            predicted.insert([child.person, match.person].sorted())
        }
    }
}
let truth = corpus.sameChildPairs
let right = predicted.intersection(truth).count
print("")
print("7. matching a child across referrals (GET /v1/intake/referrals/{id}/related)")
print(String(format: "   corpus: %d referrals of %d made-up children (%d changes, %.1f MB pushed); %d planted same-child pairs, %d suggested, %d right",
             corpus.referrals.count, corpus.childCount, Int(corpusSeq), Double(corpusBytes) / 1_000_000, truth.count, predicted.count, right))
print(String(format: "   precision %.3f (target >= 0.9), recall %.3f (target >= 0.95); every referral read in %.1f s, median %.1f ms",
             predicted.isEmpty ? 1 : Double(right) / Double(predicted.count), truth.isEmpty ? 1 : Double(right) / Double(truth.count),
             Date().timeIntervalSince(corpusStart), percentile(corpusTimes, 0.5)))

// Top the index up to `matchPeople` people with more made-up referrals (about 1.5 people each).
let indexed = corpus.referrals.reduce(0) { $0 + IndexedPerson.people(record: $1.id, fields: $1.fields).count } + searchReferrals
let more = max(0, Int(Double(matchPeople - indexed) / 1.5))
if more > 0 {
    let topUp = ReferralCorpus(referrals: more, seed: 2_800, first: 1_000_000)
    _ = try await pushCorpus(topUp, device: matcherDevice, transport: matcherTransport, after: corpusSeq)
}
var random = SplitMix(seed: 7)
var sampleTimes: [Double] = []
for _ in 0..<200 {
    let id = corpus.referrals[random.below(corpus.referrals.count)].id
    sampleTimes.append(try await timedRelated(id).ms)
}
let people = indexed + (more > 0 ? ReferralCorpus(referrals: more, seed: 2_800, first: 1_000_000).referrals.reduce(0) { $0 + IndexedPerson.people(record: $1.id, fields: $1.fields).count } : 0)
print(String(format: "   related referrals with about %d indexed people (200 referrals): median %.1f ms, p90 %.1f ms, p99 %.1f ms (target < 50 ms)",
             people, percentile(sampleTimes, 0.5), percentile(sampleTimes, 0.9), percentile(sampleTimes, 0.99)))
let queueWithIndex = try await timedQueue([URLQueryItem(name: "view", value: "active")])
print(String(format: "   the default queue view with that index: %.0f ms for %d referrals listed (their flags read from the whole index)",
             queueWithIndex.ms, queueWithIndex.entries.count))
}
if matchReferrals > 0 { try await matching() }


// MARK: 4 and 5. Instances on one PostgreSQL database

if postgres != nil {
    /// 8 devices, each pushing its own referrals in batches of 1,000, spread over `servers`.
    func concurrentPush(_ servers: [URL], referralsPerDevice: Int, seed: UInt64) async throws -> (seconds: Double, changes: Int) {
        var devices: [(HTTPTransport, String, [WireChange])] = []
        for index in 0..<8 {
            let token = try run(serverBinary, ["user", "add", "device-\(seed)-\(index)", "--role", "practitioner"] + storage(database))
            let transport = HTTPTransport(server: servers[index % servers.count], token: token, timeout: 300)
            let id = UUIDv7Generator().next().lowercased
            try await register(id, transport: transport)
            devices.append((transport, id, makeChanges(referrals: referralsPerDevice, seed: seed * 100 + UInt64(index))))
        }
        let total = devices.map(\.2.count).reduce(0, +)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Int.self) { group in
            for (transport, id, changes) in devices {
                group.addTask { try await push(changes, device: id, transport: transport) }
            }
            for try await _ in group {}
        }
        let elapsed = ContinuousClock.now - start
        return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, total)
    }

    let (second, secondURL) = try startServer(database: database)
    defer { second.terminate() }
    let perDevice = max(1, referralCount / 8)
    let one = try await concurrentPush([url], referralsPerDevice: perDevice, seed: 11)
    let two = try await concurrentPush([url, secondURL], referralsPerDevice: perDevice, seed: 12)
    print("")
    print("4. 8 devices pushing different referrals at once (\(perDevice) referrals × \(fieldsPerReferral) fields each), batches of 1,000")
    print(String(format: "   one instance:  %.2f s, %.0f changes/s", one.seconds, Double(one.changes) / one.seconds))
    print(String(format: "   two instances: %.2f s, %.0f changes/s (%.2f× one instance)", two.seconds, Double(two.changes) / two.seconds,
                 (Double(two.changes) / two.seconds) / (Double(one.changes) / one.seconds)))

    // 5. Batches through instance one; single changes through instance two meanwhile.
    let batchToken = try run(serverBinary, ["user", "add", "batcher", "--role", "practitioner"] + storage(database))
    let batcher = HTTPTransport(server: url, token: batchToken, timeout: 300)
    let batchDevice = UUIDv7Generator().next().lowercased
    try await register(batchDevice, transport: batcher)
    let batchChanges = makeChanges(referrals: 20 * 1_000 / fieldsPerReferral + 1, seed: 21).prefix(20_000)
    let singleToken = try run(serverBinary, ["user", "add", "single", "--role", "practitioner"] + storage(database))
    let single = HTTPTransport(server: secondURL, token: singleToken, timeout: 300)
    let singleDevice = UUIDv7Generator().next().lowercased
    try await register(singleDevice, transport: single)
    let singleRecord = UUIDv7Generator().next().lowercased
    let done = ManagedFlag()
    async let batchTimes: [Double] = {
        var times: [Double] = []
        for start in stride(from: 0, to: batchChanges.count, by: 1_000) {
            let slice = Array(batchChanges[batchChanges.startIndex + start..<min(batchChanges.startIndex + start + 1_000, batchChanges.endIndex)])
            times.append(try await seconds { _ = try await push(slice, device: batchDevice, transport: batcher) } * 1000)
        }
        done.set()
        return times
    }()
    var singles: [Double] = []
    var seq: Int64 = 0
    while !done.isSet {
        seq += 1
        let change = WireChange(seq: seq, record: singleRecord, path: "concern.summary", value: "Single change \(seq)", baseRevision: 0,
                                hlc: HLCStamp(wall: 1_795_000_000_000 + seq, counter: 0, device: singleDevice).description)
        singles.append(try await seconds { _ = try await push([change], device: singleDevice, transport: single) } * 1000)
    }
    let batches = try await batchTimes
    print("")
    print("5. one-change pushes of another referral through instance two while instance one commits 1,000-change batches")
    print(String(format: "   batches on instance one: %d, median %.1f ms", batches.count, percentile(batches, 0.5)))
    print(String(format: "   single pushes on instance two: %d, median %.1f ms, p90 %.1f ms (%.2f of a batch's median; target < 0.25)",
                 singles.count, percentile(singles, 0.5), percentile(singles, 0.9), percentile(singles, 0.5) / percentile(batches, 0.5)))
}

/// A flag set once, read from another task.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// The raw baseline on PostgreSQL: the same rows into a history table and a
/// fields table of the same cluster, one `unnest` statement per batch (the
/// history insert feeding the fields upsert), each batch its own transaction.
struct RawPostgres {
    let connection: PostgresConnection
    let logger = Logger(label: "sync-bench")

    init(url text: String) async throws {
        guard let url = URLComponents(string: text), let host = url.host, let user = url.user else { fatalError("bad --postgres URL \(text)") }
        let configuration = PostgresConnection.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password,
            database: String(url.path.dropFirst()), tls: .disable)
        connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        try await connection.query("DROP TABLE IF EXISTS raw_fields, raw_history", logger: logger)
        try await connection.query("CREATE TABLE raw_history (revision BIGSERIAL PRIMARY KEY, record_id TEXT NOT NULL, path TEXT NOT NULL, value TEXT)", logger: logger)
        try await connection.query("CREATE TABLE raw_fields (record_id TEXT NOT NULL, path TEXT NOT NULL, value TEXT, revision BIGINT NOT NULL, PRIMARY KEY (record_id, path))", logger: logger)
    }

    func insert(_ changes: [WireChange], batch: Int) async throws {
        for start in stride(from: 0, to: changes.count, by: batch) {
            let slice = changes[start..<min(start + batch, changes.count)]
            var binds = PostgresBindings()
            binds.append(slice.map(\.record))
            binds.append(slice.map(\.path))
            binds.append(slice.map { $0.value ?? "" })
            try await connection.query("BEGIN", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: """
                WITH h AS (
                    INSERT INTO raw_history (record_id, path, value) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
                    RETURNING revision, record_id, path, value)
                INSERT INTO raw_fields (record_id, path, value, revision) SELECT record_id, path, value, revision FROM h
                ON CONFLICT (record_id, path) DO UPDATE SET value = excluded.value, revision = excluded.revision
                """, binds: binds), logger: logger)
            try await connection.query("COMMIT", logger: logger)
        }
    }

    func close() async throws { try await connection.close() }
}
