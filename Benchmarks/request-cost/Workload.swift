import BenchmarkSupport
import Foundation
import SyncCore

/// The request kinds measured, with issue 30's targets for the server's CPU per request.
enum RequestKind: String, CaseIterable {
    case health, register, push, pull

    /// What one request is, for the report.
    var what: String {
        switch self {
        case .health: "GET /healthz"
        case .register: "POST /v1/register, a new device"
        case .push: "POST /v1/push, a new referral of 27 fields from a new device"
        case .pull: "GET /v1/pull, a page of 100 changes"
        }
    }

    /// Issue 30's target, milliseconds of server CPU a request (nil: none set).
    var targetMilliseconds: Double? {
        switch self {
        case .health: 0.05
        case .register: nil
        case .push: 0.5
        case .pull: 0.3
        }
    }
}

/// How many requests of each kind a run makes, measured, after the warm-up.
struct RequestCounts {
    var health: Int
    /// Devices registered, and each pushes one referral: the register and push counts.
    var devices: Int
    var pulls: Int
    /// Devices that register, push and pull before anything is measured.
    var warmUp: Int

    func count(_ kind: RequestKind) -> Int {
        switch kind {
        case .health: health
        case .register, .push: devices
        case .pull: pulls
        }
    }
}

/// One serial run against a started server: the same requests, in the same
/// order, with the same ids every run (seeded), one at a time. Each kind's
/// requests go over a new kept-alive connection, whose first request (the
/// connection's accept, first buffers) is outside the measurement.
struct Workload {
    let server: URL
    let userToken: String
    let counts: RequestCounts
    static let fieldsPerReferral = 27
    static let pageSize = 100

    /// Measures each kind with `meter`: what the server spent per request.
    /// - Throws: `BenchmarkError` when a request fails (any status but 200,
    ///   a push not applied whole, a page short of 100 changes).
    func run(_ meter: any Meter) throws -> [RequestKind: Double] {
        let ids = UUIDv7Generator(clock: SteppingClock(start: Date(timeIntervalSince1970: 1_795_000_000)), seed: 30)
        let devices = (0..<(counts.warmUp + 1 + counts.devices)).map { _ in Device(id: ids.next().lowercased, record: ids.next().lowercased, child: ids.next().lowercased) }
        var results: [RequestKind: Double] = [:]

        // Warm-up: every kind's path once per warm-up device, unmeasured.
        let warm = try HTTPConnection(server)
        for index in 0..<counts.warmUp {
            try health(warm)
            try register(devices[index], on: warm)
            try push(devices[index], number: index, on: warm)
            try pull(since: 0, token: devices[0].token!, device: devices[0].id, on: warm)
        }

        func measure(_ kind: RequestKind, first: (HTTPConnection) throws -> Void, each: (HTTPConnection, Int) throws -> Void) throws {
            let connection = try HTTPConnection(server)
            try first(connection)
            try meter.start()
            for index in 0..<counts.count(kind) { try each(connection, index) }
            results[kind] = try meter.stop(label: kind.rawValue) / Double(counts.count(kind))
        }
        let measured = Array(devices[(counts.warmUp + 1)...])
        let extra = devices[counts.warmUp]
        try measure(.health, first: health) { connection, _ in try health(connection) }
        try measure(.register, first: { try register(extra, on: $0) }) { connection, index in try register(measured[index], on: connection) }
        try measure(.push, first: { try push(extra, number: counts.warmUp, on: $0) }) { connection, index in
            try push(measured[index], number: counts.warmUp + 1 + index, on: connection)
        }
        // Pages of 100 changes from the start of the log, one after another, round again when the log runs short.
        let reader = devices[0]
        let pages = max(1, (devices.count * Self.fieldsPerReferral) / Self.pageSize - 2)
        try measure(.pull, first: { try pull(since: 0, token: reader.token!, device: reader.id, on: $0) }) { connection, index in
            try pull(since: Int64((index % pages) * Self.pageSize), token: reader.token!, device: reader.id, on: connection)
        }
        return results
    }

    /// A simulated device: its id, its referral's and child's ids, and the token it gets when it registers.
    final class Device {
        let id: String
        let record: String
        let child: String
        var token: String?
        init(id: String, record: String, child: String) {
            self.id = id
            self.record = record
            self.child = child
        }
    }

    private func health(_ connection: HTTPConnection) throws {
        let reply = try connection.send("/healthz")
        guard reply.status == 200 else { throw BenchmarkError("GET /healthz answered \(reply.status).") }
    }

    private func register(_ device: Device, on connection: HTTPConnection) throws {
        let reply = try connection.send(
            "/v1/register", headers: [("Authorization", "Bearer \(userToken)"), ("Field-Device", device.id)],
            body: try JSONEncoder().encode(RegisterRequest(device: device.id)))
        guard reply.status == 200, let token = try? JSONDecoder().decode(RegisterResponse.self, from: reply.body).deviceToken else {
            throw BenchmarkError("POST /v1/register answered \(reply.status) with no device token: \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
        }
        device.token = token
    }

    /// The device's referral: `@kind`, one child, 25 text fields; every change applied, or it throws.
    private func push(_ device: Device, number: Int, on connection: HTTPConnection) throws {
        var seq: Int64 = 0
        let changes = BenchmarkReferral.changes(
            record: device.record, children: [device.child], fields: Self.fieldsPerReferral, kind: "social-care", seq: &seq,
            wall: 1_795_000_000_000 + Int64(number), device: device.id
        ) { "A sentence of about sixty characters, as a practitioner writes, for \($0.suffix(12))" }
        let reply = try connection.send(
            "/v1/push", headers: [("Authorization", "Bearer \(device.token!)"), ("Field-Device", device.id)],
            body: try JSONEncoder().encode(PushRequest(device: device.id, changes: changes)))
        guard reply.status == 200, let response = try? JSONDecoder().decode(PushResponse.self, from: reply.body),
              response.outcomes.count == changes.count, response.outcomes.allSatisfy({ $0.outcome == .applied }) else {
            throw BenchmarkError("POST /v1/push of \(changes.count) changes was not applied whole (\(reply.status)): \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
        }
    }

    private func pull(since: Int64, token: String, device: String, on connection: HTTPConnection) throws {
        let reply = try connection.send(
            "/v1/pull?since=\(since)&limit=\(Self.pageSize)", headers: [("Authorization", "Bearer \(token)"), ("Field-Device", device)])
        guard reply.status == 200, let page = try? JSONDecoder().decode(PullResponse.self, from: reply.body) else {
            throw BenchmarkError("GET /v1/pull?since=\(since) answered \(reply.status): \(String(decoding: reply.body.prefix(300), as: UTF8.self))")
        }
        guard page.changes.count == Self.pageSize || since == 0 && page.changes.count > 0 else {
            throw BenchmarkError("GET /v1/pull?since=\(since)&limit=\(Self.pageSize) gave \(page.changes.count) changes, not \(Self.pageSize).")
        }
    }
}
