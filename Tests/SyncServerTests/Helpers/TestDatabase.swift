import Foundation
import GRDB
import PostgresNIO
import SyncCore
import TestSupport

/// Which store the test servers use: SQLite by default,
/// `SYNC_TEST_BACKEND=postgres` for a real PostgreSQL (`TestPostgres`).
enum TestBackend: String, Sendable {
    case sqlite
    case postgres

    static let current: TestBackend = {
        let name = ProcessInfo.processInfo.environment["SYNC_TEST_BACKEND"] ?? "sqlite"
        guard let backend = TestBackend(rawValue: name) else { fatalError("SYNC_TEST_BACKEND must be sqlite or postgres, not '\(name)'") }
        return backend
    }()
}

/// Throwaway PostgreSQL 15 clusters, on 127.0.0.1 and a free port, each in
/// a temporary folder removed when the process exits. Each test server gets
/// a database of its own (`makeDatabase`).
///
/// - `cluster()`: the one most tests share, tuned for speed: no fsync, and
///   commits acknowledged before their WAL is written (`synchronous_commit=off`).
/// - `durableCluster()`: a second one whose commits are in the WAL before
///   they are acknowledged, for tests that stop PostgreSQL itself
///   (`stopImmediately`, `start`). It keeps `fsync=off`: the machine does
///   not crash, so what PostgreSQL wrote is in the page cache when it starts
///   again; what it had not written is what an immediate stop loses.
///
/// PostgreSQL refuses to run as root, so `initdb` and `pg_ctl` run as the
/// `postgres` user (`runuser`) when the tests run as root.
/// With `SYNC_TEST_REQUIRE_POSTGRES=1` (set by `.ci/run`), a missing
/// PostgreSQL fails the tests that need it instead of leaving them out.
final class TestPostgres: @unchecked Sendable {
    static let binaries = ProcessInfo.processInfo.environment["POSTGRES_BIN"] ?? "/usr/lib/postgresql/15/bin"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binaries + "/pg_ctl") }
    static var isRequired: Bool { ProcessInfo.processInfo.environment["SYNC_TEST_REQUIRE_POSTGRES"] == "1" }
    /// Tests that need PostgreSQL run when it is installed or required (and then fail loudly without it).
    static var shouldRun: Bool { isInstalled || isRequired || TestBackend.current == .postgres }

    /// A cluster of its own in `folder` (a small disk the test mounted):
    /// durable settings, 1 MiB WAL segments so that it fits in a few dozen
    /// MiB. Stopped and removed when the process exits, or by `remove`.
    static func inFolder(_ folder: URL) throws -> TestPostgres {
        try TestPostgres(durable: true, folder: folder.appendingPathComponent("pg").path, walSegmentMiB: 1)
    }

    private static func make(durable: Bool) -> Result<TestPostgres, TestFailure> {
        do { return .success(try TestPostgres(durable: durable)) } catch let failure as TestFailure { return .failure(failure) } catch {
            return .failure(TestFailure("\(error)"))
        }
    }

    static let shared = make(durable: false)
    static let durable = make(durable: true)

    static func cluster() throws -> TestPostgres { try shared.get() }
    static func durableCluster() throws -> TestPostgres { try durable.get() }

    let folder: String
    let port: Int
    private let settings: String
    private let lock = NSLock()
    private var databases = 0

    private init(durable: Bool, folder: String? = nil, walSegmentMiB: Int? = nil) throws {
        guard Self.isInstalled else {
            throw TestFailure("PostgreSQL is not installed: no \(Self.binaries)/pg_ctl (apt-get install -y postgresql, or set POSTGRES_BIN)")
        }
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("sync-pg-\(UUID().uuidString)").path
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Self.run(["chown", "postgres:postgres", folder], asPostgres: false)
        try Self.run(
            [Self.binaries + "/initdb", "-D", folder, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]
                + (walSegmentMiB.map { ["--wal-segsize=\($0)"] } ?? []))
        settings = "-c max_connections=400 -c fsync=off -c full_page_writes=off -c synchronous_commit=\(durable ? "on" : "off")"
            + (walSegmentMiB == nil ? "" : " -c min_wal_size=2MB -c max_wal_size=4MB")
        var started: Int?
        var lastError: (any Error)?
        // A free port can be taken between asking and listening: try a few.
        for _ in 0..<5 where started == nil {
            let port = try Self.freePort()
            do {
                try Self.start(folder: folder, port: port, settings: settings)
                started = port
            } catch {
                lastError = error
            }
        }
        guard let started else { throw lastError ?? TestFailure("PostgreSQL did not start") }
        port = started
        TestPostgres.stopAtExit(folder: folder)
    }

    private static func start(folder: String, port: Int, settings: String) throws {
        try run([
            binaries + "/pg_ctl", "-D", folder, "-l", folder + "/log", "-w", "-t", "60",
            "-o", "-c listen_addresses=127.0.0.1 -p \(port) -k \(folder) \(settings)",
            "start",
        ])
    }

    /// `pg_ctl stop -m immediate`: every backend ends at once, nothing is
    /// checkpointed; the next start recovers from the WAL.
    func stopImmediately() throws {
        try Self.run([Self.binaries + "/pg_ctl", "-D", folder, "-m", "immediate", "-w", "stop"])
    }

    /// Starts the cluster again on its port (after `stopImmediately`).
    func start() throws {
        try Self.start(folder: folder, port: port, settings: settings)
    }

    /// Whether the cluster's postmaster is running (`pg_ctl status`).
    var isRunning: Bool { (try? Self.run([Self.binaries + "/pg_ctl", "-D", folder, "status"])) != nil }

    /// Stops the cluster now (it is not started again).
    func remove() {
        _ = try? Self.run([Self.binaries + "/pg_ctl", "-D", folder, "-m", "immediate", "-w", "stop"])
    }

    /// A new, empty database; its `postgres://` address.
    func makeDatabase() throws -> String {
        let name = lock.withLock {
            databases += 1
            return "sync_test_\(getpid())_\(databases)"
        }
        try Self.run([Self.binaries + "/createdb", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name], asPostgres: false)
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    private static let runningAsRoot = getuid() == 0

    /// Runs a command to its end, its output in a file rather than a pipe:
    /// `pg_ctl start` leaves the server behind, which would hold a pipe open
    /// long after `pg_ctl` has exited. `ChildProcess` (posix_spawn, waitpid),
    /// not Foundation's `Process`, which notices a child's end when a socket
    /// the child inherits is closed: the PostgreSQL daemon inherits it too.
    @discardableResult
    static func run(_ arguments: [String], asPostgres: Bool = true) throws -> String {
        let command = asPostgres && runningAsRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + arguments : arguments
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sync-pg-run-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let child = try ChildProcess(command[0], Array(command.dropFirst()), output: .file(log), error: .file(log))
        let termination = child.wait()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard termination == .exit(0) else {
            throw TestFailure("\(arguments.joined(separator: " ")) failed (\(termination)): \(text)")
        }
        return text
    }

    static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestFailure("socket() failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0 else { throw TestFailure("bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        guard named == 0 else { throw TestFailure("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Stops the clusters and removes their folders when the test process exits.
    private nonisolated(unsafe) static var foldersToStop: [String] = []
    private static let foldersLock = NSLock()

    private static func stopAtExit(folder: String) {
        let first = foldersLock.withLock {
            foldersToStop.append(folder)
            return foldersToStop.count == 1
        }
        guard first else { return }
        atexit {
            for folder in TestPostgres.foldersLock.withLock({ TestPostgres.foldersToStop }) {
                _ = try? TestPostgres.run([TestPostgres.binaries + "/pg_ctl", "-D", folder, "-m", "immediate", "-w", "stop"])
                try? FileManager.default.removeItem(atPath: folder)
            }
        }
    }
}

/// A database a test server uses, for the test's own checks: rows as text
/// (NULL as nil), whatever the backend. SQL is written with `?` placeholders;
/// cast a PostgreSQL `numeric` (such as `sum` of integers) to BIGINT.
enum TestDatabase: Sendable {
    case sqlite(path: String)
    case postgres(url: String)

    /// The arguments `sync-server` needs to open it.
    var arguments: [String] {
        switch self {
        case .sqlite(let path): ["--db", path]
        case .postgres(let url): ["--postgres", url]
        }
    }

    func rows(_ sql: String, _ arguments: [(any Sendable)?] = []) async throws -> [[String?]] {
        switch self {
        case .sqlite(let path):
            var configuration = Configuration()
            configuration.readonly = true
            return try await DatabaseQueue(path: path, configuration: configuration).read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments.map { Self.databaseValue($0) })).map { row in
                    row.databaseValues.map { value in
                        switch value.storage {
                        case .null: nil
                        case .int64(let number): String(number)
                        case .double(let number): String(number)
                        case .string(let text): text
                        case .blob(let data): String(decoding: data, as: UTF8.self)
                        }
                    }
                }
            }
        case .postgres(let url):
            return try await Self.postgres(url) { connection in
                var bindings = PostgresBindings()
                for argument in arguments {
                    switch argument {
                    case let text as String: bindings.append(text)
                    case let number as Int: bindings.append(Int64(number))
                    case let number as Int64: bindings.append(number)
                    default: bindings.appendNull()
                    }
                }
                var rows: [[String?]] = []
                for try await row in try await connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: bindings), logger: Self.logger) {
                    rows.append(row.map { cell in
                        guard cell.bytes != nil else { return nil }
                        switch cell.dataType {
                        case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map { String($0) } ?? "?"
                        case .bool: return (try? cell.decode(Bool.self)).map { $0 ? "1" : "0" } ?? "?"
                        default: return (try? cell.decode(String.self)) ?? "?"
                        }
                    })
                }
                return rows
            }
        }
    }

    /// A statement that changes the database (tests that tamper with it).
    func execute(_ sql: String) async throws {
        switch self {
        case .sqlite(let path):
            try DatabaseQueue(path: path).inDatabase { db in try db.execute(sql: sql) }
        case .postgres:
            _ = try await rows(sql)
        }
    }

    func strings(_ sql: String, _ arguments: [(any Sendable)?] = []) async throws -> [String?] {
        try await rows(sql, arguments).map { $0.first ?? nil }
    }

    func int(_ sql: String, _ arguments: [(any Sendable)?] = []) async throws -> Int? {
        try await rows(sql, arguments).first?.first?.flatMap { Int($0) }
    }

    private static func databaseValue(_ value: (any Sendable)?) -> (any DatabaseValueConvertible)? {
        switch value {
        case let text as String: text
        case let number as Int: number
        case let number as Int64: number
        default: nil
        }
    }

    /// `?` → `$1`, `$2`… (the tests' SQL has no `?` inside literals).
    private static func numbered(_ sql: String) -> String {
        var result = ""
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static let logger = Logger(label: "tests.postgres")

    private static func postgres<T: Sendable>(_ url: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let components = URLComponents(string: url)!
        let configuration = PostgresConnection.Configuration(
            host: components.host!, port: components.port!, username: components.user!, password: nil,
            database: String(components.path.dropFirst()), tls: .disable)
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
