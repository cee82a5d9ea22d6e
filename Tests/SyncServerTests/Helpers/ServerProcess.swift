import Foundation
import GRDB
import SyncCore
import TestSupport
import Testing
@testable import SyncServer

/// A real `sync-server` process on 127.0.0.1, started by the test on a free
/// port, with a database of its own: a SQLite file, or a fresh PostgreSQL
/// database when the run uses that backend (`TestBackend`). Two processes may
/// share one PostgreSQL database (`init(sharing:)`).
final class ServerProcess: @unchecked Sendable {
    static let executable = BuiltProducts.syncServer

    let folder: URL
    let database: TestDatabase
    /// The running server (posix_spawn and waitpid: `ChildProcess` says why not Foundation's `Process`).
    private(set) var process: ChildProcess?
    private(set) var url: URL!
    /// A fixed start for the server's clock (it then moves 1 ms per reading);
    /// change it and `start()` again to move the server in time.
    var now: String?
    /// PEM certificate and key files: the server then serves HTTPS.
    let tls: (certificate: String, key: String)?
    /// With a clock file, the server reads its time from it and `setTime` moves
    /// a running server in time (SYNC_SERVER_TEST_CLOCK_FILE).
    let clockFile: URL?
    /// Extra `serve` options.
    let options: [String]
    /// LOG_LEVEL for the server; its standard error goes to `log`.
    let logLevel: String
    /// Variables added to the server's environment (test hooks).
    let extraEnvironment: [String: String]
    var log: URL { folder.appendingPathComponent("server.log") }
    /// The server's receipt signing key (made at its first start), in its folder whichever the backend.
    var receiptKey: String { folder.appendingPathComponent("receipt-key").path }
    /// The name of a migration every start from now on applies after the
    /// real ones if it has not yet (`SYNC_TEST_MIGRATION_PROBE`), as an
    /// upgrade would; `startAndKillDuringMigration` sets it.
    private(set) var migrationProbe: String?

    init(
        now: String? = nil, clock: String? = nil, tls: (certificate: String, key: String)? = nil, options: [String] = [],
        logLevel: String = "warning", backend: TestBackend = .current, environment: [String: String] = [:], folder: URL? = nil,
        postgres: TestPostgres? = nil
    ) throws {
        self.extraEnvironment = environment
        self.now = now
        self.tls = tls
        self.options = options
        self.logLevel = logLevel
        // A folder the test chose (a small filesystem it mounted), or a new one.
        self.folder = try folder ?? TemporaryFolder.make("sync-server")
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
        clockFile = clock == nil ? nil : self.folder.appendingPathComponent("clock")
        switch backend {
        case .sqlite: database = .sqlite(path: self.folder.appendingPathComponent("server.sqlite").path)
        case .postgres: database = .postgres(url: try (postgres ?? TestPostgres.cluster()).makeDatabase())
        }
        if let clock { try setTime(clock) }
        try start()
    }

    /// Another instance on the same database (PostgreSQL: several servers, one store).
    init(sharing other: ServerProcess, environment: [String: String] = [:]) throws {
        extraEnvironment = environment
        now = other.now
        tls = other.tls
        options = other.options
        logLevel = other.logLevel
        clockFile = other.clockFile
        folder = try TemporaryFolder.make("sync-server")
        database = other.database
        try start()
    }

    /// The clock the devices of this test read: the server's own when the test
    /// pins it (`now:` or `clock:`), so that a test's devices and server agree
    /// on the date whatever day the suite runs; the machine's clock otherwise.
    var deviceClock: any WallClock {
        if let clockFile { return FileClock(path: clockFile.path) }
        if let now, let start = Timestamp.date(now) { return SteppingClock(start: start, step: 0.001) }
        return SystemClock()
    }

    /// Moves a server started with `clock:` to this time (`2026-11-23T10:00:00Z`).
    func setTime(_ time: String) throws {
        guard let clockFile else { throw TestFailure("the server was not started with a clock file") }
        try Data(time.utf8).write(to: clockFile, options: .atomic)
    }

    /// Starts (or restarts) the server on the same database and, once it has
    /// one, the same port (as a real server keeps its address); returns once
    /// it listens (its first line on standard output gives the address).
    func start() throws {
        // A restart of a running server kills it first: left running, it
        // outlived the test (one was found an hour later, still serving).
        kill()
        let process = try spawn()
        guard let line = Self.firstLine(of: process) else {
            let status = process.wait()
            throw TestFailure("sync-server exited before listening (\(status)); the end of its log:\n\(logTail)")
        }
        guard let address = line.split(separator: " ").last, let url = URL(string: String(address)) else {
            throw TestFailure("unexpected first line from sync-server: \(line)")
        }
        self.url = url
        // Its output pipe stays open with it (`process.output`), as anything it writes later must not fail.
        self.process = process
    }

    /// `serve` on this server's database and port (0 until it has one), started.
    private func spawn(output: ChildProcess.Output = .pipe, stopInMigration: Bool = false) throws -> ChildProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = logLevel
        environment["DATABASE_URL"] = nil  // the test's database only
        if let now { environment["SYNC_SERVER_TEST_NOW"] = now }
        if let clockFile { environment["SYNC_SERVER_TEST_CLOCK_FILE"] = clockFile.path }
        environment.merge(extraEnvironment) { $1 }
        if let migrationProbe { environment["SYNC_TEST_MIGRATION_PROBE"] = migrationProbe }
        if stopInMigration { environment["SYNC_TEST_STOP_IN_MIGRATION"] = "1" }
        return try ChildProcess(
            Self.executable.path,
            ["serve", "--port", url?.port.map(String.init) ?? "0", "--receipt-key", receiptKey] + database.arguments + options
                + (tls.map { ["--tls-cert", $0.certificate, "--tls-key", $0.key] } ?? []),
            environment: environment, output: output, error: .file(log.path))
    }

    /// Starts a `serve` on this database and SIGKILLs it at once, before it
    /// listens: somewhere in its start-up (loading, opening the database,
    /// checking its migrations, all applied already), wherever the kill
    /// lands; `startAndKillDuringMigration` kills one inside a migration.
    /// The server must be stopped.
    func startAndKillDuringStartup() throws {
        precondition(process == nil, "the server is running")
        let doomed = try spawn(output: .null)
        doomed.signal(SIGKILL)
        doomed.wait()
    }

    /// An upgrade killed half-way: starts a `serve` with one more migration
    /// to apply, `probe` (a new SQL name: the server's `TestHooks` says what
    /// it writes), and SIGKILLs it inside that migration, once its
    /// statements have run and before it is recorded or committed. Every
    /// later start carries the same migration, so the next one applies it
    /// again from the start; it fails to start if the killed attempt left
    /// any of it behind. The server must be stopped.
    /// - Throws: `TestFailure` if the server exits before it reaches the migration.
    func startAndKillDuringMigration(probe: String) throws {
        precondition(process == nil, "the server is running")
        migrationProbe = probe
        let doomed = try spawn(stopInMigration: true)
        let line = Self.firstLine(of: doomed) ?? ""
        doomed.signal(SIGKILL)
        let status = doomed.wait()
        guard line == "stopped in migration \(probe)" else {
            throw TestFailure("sync-server did not stop in migration \(probe) (\(status), first line '\(line)'); the end of its log:\n\(logTail)")
        }
    }

    /// The first line a spawned server writes on standard output, without
    /// its newline; nil if it exits first.
    private static func firstLine(of process: ChildProcess) -> String? {
        var buffer = Data()
        while !buffer.contains(UInt8(ascii: "\n")) {
            let chunk = process.output!.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
        return String(String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)[0])
    }

    /// The last five lines of the server's log, for a failure's message.
    private var logTail: String {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(5).joined(separator: "\n")
    }

    /// SIGKILL: no graceful shutdown, as in a power cut.
    func kill() {
        guard let process else { return }
        process.signal(SIGKILL)
        process.wait()
        self.process = nil
    }

    /// SIGTERM, and waits until the server has exited.
    func stop() {
        guard let process else { return }
        process.signal(SIGTERM)
        process.wait()
        self.process = nil
    }

    /// Chains every audit entry the server has committed, as `audit verify`
    /// does before it walks the chain (on PostgreSQL the server's sequencer
    /// chains them just after their commits, so a test reading the `audit`
    /// table calls this first): true if the chain is then intact.
    func chainAudit() throws -> Bool {
        try command(["audit", "verify"]).status == 0
    }

    /// Runs a `sync-server` subcommand to completion on this server's
    /// database: its exit status and its standard output, trimmed.
    func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Self.command(arguments + database.arguments)
    }

    /// Runs a `sync-server` subcommand on this server's database with `input` on its standard input.
    func command(_ arguments: [String], input: String) throws -> (status: Int32, output: String) {
        let (termination, output) = try ChildProcess.run(
            Self.executable.path, arguments + database.arguments,
            environment: ProcessInfo.processInfo.environment.filter { $0.key != "DATABASE_URL" }, input: input)
        return (termination.status, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs `sync-server` with exactly these arguments (the test's database only, never DATABASE_URL).
    static func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let (termination, output) = try ChildProcess.run(
            executable.path, arguments, environment: ProcessInfo.processInfo.environment.filter { $0.key != "DATABASE_URL" })
        return (termination.status, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs a `sync-server` subcommand on this server's database: its exit
    /// status, standard output and standard error, trimmed.
    func commandWithErrors(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try Self.commandWithErrors(arguments + database.arguments)
    }

    /// Runs `sync-server` with exactly these arguments: exit status, standard output and standard error, trimmed.
    static func commandWithErrors(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("sync-server-stderr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let (termination, output) = try ChildProcess.run(
            executable.path, arguments, environment: ProcessInfo.processInfo.environment.filter { $0.key != "DATABASE_URL" }, error: .file(errors))
        let error = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        return (termination.status, output.trimmingCharacters(in: .whitespacesAndNewlines), error.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The operating-system user these tests run as: the actor of every
    /// operator command's audit entry (`getpwuid(geteuid())`, else `$USER`).
    static var operatingSystemUser: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }

    /// Adds a user through the real command and returns the token it printed.
    func addUser(_ name: String, role: Role = .practitioner) throws -> String {
        let (status, token) = try command(["user", "add", name, "--role", role.rawValue])
        guard status == 0 else { throw TestFailure("user add \(name) failed") }
        return token
    }

    /// Raw HTTP, for the protocol's error cases.
    func request(_ method: String, _ path: String, token: String?, body: Data? = nil) async throws -> (Int, [String: Any]) {
        let (status, json, _) = try await exchange(method, path, token: token, body: body)
        return (status, json)
    }

    /// Raw HTTP with any headers; the reply's status, JSON body and headers.
    func exchange(
        _ method: String, _ path: String, token: String?, device: String? = nil, body: Data? = nil
    ) async throws -> (Int, [String: Any], HTTPURLResponse) {
        var request = URLRequest(url: URL(string: url.absoluteString + "/" + path)!)
        request.httpMethod = method
        request.httpBody = body
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let device { request.setValue(device, forHTTPHeaderField: "Field-Device") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let http = response as! HTTPURLResponse
        return (http.statusCode, json, http)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: folder)
    }
}

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A device: a real store file and the real client, logged in to the server.
struct Device {
    /// What every test device's store is encrypted under.
    static let passphrase = "device passphrase"
    let store: LocalStore
    let client: SyncClient
    let folder: URL

    init(
        server: ServerProcess, token: String, clock: (any WallClock)? = nil,
        transport wrap: ((any SyncTransport) -> any SyncTransport)? = nil
    ) async throws {
        let clock = clock ?? server.deviceClock
        folder = try TemporaryFolder.make("device")
        store = try LocalStore(
            path: folder.appendingPathComponent("field.sqlite").path, author: "device-user",
            passphrase: Self.passphrase, keyDerivation: .testing, clock: clock)
        // Registered with the user's token, the device then signs in with its own, as `field login` does.
        let registering = SyncClient(
            store: store, transport: HTTPTransport(server: server.url, token: token, device: store.deviceID),
            server: server.url.absoluteString)
        let reply = try await registering.register()
        let deviceToken = reply.deviceToken ?? token
        let http = HTTPTransport(server: server.url, token: deviceToken, device: store.deviceID)
        client = SyncClient(store: store, transport: wrap?(http) ?? http, server: server.url.absoluteString)
        try store.saveLogin(
            ServerLogin(server: server.url.absoluteString, token: deviceToken, user: reply.user, role: reply.role), lastSeq: reply.lastSeq)
    }

    /// The device as it is after being restored from `backup` (a copy made by
    /// `LocalStore.backup(to:)`): same id, same token, the copy's state.
    init(
        restoring backup: String, server: ServerProcess, clock: any WallClock,
        transport wrap: ((any SyncTransport) -> any SyncTransport)? = nil
    ) async throws {
        folder = try TemporaryFolder.make("device")
        let path = folder.appendingPathComponent("field.sqlite").path
        try FileManager.default.copyItem(atPath: backup, toPath: path)
        store = try LocalStore(path: path, author: "device-user", passphrase: Self.passphrase, keyDerivation: .testing, clock: clock)
        guard let token = try store.login()?.token else { throw TestFailure("the backup has no login") }
        let http = HTTPTransport(server: server.url, token: token, device: store.deviceID)
        client = SyncClient(store: store, transport: wrap?(http) ?? http, server: server.url.absoluteString)
    }

    /// The same device (same store file) talking to a server that moved port.
    init(reconnecting device: Device, to server: ServerProcess) async throws {
        folder = device.folder
        store = device.store
        let token = try device.store.login()!.token
        client = SyncClient(store: store, transport: HTTPTransport(server: server.url, token: token, device: store.deviceID), server: server.url.absoluteString)
    }

    @discardableResult
    func sync() async throws -> SyncSummary { try await client.sync() }

    func value(_ record: UUID, _ path: String) throws -> String? { try store.referral(record).values[path] }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

/// Wraps the real transport to lose replies: the request reaches the server
/// and is applied, but the device never hears back.
final class LossyTransport: SyncTransport, @unchecked Sendable {
    let inner: any SyncTransport
    private let lock = NSLock()
    private var decide: (String) -> Bool
    /// Every change sent in a push that the server answered, in order (for history checks).
    private(set) var sent: [WireChange] = []

    init(_ inner: any SyncTransport, loseReplyWhen decide: @escaping (String) -> Bool = { _ in false }) {
        self.inner = inner
        self.decide = decide
    }

    func setRule(_ rule: @escaping (String) -> Bool) {
        lock.lock()
        decide = rule
        lock.unlock()
    }

    private func record(_ changes: [WireChange]) {
        lock.lock()
        sent += changes
        lock.unlock()
    }

    private func shouldLose(_ path: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return decide(path)
    }

    func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data) {
        let reply = try await inner.get(path, query: query)
        if shouldLose(path) { throw URLError(.networkConnectionLost) }
        return reply
    }

    func post(_ path: String, bytes: Data, contentType: String, headers: [String]) async throws -> (status: Int, body: Data) {
        try await inner.post(path, bytes: bytes, contentType: contentType, headers: headers)
    }

    func post(_ path: String, body: Data) async throws -> (status: Int, body: Data) {
        // Recorded once the server has answered: a push that got no answer at
        // all (the server killed before its commit) applied nothing.
        let reply = try await inner.post(path, body: body)
        if path == "v1/push", let request = try? JSONDecoder().decode(PushRequest.self, from: body) {
            record(request.changes)
        }
        if shouldLose(path) { throw URLError(.networkConnectionLost) }
        return reply
    }
}

extension ServerProcess {
    /// The server's current form with one more question in the concern
    /// section (`concern.child_words`: what the child said, in their own
    /// words), written to a file in the server's folder for `form publish`.
    func formWithChildWords() throws -> String {
        let (shown, text) = try command(["form", "show"])
        #expect(shown == 0)
        var document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var sections = try #require(document["sections"] as? [[String: Any]])
        let concern = try #require(sections.firstIndex { $0["key"] as? String == "concern" })
        var fields = try #require(sections[concern]["fields"] as? [[String: Any]])
        fields.append(["key": "child_words", "type": "text", "question": "What did the child say, in their own words?"])
        sections[concern]["fields"] = fields
        document["sections"] = sections
        let file = folder.appendingPathComponent("form-with-child-words.json")
        try JSONSerialization.data(withJSONObject: document).write(to: file)
        return file.path
    }
}
