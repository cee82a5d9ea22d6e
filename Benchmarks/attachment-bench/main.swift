// The attachment benchmark (issue 31): figures for docs/performance.md,
// "Attachments", printed, never asserted.
//
//   swift build -c release --product attachment-bench && swift build -c release --product sync-server
//   .build/release/attachment-bench [--rounds 5] [--megabytes 20] [--server PATH] [--keep]
//
// A real release `sync-server` (the one beside this benchmark, `--server`)
// on a SQLite file in a folder of its own, started with
// SYNC_BENCH_UPLOAD_SINK=1 (`POST /v1/bench/sink` reads a body and throws it
// away); devices are SyncCore's `LocalStore`, `SyncClient` and
// `HTTPTransport` in this process, real HTTP on 127.0.0.1.
//
// 1. Upload rate. Each round attaches a new file (`--megabytes` MB, 20 by
//    default, of new random bytes after a JPEG signature) to a referral the
//    server already has, so that the sync's only pending change is the
//    attachment, and syncs: the upload phase is timed from the start of the
//    offer (`POST /v1/attachments`) to the reply to the last chunk, seen
//    through a wrapper around the transport; the whole `sync` (health check,
//    upload, push of the attachment's three changes, pull) is timed too.
//    The baseline, alternated with it (which goes first swaps each round):
//    the same bytes POSTed by `HTTPTransport` in one request to the sink of
//    the same server. Target (issue 31): the upload at ≥ 0.5× the baseline.
// 1b. The storage floor: the same chunks inserted as blobs into a SQLite file
//    of this process (WAL, synchronous = FULL), in one transaction and in one
//    flushed transaction each, for what durable storage alone costs.
// 2. A cut at 60 %: a new file; the wrapper throws `TransportError.interrupted`
//    in place of the first chunk request made once 60 % of the file's bytes
//    were sent; the next sync, without the fault, sends the rest. Its share
//    of the file (`SyncSummary.attachmentBytesSent`) has the target ≤ 45 %.
// 3. Stored once: one file attached to a referral on each of two devices of
//    two practitioners, both synced; the server's `attachment_chunks` rows
//    and bytes for it, read from its SQLite file (read-only), next to the
//    file's chunk count.
import BenchmarkSupport
import Crypto
import Foundation
import GRDB
import SyncCore

let options = BenchmarkOptions(tool: "attachment-bench")
let rounds = Int(options.value("--rounds") ?? "5") ?? 0
let megabytes = Double(options.value("--megabytes") ?? "20") ?? 0
guard rounds >= 1 else { options.fail("--rounds must be a whole number from 1; got '\(options.value("--rounds") ?? "")'.") }
guard megabytes > 0, megabytes <= 25 else { options.fail("--megabytes must be above 0 and at most 25 (the form's limit a file is 25 MiB).") }
let fileBytes = Int(megabytes * 1_000_000)
let serverBinary = options.value("--server")
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sync-server").path
let keep = CommandLine.arguments.contains("--keep")
let work = FileManager.default.temporaryDirectory.appendingPathComponent("attachment-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { if keep { print("kept: \(work.path)") } else { try? FileManager.default.removeItem(at: work) } }

/// Ends the benchmark with exit status 1 when the attachments did not work
/// as they must (a file not sent whole, a retry that did not finish, a file
/// stored twice): figures are never asserted, behaviour is.
/// The server is stopped and the work folder removed first (`exit` runs no `defer`).
func broken(_ message: String) -> Never {
    FileHandle.standardError.write(Data("attachment-bench: \(message)\n".utf8))
    runningServer?.stop()
    if !keep { try? FileManager.default.removeItem(at: work) }
    exit(1)
}

/// The server `broken` stops.
nonisolated(unsafe) var runningServer: ServerProcess?

/// Seconds since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// MB/s (decimal megabytes) for `bytes` in `seconds`.
func rate(_ bytes: Int, _ seconds: Double) -> Double { Double(bytes) / 1e6 / seconds }

/// `count` bytes that start with a JPEG (JFIF) signature, `FF D8 FF E0`, and go on at random (SplitMix64 from the system's random seed).
func jpegLike(_ count: Int) -> Data {
    var state = UInt64.random(in: .min ... .max)
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        let words = raw.bindMemory(to: UInt64.self)
        for index in words.indices {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            words[index] = z ^ (z >> 31)
        }
    }
    bytes.replaceSubrange(0..<4, with: [0xFF, 0xD8, 0xFF, 0xE0])
    return Data(bytes)
}

/// The real transport, watched: when the upload phase starts and ends, the
/// bytes of every request body and of the chunks, and a cut on demand.
final class WatchedTransport: SyncTransport, @unchecked Sendable {
    let inner: HTTPTransport
    private let lock = NSLock()
    private var offerStart: ContinuousClock.Instant?
    private var lastChunkEnd: ContinuousClock.Instant?
    private var bodies = 0
    private var chunks = 0
    /// Each chunk request's round trip, in seconds, in order.
    private var chunkTimes: [Double] = []
    /// Chunk bytes after which the next chunk request fails, once; nil for no fault.
    private var cutAfter: Int?

    init(_ inner: HTTPTransport) { self.inner = inner }

    /// Forgets what was counted; `cutAfter`: the fault for what comes next.
    func reset(cutAfter: Int? = nil) {
        lock.withLock {
            offerStart = nil
            lastChunkEnd = nil
            chunkTimes = []
            bodies = 0
            chunks = 0
            self.cutAfter = cutAfter
        }
    }

    /// The upload phase's seconds (offer to last chunk reply), nil if there was none.
    var uploadSeconds: Double? {
        lock.withLock {
            guard let offerStart, let lastChunkEnd else { return nil }
            let elapsed = lastChunkEnd - offerStart
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    /// Bytes of every request body sent since `reset`, and of the chunks among them.
    var sent: (bodies: Int, chunks: Int) { lock.withLock { (bodies, chunks) } }

    /// Each chunk request's round trip since `reset`, in seconds, in order.
    var chunkSeconds: [Double] { lock.withLock { chunkTimes } }

    func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data) {
        try await inner.get(path, query: query)
    }

    func post(_ path: String, body: Data) async throws -> (status: Int, body: Data) {
        lock.withLock {
            if path == "v1/attachments", offerStart == nil { offerStart = .now }
            bodies += body.count
        }
        return try await inner.post(path, body: body)
    }

    func post(_ path: String, bytes: Data, contentType: String, headers: [String]) async throws -> (status: Int, body: Data) {
        let cut = lock.withLock { () -> Bool in
            guard let limit = cutAfter, chunks >= limit else { return false }
            cutAfter = nil
            return true
        }
        if cut { throw TransportError.interrupted("cut by attachment-bench after \(sent.chunks) bytes of chunks") }
        let start = ContinuousClock.now
        let reply = try await inner.post(path, bytes: bytes, contentType: contentType, headers: headers)
        let end = ContinuousClock.now
        lock.withLock {
            bodies += bytes.count
            chunks += bytes.count
            lastChunkEnd = end
            let elapsed = end - start
            chunkTimes.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return reply
    }
}

/// A device: a store of its own, registered with `token`'s user, its device token in its login, talking through a `WatchedTransport`.
struct BenchDevice {
    let store: LocalStore
    let client: SyncClient
    let transport: WatchedTransport
    let http: HTTPTransport

    init(name: String, token: String, server: URL) async throws {
        store = try LocalStore(
            path: work.appendingPathComponent("\(name).sqlite").path, author: name, passphrase: "attachment-bench passphrase",
            keyDerivation: .testing)
        let registering = SyncClient(store: store, transport: HTTPTransport(server: server, token: token, device: store.deviceID), server: server.absoluteString)
        let reply = try await registering.register()
        http = HTTPTransport(server: server, token: reply.deviceToken ?? token, device: store.deviceID, timeout: 300)
        transport = WatchedTransport(http)
        client = SyncClient(store: store, transport: transport, server: server.absoluteString)
        try store.saveLogin(ServerLogin(server: server.absoluteString, token: reply.deviceToken ?? token, user: reply.user, role: reply.role), lastSeq: reply.lastSeq)
    }

    /// A new referral, synced, so that a later sync carries only what is attached to it.
    func syncedReferral() async throws -> UUID {
        let id = try store.createReferral(kind: .socialCare)
        try store.set("concern.summary", of: id, to: "Attachment benchmark")
        _ = try await client.sync()
        return id
    }

    /// Writes `content` to a file and attaches it to `id`.
    func attach(_ content: Data, to id: UUID, label: String) throws -> AttachedFile {
        let file = work.appendingPathComponent("\(label).jpg")
        try content.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try store.attach(file: file.path, to: id, label: label)
    }
}

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
    .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
print("attachment-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)")
print("server: \(serverBinary), SQLite (synchronous = FULL); file: \(fileBytes) bytes, \(AttachmentChunks.count(of: Int64(fileBytes))) chunks of \(AttachmentChunks.size)")

let database = work.appendingPathComponent("server.sqlite").path
let storage = ["--db", database]
let server = try ServerProcess(binary: serverBinary, storage: storage, folder: work, environment: [BenchSinkName.variable: "1"])
runningServer = server
defer { server.stop() }
let device = try await BenchDevice(name: "jane", token: try ServerProcess.addUser("jane", binary: serverBinary, storage: storage), server: server.url)

/// The names the server's sink goes by.
enum BenchSinkName {
    static let variable = "SYNC_BENCH_UPLOAD_SINK"
    static let path = "v1/bench/sink"
}

// MARK: 1. Upload rate, alternated with a plain upload of the same bytes

struct Round {
    var upload = 0.0
    var sync = 0.0
    var baseline = 0.0
    /// The same bytes as 512 KiB POSTs to the sink, one after another, one connection each, as the chunks go.
    var chunkedSink = 0.0
    /// The attachment's chunk requests' round trips (s): the median, and the last (which checks the whole file).
    var chunkMedian = 0.0
    var lastChunk = 0.0
    /// The device's own work for the file's chunks, outside HTTP (s): reading and opening them from the store, and their SHA-256s.
    var openChunks = 0.0
    var hashChunks = 0.0
}
var measured: [Round] = []
print("")
print("1. \(fileBytes) bytes attached and synced (upload phase: offer to the last chunk's reply) next to the same bytes in one POST to /v1/bench/sink, \(rounds) rounds alternated")
print("   (and, for where the time goes, the same bytes as \(AttachmentChunks.count(of: Int64(fileBytes))) POSTs of at most \(AttachmentChunks.size) bytes to the sink, one after another; the three in turn, each round starting with the next)")
for index in 0..<rounds {
    let content = jpegLike(fileBytes)
    let id = try await device.syncedReferral()
    let attached = try device.attach(content, to: id, label: "round-\(index + 1)")
    var round = Round()
    func attachment() async throws {
        device.transport.reset()
        let start = ContinuousClock.now
        let summary = try await device.client.sync()
        round.sync = seconds(since: start)
        guard summary.attachmentsSent == 1, summary.attachmentBytesSent == Int64(fileBytes), let upload = device.transport.uploadSeconds else {
            broken("round \(index + 1): the sync sent \(summary.attachmentsSent ?? 0) attachment(s), \(summary.attachmentBytesSent ?? 0) bytes, not the whole file once")
        }
        round.upload = upload
        let times = device.transport.chunkSeconds
        round.chunkMedian = times.count > 1 ? median(Array(times.dropLast())) : 0
        round.lastChunk = times.last ?? 0
        // What the device does for each chunk besides sending it, again, on its own.
        var chunks: [Data] = []
        let opening = ContinuousClock.now
        for position in 0..<AttachmentChunks.count(of: Int64(fileBytes)) {
            chunks.append(try device.store.attachmentChunk(attached.reference, position: position))
        }
        round.openChunks = seconds(since: opening)
        let hashing = ContinuousClock.now
        var digests = 0
        for chunk in chunks { digests &+= Int(SHA256.hash(data: chunk).withUnsafeBytes { $0[0] }) }
        round.hashChunks = seconds(since: hashing)
        precondition(digests >= 0)
    }
    func chunkedSink() async throws {
        let start = ContinuousClock.now
        for position in 0..<AttachmentChunks.count(of: Int64(fileBytes)) {
            let range = AttachmentChunks.range(position, of: Int64(fileBytes))
            let (status, _) = try await device.http.post(BenchSinkName.path, bytes: content.subdata(in: range), contentType: "application/octet-stream", headers: [])
            guard status == 200 else { broken("the sink answered \(status) to chunk \(position)") }
        }
        round.chunkedSink = seconds(since: start)
    }
    func baseline() async throws {
        let start = ContinuousClock.now
        let (status, body) = try await device.http.post(BenchSinkName.path, bytes: content, contentType: "application/octet-stream", headers: [])
        round.baseline = seconds(since: start)
        guard status == 200, String(decoding: body, as: UTF8.self) == "{\"bytes\":\(fileBytes)}" else {
            broken("the sink answered \(status): \(String(decoding: body.prefix(200), as: UTF8.self)) (is the server started with \(BenchSinkName.variable)=1?)")
        }
    }
    let legs: [(String, () async throws -> Void)] = [("attachment", attachment), ("plain POST", baseline), ("chunked POSTs", chunkedSink)]
    for leg in 0..<legs.count { try await legs[(index + leg) % legs.count].1() }
    measured.append(round)
    print(String(format: "   round %d (%@ first): upload %.1f MB/s (%.3f s; whole sync %.3f s, %.1f MB/s), plain POST %.1f MB/s (%.3f s), ratio %.3f; chunked POSTs %.1f MB/s",
                 index + 1, legs[index % legs.count].0, rate(fileBytes, round.upload), round.upload, round.sync,
                 rate(fileBytes, round.sync), rate(fileBytes, round.baseline), round.baseline, round.baseline / round.upload, rate(fileBytes, round.chunkedSink)))
}
let uploadRate = median(measured.map { rate(fileBytes, $0.upload) })
let syncRate = median(measured.map { rate(fileBytes, $0.sync) })
let baselineRate = median(measured.map { rate(fileBytes, $0.baseline) })
print(String(format: "   medians: upload %.1f MB/s, whole sync %.1f MB/s, plain POST %.1f MB/s", uploadRate, syncRate, baselineRate))
print(String(format: "   ratio of medians: upload %.3f× the plain POST, whole sync %.3f× (target ≥ 0.5×); median of the rounds' ratios: upload %.3f×",
             uploadRate / baselineRate, syncRate / baselineRate, median(measured.map { $0.baseline / $0.upload })))
let chunkCount = AttachmentChunks.count(of: Int64(fileBytes))
print(String(format: "   where the upload's time goes (medians over the rounds): a chunk's round trip %.1f ms (a chunk POSTed to the sink: %.1f ms), the last chunk's %.1f ms (it completes the file: the server reads it back and hashes it whole);",
             1000 * median(measured.map(\.chunkMedian)), 1000 * median(measured.map(\.chunkedSink)) / Double(chunkCount), 1000 * median(measured.map(\.lastChunk))))
print(String(format: "   on the device, outside HTTP, for the %d chunks: reading and opening them from the store %.0f ms, their SHA-256s %.0f ms",
             chunkCount, 1000 * median(measured.map(\.openChunks)), 1000 * median(measured.map(\.hashChunks))))

// MARK: 1b. The storage floor: the chunks into a SQLite file of this process

/// Seconds to insert `content`'s chunks as blobs into a new SQLite file (WAL, synchronous = FULL, as the server's):
/// all in one transaction, or each in its own (flushed before the next, as the server's chunk route commits).
func rawInsert(_ content: Data, transactionPerChunk: Bool) throws -> Double {
    let path = work.appendingPathComponent("raw-\(UUID().uuidString).sqlite").path
    defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    var configuration = Configuration()
    configuration.prepareDatabase { db in
        _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
        try db.execute(sql: "PRAGMA synchronous = FULL")
    }
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    try queue.write { db in try db.execute(sql: "CREATE TABLE chunks (sha256 TEXT NOT NULL, position INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (sha256, position))") }
    let positions = 0..<AttachmentChunks.count(of: Int64(content.count))
    func insert(_ db: Database, _ position: Int) throws {
        try db.execute(
            sql: "INSERT INTO chunks (sha256, position, bytes) VALUES (?, ?, ?)",
            arguments: ["raw", position, content.subdata(in: AttachmentChunks.range(position, of: Int64(content.count)))])
    }
    let start = ContinuousClock.now
    if transactionPerChunk {
        for position in positions { try queue.write { try insert($0, position) } }
    } else {
        try queue.write { db in for position in positions { try insert(db, position) } }
    }
    return seconds(since: start)
}
var oneTransaction: [Double] = []
var perChunk: [Double] = []
for index in 0..<rounds {
    let content = jpegLike(fileBytes)
    if index % 2 == 0 {
        oneTransaction.append(try rawInsert(content, transactionPerChunk: false))
        perChunk.append(try rawInsert(content, transactionPerChunk: true))
    } else {
        perChunk.append(try rawInsert(content, transactionPerChunk: true))
        oneTransaction.append(try rawInsert(content, transactionPerChunk: false))
    }
}
print("")
print(String(format: "1b. the storage floor, in this process: the %d chunks as blobs into a new SQLite file (WAL, synchronous = FULL), %d rounds alternated", chunkCount, rounds))
print(String(format: "   one transaction: median %.3f s (%.1f MB/s); one transaction a chunk, each flushed: median %.3f s (%.1f MB/s)",
             median(oneTransaction), rate(fileBytes, median(oneTransaction)), median(perChunk), rate(fileBytes, median(perChunk))))

// MARK: 2. A cut at 60 %, then the retry

let cutID = try await device.syncedReferral()
_ = try device.attach(jpegLike(fileBytes), to: cutID, label: "cut")
let cutAt = Int((Double(fileBytes) * 0.6).rounded(.up))
device.transport.reset(cutAfter: cutAt)
var cutError = "none"
do {
    _ = try await device.client.sync()
} catch {
    cutError = "\(error)"
}
let beforeCut = device.transport.sent.chunks
device.transport.reset()
let retry = try await device.client.sync()
let retried = Int(retry.attachmentBytesSent ?? 0)
print("")
print("2. a cut at 60 %: the first chunk request after \(cutAt) of \(fileBytes) bytes fails (TransportError.interrupted), then a sync without the fault")
print("   the cut sync: \(beforeCut) bytes of chunks sent (\(String(format: "%.1f", 100 * Double(beforeCut) / Double(fileBytes))) %), then: \(cutError.prefix(160))")
print(String(format: "   the retry: %d bytes of chunks (%.1f %% of the file; target ≤ 45 %%), %d bytes of request bodies in all (offer, chunks, push); %d attachment(s) received",
             retried, 100 * Double(retried) / Double(fileBytes), device.transport.sent.bodies, retry.attachmentsSent ?? 0))
print("   together: \(beforeCut + retried) bytes of chunks for a \(fileBytes)-byte file")
if cutError == "none" { print("   (no chunk of this file starts after 60 % of it, so nothing was cut)") }
let completed = cutError == "none" ? beforeCut == fileBytes && retried == 0 : retry.attachmentsSent == 1 && beforeCut + retried == fileBytes
guard completed, try device.store.pendingUploads().isEmpty else {
    broken("the cut and its retry did not send the file exactly once in all (cut: \(cutError.prefix(80)); sent \(beforeCut) then \(retried) bytes)")
}

// MARK: 3. One file on two practitioners' devices, stored once

let shared = jpegLike(fileBytes)
let reference = AttachmentReference(of: shared)
let amy = try await BenchDevice(name: "amy", token: try ServerProcess.addUser("amy", binary: serverBinary, storage: storage), server: server.url)
let ben = try await BenchDevice(name: "ben", token: try ServerProcess.addUser("ben", binary: serverBinary, storage: storage), server: server.url)
var sentBy: [String] = []
for (name, home) in [("amy", amy), ("ben", ben)] {
    let id = try await home.syncedReferral()
    _ = try home.attach(shared, to: id, label: "shared")
    let summary = try await home.client.sync()
    sentBy.append("\(name) sent \(summary.attachmentBytesSent ?? 0) bytes of chunks")
}
var readOnly = Configuration()
readOnly.readonly = true
let (rows, bytes, offers, referrals, allRows) = try DatabaseQueue(path: database, configuration: readOnly).read { db in
    let chunks = try Row.fetchOne(db, sql: "SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS b FROM attachment_chunks WHERE sha256 = ?", arguments: [reference.sha256])!
    return (
        chunks["n"] as Int, chunks["b"] as Int,
        try Int.fetchOne(db, sql: "SELECT count(*) FROM attachments WHERE sha256 = ?", arguments: [reference.sha256])!,
        try Int.fetchOne(db, sql: "SELECT count(DISTINCT record_id) FROM fields WHERE path LIKE 'attachments.%.file' AND value = ?", arguments: [reference.stored])!,
        try Int.fetchOne(db, sql: "SELECT count(*) FROM attachment_chunks")!)
}
print("")
print("3. one \(fileBytes)-byte file attached to a referral on each of two devices of two practitioners (amy, ben), both synced")
print("   \(sentBy.joined(separator: "; "))")
print("   the server: \(referrals) referral(s) name it, \(offers) attachments row, \(rows) attachment_chunks rows of \(bytes) bytes for it (the file: \(AttachmentChunks.count(of: Int64(fileBytes))) chunks, \(fileBytes) bytes); \(allRows) chunk rows in all for \(rounds + 2) files")
guard referrals == 2, offers == 1, rows == AttachmentChunks.count(of: Int64(fileBytes)), bytes == fileBytes else {
    broken("the file two referrals name is not stored once: \(offers) attachments row(s), \(rows) chunk row(s) of \(bytes) bytes")
}
