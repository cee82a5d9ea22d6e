import Foundation
import GRDB
import SyncCore
import Testing

/// Seeded random schedules of 3–5 devices editing one referral, adding and
/// removing children, syncing in random order through a transport that loses
/// replies at random, while the things that move state backwards or sideways
/// happen (docs/protocol.md, "Recovery"): a device's clock jumps days ahead
/// or behind and back; a device is restored from an earlier copy of its
/// store; the server (SQLite) is restored from an earlier backup, once; the
/// device's process is killed in the middle of a write (the real `field`, on
/// the device's store file); the server is killed in the middle of a push
/// (held before its commit, `PushGate`), and started again.
/// After a final round of syncs:
/// - every device holds exactly the server's values and open conflicts;
/// - every value a device sent is in the server's history (since the server
///   restore, if there was one: before it, what devices still hold is
///   checked by the first point);
/// - no write to a `manual` field overwrote a value its device had not seen.
///
/// `CONVERGENCE_SEEDS=10000 swift test --filter ConvergenceTests` runs more
/// (500 by default); `CONVERGENCE_FIRST_SEED` starts elsewhere, to replay one.
/// `CONVERGENCE_LANES=N` runs the seeds in N lanes at once, each with a
/// server of its own (a server restore must not touch another lane's
/// schedule), lane k taking every Nth seed: a seed's schedule is the same in
/// any lane, so `CONVERGENCE_FIRST_SEED=s CONVERGENCE_SEEDS=1` replays it.
@Suite("Convergence property")
struct ConvergenceTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seeds = Int(environment["CONVERGENCE_SEEDS"] ?? "") ?? 500
    static let firstSeed = UInt64(environment["CONVERGENCE_FIRST_SEED"] ?? "") ?? 1
    static let lanes = max(1, min(Int(environment["CONVERGENCE_LANES"] ?? "") ?? 1, 16))

    @Test("random schedules converge with nothing lost and no silent overwrite")
    func convergence() async throws {
        let seeds = Array(Self.firstSeed..<(Self.firstSeed + UInt64(Self.seeds)))
        let lanes = min(Self.lanes, seeds.count)
        let events = try await withThrowingTaskGroup(of: Schedule.Events.self) { group in
            for lane in 0..<lanes {
                group.addTask { try await Self.run(seeds: stride(from: lane, to: seeds.count, by: lanes).map { seeds[$0] }) }
            }
            return try await group.reduce(into: Schedule.Events()) { $0.add($1) }
        }
        print("Convergence: \(Self.seeds) schedules in \(lanes) lane(s), \(events.clockShifts) clock shifts, \(events.deviceRestores) device restores, \(events.serverRestores) server restores, \(events.deviceKills) device kills mid-write, \(events.serverKills) server kills mid-push")
        // The faults really happen (SQLite: the server restore copies its file).
        if Self.seeds >= 50 {
            #expect(events.clockShifts > 0 && events.deviceRestores > 0)
            #expect(events.deviceKills > 0 && events.serverKills > 0)
            #expect(events.serverRestores > 0 || TestBackend.current != .sqlite)
        }
    }

    /// One lane: `seeds` in turn against a server of the lane's own.
    static func run(seeds: [UInt64]) async throws -> Schedule.Events {
        let gate = try PushGate()
        let server = try ServerProcess(environment: gate.environment)
        gate.attach(server)
        defer { gate.stop() }
        var events = Schedule.Events()
        for seed in seeds {
            // A user per schedule, so a new device pulls only this schedule's referral.
            let token = try server.addUser("practitioner-\(seed)")
            do {
                events.add(try await Schedule(seed: seed, server: server, token: token, gate: gate).run())
            } catch {
                throw SeedFailure(seed: seed, error: error)
            }
        }
        return events
    }

    /// An error thrown while a schedule ran, with the seed and the command that replays it.
    struct SeedFailure: Error, CustomStringConvertible {
        let seed: UInt64
        let error: any Error
        var description: String {
            "seed \(seed) failed: \(error) (replay: scripts/convergence 1 --first \(seed)\(TestBackend.current == .postgres ? " --postgres" : ""))"
        }
    }
}

/// A small seeded generator (SplitMix64), shared by the schedule and the
/// transports it drives, so a seed replays the same schedule.
final class SeededRandom: RandomNumberGenerator, @unchecked Sendable {
    private var state: UInt64
    private let lock = NSLock()

    /// The seed goes through SplitMix64's mix first: with `seed × γ` as the
    /// start, seed n + 1 replayed seed n's sequence one draw later.
    init(seed: UInt64) { state = Self.mix(seed &* 0x9E37_79B9_7F4A_7C15) }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    func chance(_ probability: Double) -> Bool {
        Double(next() % 10_000) / 10_000 < probability
    }
}

struct Schedule {
    let seed: UInt64
    let server: ServerProcess
    let token: String
    /// Holds each push before its commit, to kill the server there.
    let gate: PushGate

    static let manualPaths = ["concern.summary", "concern.when", "urgency.deadline"]
    static let indicators = ["health", "education", "identity", "parenting"]

    /// How many of the backwards-or-sideways events a schedule made happen.
    struct Events: Sendable {
        var clockShifts = 0
        var deviceRestores = 0
        var serverRestores = 0
        var deviceKills = 0
        var serverKills = 0

        mutating func add(_ other: Events) {
            clockShifts += other.clockShifts
            deviceRestores += other.deviceRestores
            serverRestores += other.serverRestores
            deviceKills += other.deviceKills
            serverKills += other.serverKills
        }
    }

    @discardableResult
    func run() async throws -> Events {
        var events = Events()
        let random = SeededRandom(seed: seed)
        var transports: [LossyTransport] = []
        var devices: [Device] = []
        var clocks: [ShiftedClock] = []
        for _ in 0..<(3 + Int(random.next() % 3)) {
            var transport: LossyTransport!
            let clock = ShiftedClock()
            devices.append(try await Device(server: server, token: token, clock: clock, transport: { inner in
                transport = LossyTransport(inner)
                return transport
            }))
            transports.append(transport)
            clocks.append(clock)
        }
        // Every transport a device had (a restored device gets a new one), for what it sent.
        var retired: [(device: String, transport: LossyTransport)] = []
        var deviceBackups: [Int: String] = [:]
        var serverBackup: (path: String, end: Int64)?
        var serverRestore: (end: Int64, sentBefore: [String: Int])?
        let lossRule: @Sendable (String) -> Bool = { path in path != "healthz" && random.chance(0.15) }
        defer { devices.forEach { $0.remove() } }
        let record = try devices[0].store.createReferral(kind: .socialCare)
        for device in devices { try await device.sync() }
        for transport in transports { transport.setRule(lossRule) }

        var counter = 0
        for _ in 0..<30 {
            counter += 1
            let which = Int(random.next() % UInt64(devices.count))
            let device = devices[which]
            let store = device.store
            switch random.next() % 14 {
            case 0, 1:
                try store.set(Self.manualPaths[Int(random.next() % 3)], of: record, to: "v\(counter) from \(store.deviceID.suffix(4))")
            case 2:
                try store.set("referrer.phone", of: record, to: "0770090\(counter)")
            case 3:
                let notes = try store.referral(record).values["concern.notes"].map { $0 + "\n" } ?? ""
                try store.set("concern.notes", of: record, to: notes + "note \(counter)")
            case 4:
                let chosen = Self.indicators.filter { _ in random.chance(0.5) }
                if chosen.isEmpty { try store.unset("need.indicators", of: record) } else { try store.set("need.indicators", of: record, to: chosen.joined(separator: ",")) }
            case 5:
                let children = try store.referral(record).items(of: "children")
                if children.isEmpty || random.chance(0.5) {
                    try store.addItem(to: "children", of: record)
                } else if random.chance(0.3) {
                    try store.removeItem("children.\(1 + Int(random.next() % UInt64(children.count)))", of: record)
                } else {
                    try store.set("children.\(1 + Int(random.next() % UInt64(children.count))).full_name", of: record, to: "child \(counter)")
                }
            case 6:
                try store.unset(Self.manualPaths[Int(random.next() % 3)], of: record)
            case 9:
                // A clock battery goes flat, a time zone is wrong, or the clock is put right.
                let shifts: [TimeInterval] = [0, 3 * 86_400, -2 * 86_400, 3_600]
                clocks[which].offset = shifts[Int(random.next() % UInt64(shifts.count))]
                events.clockShifts += 1
            case 10:
                // A backup of the device's store, or the device restored from its last one.
                if let backup = deviceBackups[which], random.chance(0.5) {
                    var transport: LossyTransport!
                    let restored = try await Device(restoring: backup, server: server, clock: clocks[which], transport: { inner in
                        transport = LossyTransport(inner)
                        return transport
                    })
                    transport.setRule(lossRule)
                    retired.append((device.store.deviceID, transports[which]))
                    device.remove()
                    devices[which] = restored
                    transports[which] = transport
                    events.deviceRestores += 1
                } else {
                    let path = server.folder.appendingPathComponent("device-backup-\(seed)-\(which).sqlite").path
                    try? FileManager.default.removeItem(atPath: path)
                    try store.backup(to: path)
                    deviceBackups[which] = path
                }
            case 11:
                // The server backed up, and later restored from that backup (SQLite, once a schedule).
                guard case .sqlite(let path) = server.database, serverRestore == nil else { continue }
                if let backup = serverBackup, random.chance(0.5) {
                    server.kill()
                    let (status, output) = try server.command(["restore", "--from", backup.path])
                    #expect(status == 0, "seed \(seed): \(output)")
                    try server.start()
                    let sent = Dictionary(uniqueKeysWithValues: zip(devices, transports).map { ($0.store.deviceID, $1.sent.count) })
                    serverRestore = (backup.end, sent)
                    events.serverRestores += 1
                } else {
                    let copy = server.folder.appendingPathComponent("server-backup-\(seed).sqlite").path
                    try? FileManager.default.removeItem(atPath: copy)
                    try DatabaseQueue(path: path).backup(to: DatabaseQueue(path: copy))
                    let end = try await DatabaseQueue(path: copy).read { try Int64.fetchOne($0, sql: "SELECT coalesce(max(revision), 0) FROM change_log") } ?? 0
                    serverBackup = (copy, end)
                }
            case 12:
                // The device's process dies in the middle of a write: the real
                // `field`, given 30 writes, is killed once 1–5 are confirmed.
                let writes = (0..<30).map { index in
                    (path: Self.manualPaths[Int(random.next() % 3)], value: "k\(counter).\(index) from \(store.deviceID.suffix(4))")
                }
                let confirmed = 1 + Int(random.next() % 5)
                let lines = try DeviceKill.writes(in: device.folder, passphrase: Device.passphrase, record: record, writes: writes, confirmed: confirmed)
                #expect(lines.count == confirmed, "seed \(seed): the session confirmed \(lines.count) of \(confirmed) writes: \(lines)")
                let reopened = try Device(reopening: device, server: server, clock: clocks[which], transport: transports[which])
                devices[which] = reopened
                #expect(try reopened.store.integrityProblems().isEmpty, "seed \(seed): the store is damaged after a kill")
                // What the session committed is a prefix of its writes, holding
                // every confirmed one (its output may lag behind its commits),
                // and each field shows the last of them.
                let sessionWrites = Set(writes.map { "\($0.path)=\($0.value)" })
                let committed = try reopened.store.history(of: record).map { "\($0.path)=\($0.newValue ?? "")" }.filter(sessionWrites.contains)
                #expect(committed.count >= confirmed, "seed \(seed): \(committed.count) writes kept, \(confirmed) confirmed")
                #expect(committed == writes.prefix(committed.count).map { "\($0.path)=\($0.value)" }, "seed \(seed): the writes kept are not the first ones")
                let values = try reopened.store.referral(record).values
                for path in Set(writes.prefix(committed.count).map(\.path)) {
                    #expect(values[path] == writes.prefix(committed.count).last { $0.path == path }?.value, "seed \(seed): \(path) after a kill")
                }
                events.deviceKills += 1
            case 13:
                // The server dies in the middle of a push: held before its commit, killed, started again.
                try store.set(Self.manualPaths[Int(random.next() % 3)], of: record, to: "v\(counter) before a server kill from \(store.deviceID.suffix(4))")
                gate.arm()
                _ = try? await device.sync()  // fails: the server dies before its commit
                if gate.disarm() {
                    server.kill()
                    try server.start()
                    events.serverKills += 1
                }
            default:
                _ = try? await device.sync()  // a lost reply is expected now and then
            }
        }

        // The final rounds: no losses, everyone pushes and pulls.
        for transport in transports { transport.setRule { _ in false } }
        for _ in 0..<3 { for device in devices { try await device.sync() } }
        let everyTransport = retired + zip(devices, transports).map { ($0.store.deviceID, $1) }
        let sent = everyTransport.flatMap { device, transport in transport.sent.map { (device, $0) } }
        // Sends since the server restore (a restored device's new transport counts whole).
        let sentSinceRestore = serverRestore.map { restore in
            everyTransport.flatMap { device, transport in
                let skip = retired.contains { $0.transport === transport } ? transport.sent.count : (restore.sentBefore[device] ?? 0)
                return transport.sent.dropFirst(skip).map { (device, $0) }
            }
        }
        try await check(record: record, devices: devices, sent: sent, sentSinceRestore: sentSinceRestore, restoredEnd: serverRestore?.end)
        return events
    }

    struct LoggedChange {
        var revision: Int64
        var kind: String
        var path: String
        var value: String?
        var device: String
        var seq: Int64?
    }

    func check(
        record: UUID, devices: [Device], sent: [(device: String, change: WireChange)],
        sentSinceRestore: [(device: String, change: WireChange)]?, restoredEnd: Int64?
    ) async throws {
        let key = record.lowercased
        let database = server.database
        let serverValues = Dictionary(uniqueKeysWithValues: try await database.rows(
            "SELECT path, value FROM fields WHERE record_id = ? AND value IS NOT NULL", [key]
        ).map { ($0[0]!, $0[1]!) })
        let openConflicts = Set(try await database.strings("SELECT id FROM conflicts WHERE record_id = ? AND status = 'open'", [key]).compactMap { $0 })
        let log = try await database.rows(
            "SELECT revision, kind, path, value, device_id, seq FROM change_log WHERE record_id = ? ORDER BY revision", [key]
        ).map { LoggedChange(revision: Int64($0[0]!)!, kind: $0[1]!, path: $0[2]!, value: $0[3], device: $0[4]!, seq: $0[5].flatMap { Int64($0) }) }
        for device in devices {
            #expect(try device.store.pendingChanges().isEmpty, "seed \(seed): device still has pending changes")
            #expect(try device.store.referral(record).values == serverValues, "seed \(seed): device \(device.store.deviceID) differs from the server")
            let local = Set(try device.store.syncStatus(of: record)[0].conflicts.map(\.id))
            #expect(local == openConflicts, "seed \(seed): conflict states differ")
            #expect(try device.store.integrityProblems().isEmpty, "seed \(seed)")
        }
        // Nothing lost: every value sent is in the server's history.
        let history = Set(log.map { "\($0.path)=\($0.value ?? "∅")" })
        for (_, change) in sentSinceRestore ?? sent where change.record == key {
            #expect(history.contains("\(change.path)=\(change.value ?? "∅")"), "seed \(seed): \(change.path)=\(change.value ?? "nil") missing from the server history")
        }
        // No silent overwrite: a write to a manual field that became current
        // had seen every other device's change since its base, or wrote the
        // value the field already had.
        // The first send of a change is the one the server applied (replies
        // are lost, requests never are), so its base is the one that counted.
        // After a server restore, entries past the backup were applied from
        // sends made since the restore.
        let bases = Dictionary(sent.map { ("\($0.device)/\($0.change.seq)", $0.change.baseRevision) }, uniquingKeysWith: { first, _ in first })
        let basesSinceRestore = Dictionary((sentSinceRestore ?? []).map { ("\($0.device)/\($0.change.seq)", $0.change.baseRevision) }, uniquingKeysWith: { first, _ in first })
        for (index, entry) in log.enumerated() where entry.kind == "write" {
            let path = entry.path
            let applicable = restoredEnd.map { entry.revision > $0 } == true ? basesSinceRestore : bases
            guard Self.manualPaths.contains(path) || path.hasSuffix(".full_name"), let seq = entry.seq,
                let base = applicable["\(entry.device)/\(seq)"]
            else { continue }
            let device = entry.device
            let before = log[..<index].filter { $0.path == path && ["write", "conflict"].contains($0.kind) }
            let unseen = before.contains { $0.revision > base && $0.device != device }
            if unseen {
                #expect(before.last?.value == entry.value, "seed \(seed): \(path) overwritten without a conflict")
            }
        }
    }
}

/// The machine's clock moved by `offset` seconds, which a schedule changes:
/// a device whose clock is wrong, then put right.
final class ShiftedClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var shift: TimeInterval = 0

    var offset: TimeInterval {
        get { lock.withLock { shift } }
        set { lock.withLock { shift = newValue } }
    }

    func now() -> Date { Date().addingTimeInterval(offset) }
}
