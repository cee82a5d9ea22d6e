// The load test (issue 15, item 1): figures for docs/reliability.md, printed;
// exits non-zero when a change any device saw acknowledged is missing from the
// server or there twice, or when a request failed.
//
//   scripts/sync-load [DEVICES] [--postgres] [--instances 2]   (starts everything)
//   .build/release/sync-load --url http://127.0.0.1:8080[,http://127.0.0.1:8081] --tokens FILE \
//       (--db server.sqlite | --postgres postgres://…) [--devices 1000] [--rounds 3]
//       [--concurrency 100 | --arrivals PER_SECOND [--think MS] [--seed N]]
//
// Against running servers (one or more instances of one store, devices spread
// over them in turn), it simulates DEVICES devices. Each registers with a user
// token from FILE (one a line, device i takes line i mod count) and gets its
// own device token; drafts a referral of 60 fields and pushes it; submits it
// (`@status = submitted`); then ROUNDS times pulls everything new and pushes
// one edit. Requests go over URLSession, which keeps connections open between
// a device's requests. At most CONCURRENCY devices work at once. Reported:
// requests/s, p50/p95/p99/max latency per route (HdrHistogram, microsecond
// resolution), errors by status, and the check: every change acknowledged to
// any device (`applied`, or a `duplicate` of one) is in the server's
// `change_log` exactly once, read from the store itself (`--db` or `--postgres`).
//
// Two ways to load the server:
// - closed (`--concurrency N`, the default): N devices work at once, each
//   starting its next request as soon as its last reply comes, and a new
//   device as soon as one finishes. It finds the most the server can do
//   (its throughput), and the latency is then mostly waiting in line: by
//   Little's law, N in flight at X requests/s wait about N / X seconds.
// - open (`--arrivals R`): devices arrive at random (a Poisson process, R a
//   second on average, seeded by `--seed`) whatever the server's state, as
//   practitioners do at 9 a.m., and each pauses `--think` ms (default 1000)
//   between its requests, as the person using it does. It offers about
//   (3 + 2 × ROUNDS) × R requests a second; the latency then says how
//   quickly a server under that load answers a sync. A request is timed from
//   the moment the device sends it, so a slow server cannot hide its delay
//   by holding back the next arrivals (no "coordinated omission").
import BenchmarkSupport
import Foundation
import GRDB
import Histogram
import Logging
import PostgresNIO
import SyncCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let arguments = CommandLine.arguments
let options = BenchmarkOptions(tool: "sync-load", arguments: arguments)
func option(_ name: String) -> String? { options.value(name) }
func fail(_ message: String) -> Never { options.fail(message) }
guard let urlList = option("--url") else { fail("--url http://127.0.0.1:PORT[,…] is required: the running server instances.") }
let servers = urlList.split(separator: ",").map { URL(string: String($0))! }
guard let tokenFile = option("--tokens"), let tokenText = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
    fail("--tokens FILE is required: user tokens from `sync-server user add`, one a line.")
}
let userTokens = tokenText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
guard !userTokens.isEmpty else { fail("'\(tokenFile)' holds no token.") }
let sqlitePath = option("--db")
let postgresURL = option("--postgres")
guard sqlitePath != nil || postgresURL != nil else { fail("--db FILE or --postgres URL is required: the store the check reads.") }
let deviceCount = Int(option("--devices") ?? "1000") ?? 1000
let rounds = Int(option("--rounds") ?? "3") ?? 3
let concurrency = Int(option("--concurrency") ?? "100") ?? 100
/// Open load: devices arriving a second, on average (nil: closed load).
let arrivals: Double? = option("--arrivals").map { text in
    guard let rate = Double(text), rate > 0, rate.isFinite else { fail("--arrivals needs a number of devices a second above 0, not '\(text)'.") }
    return rate
}
let think = Int(option("--think") ?? (arrivals == nil ? "0" : "1000")) ?? 0
let seed = UInt64(option("--seed") ?? "1") ?? 1

// MARK: Measurements

enum Route: String, CaseIterable, Sendable { case register, push, pull }

/// Latencies per route, errors by status, acknowledged changes: shared by every device task.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var histograms = Dictionary(uniqueKeysWithValues: Route.allCases.map {
        ($0, Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three))
    })
    private(set) var requests = 0
    private(set) var errors: [String: Int] = [:]
    private(set) var acknowledged: [String: Set<Int64>] = [:]
    private(set) var devicesDone = 0
    private var inFlight = 0
    /// The most requests in flight at once.
    private(set) var peakInFlight = 0

    func sending() { lock.withLock { inFlight += 1; peakInFlight = max(peakInFlight, inFlight) } }
    func replied() { lock.withLock { inFlight -= 1 } }

    func record(_ route: Route, microseconds: UInt64) {
        lock.withLock {
            _ = histograms[route]!.record(max(1, microseconds))
            requests += 1
        }
    }

    func error(_ what: String) { lock.withLock { errors[what, default: 0] += 1 } }
    func acknowledge(device: String, seqs: [Int64]) { lock.withLock { acknowledged[device, default: []].formUnion(seqs) } }
    func deviceDone() { lock.withLock { devicesDone += 1 } }
    var snapshot: (requests: Int, errors: Int, done: Int) { lock.withLock { (requests, errors.values.reduce(0, +), devicesDone) } }
    func histogram(_ route: Route) -> Histogram<UInt64> { lock.withLock { histograms[route]! } }
}

let tally = Tally()
let session: URLSession = {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.httpMaximumConnectionsPerHost = arrivals == nil ? concurrency : deviceCount
    configuration.timeoutIntervalForRequest = 120
    return URLSession(configuration: configuration)
}()

struct LoadError: Error { let what: String }

/// One request, timed into its route's histogram; the reply's body when it is a 200.
func call(_ route: Route, _ server: URL, _ path: String, token: String, device: String, body: Data?) async throws -> Data {
    var request = URLRequest(url: URL(string: server.absoluteString + "/" + path)!)
    request.httpMethod = body == nil ? "GET" : "POST"
    request.httpBody = body
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    request.setValue(device, forHTTPHeaderField: "Field-Device")
    if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
    let start = ContinuousClock.now
    let data: Data
    let response: URLResponse
    tally.sending()
    defer { tally.replied() }
    do {
        (data, response) = try await session.data(for: request)
    } catch {
        tally.error("\(route.rawValue): no reply")
        throw LoadError(what: "\(error)")
    }
    let elapsed = ContinuousClock.now - start
    tally.record(route, microseconds: UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000))
    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
    guard status == 200 else {
        tally.error("\(route.rawValue): \(status)")
        throw LoadError(what: "\(route.rawValue) \(status)")
    }
    return data
}

// MARK: A device

func runDevice(_ index: Int) async {
    defer { tally.deviceDone() }
    let server = servers[index % servers.count]
    let userToken = userTokens[index % userTokens.count]
    let ids = UUIDv7Generator(clock: SystemClock())
    let device = ids.next().lowercased
    let record = ids.next().lowercased
    let children = [ids.next().lowercased, ids.next().lowercased]
    var seq: Int64 = 0
    var wall = Int64(Date().timeIntervalSince1970 * 1000)
    func change(_ path: String, _ value: String?, base: Int64 = 0) -> WireChange {
        seq += 1
        wall += 1
        return WireChange(seq: seq, record: record, path: path, value: value, baseRevision: base, hlc: HLCStamp(wall: wall, counter: 0, device: device).description)
    }
    /// The person's pause before the device's next request (`--think`).
    func pause() async { if think > 0 { try? await Task.sleep(for: .milliseconds(think)) } }
    do {
        let registered = try JSONDecoder().decode(RegisterResponse.self, from: try await call(
            .register, server, "v1/register", token: userToken, device: device, body: try JSONEncoder().encode(RegisterRequest(device: device))))
        let token = registered.deviceToken ?? userToken
        var revisions: [String: Int64] = [:]
        func push(_ changes: [WireChange]) async throws {
            await pause()
            let reply = try JSONDecoder().decode(PushResponse.self, from: try await call(
                .push, server, "v1/push", token: token, device: device, body: try JSONEncoder().encode(PushRequest(device: device, changes: changes))))
            let sent = Dictionary(uniqueKeysWithValues: changes.map { ($0.seq, $0) })
            var kept: [Int64] = []
            for outcome in reply.outcomes {
                let first = outcome.outcome == .duplicate ? outcome.original : outcome.outcome
                guard first == .applied, let change = sent[outcome.seq] else { continue }
                kept.append(outcome.seq)
                if let revision = outcome.current?.revision ?? outcome.revision { revisions[change.path] = revision }
            }
            tally.acknowledge(device: device, seqs: kept)
        }
        // The draft: the two children, then text fields up to 60 changes (BenchmarkReferral: the plain fields, then the children's).
        var draft = [change("@kind", "social-care")] + children.map { change("children.\($0)", ItemMarker.present) }
        for path in BenchmarkReferral.textPaths(children: children, count: 60 - draft.count) { draft.append(change(path, "Device \(index) wrote about sixty characters for \(path.suffix(14))")) }
        try await push(draft)
        try await push([change("@status", "submitted")])
        var cursor: Int64 = 0
        for round in 0..<rounds {
            var more = true
            while more {
                await pause()
                let page = try JSONDecoder().decode(PullResponse.self, from: try await call(
                    .pull, server, "v1/pull?since=\(cursor)&limit=1000", token: token, device: device, body: nil))
                cursor = page.cursor
                more = page.more
            }
            let path = "concern.summary"
            try await push([change(path, "Round \(round) from device \(index)", base: revisions[path] ?? 0)])
        }
    } catch {
        // Counted by `call` (or a reply that did not decode: counted here).
        if !(error is LoadError) { tally.error("unreadable reply") }
    }
}

// MARK: Run

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
print("sync-load on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)")
print("servers: \(servers.map(\.absoluteString).joined(separator: ", ")); store: \(postgresURL.map { "PostgreSQL \($0)" } ?? "SQLite \(sqlitePath!)")")
let requestsPerDevice = 3 + 2 * rounds
if let arrivals {
    print(String(
        format: "%d devices (%d users), %d rounds of pull + edit after the draft and the submission; open load: %.1f devices arriving a second (seed %llu), %d ms between a device's requests, about %.0f requests/s offered",
        deviceCount, userTokens.count, rounds, arrivals, seed, think, arrivals * Double(requestsPerDevice)))
} else {
    print("\(deviceCount) devices (\(userTokens.count) users), \(rounds) rounds of pull + edit after the draft and the submission; closed load: \(concurrency) at once" + (think > 0 ? ", \(think) ms between a device's requests" : ""))
}

/// When each device arrives under open load, in seconds from the start: a
/// Poisson process of rate `arrivals` (exponential gaps, SplitMix64 from `seed`).
func arrivalTimes(count: Int, rate: Double, seed: UInt64) -> [Double] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / Double(1 << 53)
    }
    var time = 0.0
    return (0..<count).map { _ in
        defer { time += -log(uniform()) / rate }
        return time
    }
}

let started = ContinuousClock.now
let progress = Task {
    while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(1))
        let now = tally.snapshot
        FileHandle.standardError.write(Data("\r\(now.done)/\(deviceCount) devices done, \(now.requests) requests, \(now.errors) errors   ".utf8))
    }
}
if let arrivals {
    let times = arrivalTimes(count: deviceCount, rate: arrivals, seed: seed)
    await withTaskGroup(of: Void.self) { group in
        for (index, time) in times.enumerated() {
            group.addTask {
                try? await Task.sleep(until: started + .milliseconds(Int64(time * 1000)), clock: .continuous)
                await runDevice(index)
            }
        }
    }
} else {
    await withTaskGroup(of: Void.self) { group in
        var next = 0
        while next < min(concurrency, deviceCount) {
            let index = next
            group.addTask { await runDevice(index) }
            next += 1
        }
        while await group.next() != nil, next < deviceCount {
            let index = next
            group.addTask { await runDevice(index) }
            next += 1
        }
    }
}
progress.cancel()
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
FileHandle.standardError.write(Data("\n".utf8))

print(String(format: "%d requests in %.1f s: %.0f requests/s, at most %d in flight", tally.requests, seconds, Double(tally.requests) / seconds, tally.peakInFlight))
print("route      count     p50 ms    p95 ms    p99 ms    max ms")
for route in Route.allCases {
    let histogram = tally.histogram(route)
    func ms(_ value: UInt64) -> String { String(format: "%9.1f", Double(value) / 1000) }
    print(route.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "%7d", histogram.totalCount)
        + " " + ms(histogram.valueAtPercentile(50)) + " " + ms(histogram.valueAtPercentile(95)) + " " + ms(histogram.valueAtPercentile(99)) + " " + ms(histogram.max))
}
print("errors: " + (tally.errors.isEmpty ? "none" : tally.errors.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ")))

// MARK: The check: every acknowledged change exactly once in the server's log

var counts: [String: Int] = [:]  // "device/seq" → writes in change_log
let devices = Array(tally.acknowledged.keys)
if let sqlitePath {
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: sqlitePath, configuration: configuration)
    try await queue.read { db in
        for row in try Row.fetchAll(db, sql: "SELECT device_id, seq, count(*) AS n FROM change_log WHERE kind = 'write' AND seq IS NOT NULL GROUP BY device_id, seq") {
            counts["\(row["device_id"] as String)/\(row["seq"] as Int64)"] = row["n"]
        }
    }
} else if let postgresURL {
    counts = try await postgresCounts(postgresURL)
}

/// `device/seq` → how many writes `change_log` holds for it, on PostgreSQL.
func postgresCounts(_ text: String) async throws -> [String: Int] {
    guard let url = URLComponents(string: text), let host = url.host, let user = url.user else { fail("'\(text)' is not a postgres://user@host:port/db URL.") }
    let logger = Logger(label: "sync-load")
    let connection = try await PostgresConnection.connect(
        configuration: .init(host: host, port: url.port ?? 5432, username: user, password: url.password, database: String(url.path.dropFirst()), tls: .disable),
        id: 1, logger: logger)
    var counts: [String: Int] = [:]
    let rows = try await connection.query(
        PostgresQuery(unsafeSQL: "SELECT device_id, seq, count(*) FROM change_log WHERE kind = 'write' AND seq IS NOT NULL GROUP BY device_id, seq"), logger: logger)
    for try await (device, seq, count) in rows.decode((String, Int64, Int64).self) { counts["\(device)/\(seq)"] = Int(count) }
    try await connection.close()
    return counts
}

var checked = 0
var lost = 0
var twice = 0
for device in devices {
    for seq in tally.acknowledged[device]! {
        checked += 1
        switch counts["\(device)/\(seq)"] ?? 0 {
        case 0: lost += 1
        case 1: break
        default: twice += 1
        }
    }
}
print("check: \(checked) acknowledged changes from \(devices.count) devices: \(lost) lost, \(twice) applied twice")
exit(lost == 0 && twice == 0 && tally.errors.isEmpty ? 0 : 1)
