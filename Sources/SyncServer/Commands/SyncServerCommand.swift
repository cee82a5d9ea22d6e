import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import SyncCore

@main
struct SyncServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-server",
        abstract: "The central server devices sync referrals with.",
        subcommands: [Serve.self, UserCommand.self, DeviceCommand.self, AuditCommand.self, ReceiptCommand.self, KeyCommand.self, Backup.self, Restore.self, MigrateStore.self, Export.self, FormCommand.self])

    /// Whatever the server writes (the database and its companions, backups)
    /// holds referral content or leads to it: nothing it creates is readable
    /// by other users.
    static func main() async {
        umask(0o077)
        await main(nil)
    }
}

/// `sync-server backup`: a consistent copy of a live SQLite database, `0600`.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite database, while the server runs, to a new file readable by its owner only (0600).",
        discussion: "PostgreSQL is backed up with PostgreSQL's own tools (pg_dump, base backups); see docs/operations.md.")
    @OptionGroup var storage: StorageOptions
    @Option(help: "The new file to write; an existing file is never overwritten.") var to: String

    func run() async throws {
        guard storage.postgresURL == nil else {
            throw OperatorError("A PostgreSQL database is backed up with pg_dump or base backups, not with sync-server backup (docs/operations.md).")
        }
        guard let sqlite = try await storage.open() as? SQLiteStorage else { return }
        do {
            try sqlite.backup(to: to)
        } catch let error as StorageError {
            throw OperatorError(error.description)
        }
        print("Backed up '\(storage.db)' to '\(to)' (0600).")
    }
}

/// `--db` or `--postgres`, shared by every subcommand that opens the store.
struct StorageOptions: ParsableArguments {
    @Option(help: "The SQLite database file; only `serve` and `user add` create it when it is missing.")
    var db = "sync-server.sqlite"

    @Option(help: ArgumentHelp(
        "A PostgreSQL database instead of SQLite: postgres://user[:password]@host[:port]/database (migrated on start). Also read from DATABASE_URL.",
        valueName: "url"))
    var postgres: String?

    @Option(help: ArgumentHelp(
        "With --postgres: connections this process opens at most; requests beyond them wait for one. Keep the sum over instances below PostgreSQL's max_connections.",
        valueName: "n"))
    var postgresConnections = PostgresConnections.defaultMaximum

    func validate() throws {
        guard postgresConnections >= 1 else {
            throw ValidationError("--postgres-connections needs 1 or more, not \(postgresConnections).")
        }
    }

    /// `--postgres`, else `DATABASE_URL`, else nil (SQLite).
    var postgresURL: String? {
        postgres ?? ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens the store. A missing SQLite file is created only when
    /// `creatingIfMissing` (`serve`, `user add`): every other command needs
    /// the database the server already has, and a mistyped `--db` must not
    /// quietly give it a new empty one.
    /// - Parameter chaining: how PostgreSQL chains audit entries after their
    ///   commits: a command chains its own before it returns, `serve` has a
    ///   sequencer.
    /// - Parameter serving: for `serve`: the store is marked as held by a
    ///   running server (`ServingLock`), which `restore` refuses to replace.
    func open(creatingIfMissing: Bool = false, chaining: AuditChaining = .beforeReturning, serving: Bool = false) async throws -> any SyncStorage {
        if let text = postgresURL {
            guard let url = PostgresURL(text) else {
                throw OperatorError("'\(text.prefix(200))' is not a PostgreSQL address: postgres://user[:password]@host[:port]/database.")
            }
            do {
                return try await PostgresStorage(
                    url: url, maximumConnections: postgresConnections, chaining: chaining,
                    applicationName: serving ? ServingLock.applicationName : "sync-server")
            } catch {
                throw OperatorError("Cannot open the PostgreSQL database \(url): \(String(reflecting: error)).")
            }
        }
        guard creatingIfMissing || FileManager.default.fileExists(atPath: db) else {
            throw OperatorError("There is no database '\(db)'; give the server's database with --db (only `serve` and `user add` create a new one).")
        }
        do {
            let store = try SQLiteStorage(path: db)
            if serving { try ServingLock.holdWhileServing(db) }
            return store
        } catch let error as OperatorError {
            throw error
        } catch let error as StorageError {
            throw OperatorError(error.description)
        } catch {
            throw OperatorError("Cannot open the database '\(db)': \(error).")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync protocol over HTTP, or HTTPS with --tls-cert and --tls-key, until SIGTERM or SIGINT.",
        discussion: "Serve HTTPS (TLS 1.2 or later) whenever devices reach the server over a network: they send their token on every request. On SIGTERM or SIGINT the server stops accepting connections and lets in-flight requests finish; a push is one transaction, so it is applied whole or not at all.")

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on; 0 picks a free one (printed on start).") var port = 8080
    @Option(help: "The authority's configuration (time zone, bank holidays) for deadlines; the shipped example by default.")
    var authority: String?
    @Option(help: "The server's certificate chain, PEM (server certificate first); serves HTTPS with --tls-key.")
    var tlsCert: String?
    @Option(help: "The private key of --tls-cert, PEM, unencrypted.") var tlsKey: String?
    @Option(help: "Failed authentications a device (Field-Device, else address) may have within the window before it gets 429s.")
    var authFailureLimit = 10
    @Option(help: "The window for failed authentications, in seconds; a blocked device waits until it has passed.")
    var authFailureWindow = 300
    @Option(help: "Failed authentications one remote address may have within the window, whatever devices it names.")
    var authFailureAddressLimit = 100
    @Option(name: .customLong("require-totp"), help: ArgumentHelp(
        "A role (intake or admin) whose users must give a code from an authenticator app to sign in to the web console; repeat for both. Set each user's with `sync-server user totp NAME`.",
        valueName: "role"))
    var requireTOTP: [Role] = []
    @Option(help: "Minutes a web console session may stay unused before it ends.") var consoleIdleMinutes = 30
    @Option(help: "Seconds a connection may stay open with no request in progress (idle keep-alive, or a request's head still arriving) before it is closed.")
    var idleTimeout = 30
    @Option(help: "Seconds a request's body may go without a byte arriving, or a client without reading its responses, before its connection is closed; after it, a body must average 240 bytes a second.")
    var stallTimeout = 60
    @Option(help: "The most connections one remote address may hold at once (the next is closed when accepted); 0 for no cap, as a load test from one machine needs.")
    var maxConnectionsPerAddress = 128
    @OptionGroup var storage: StorageOptions
    @OptionGroup var receiptKey: ReceiptKeyOptions

    func validate() throws {
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be from 1 to 3600 seconds; got \(idleTimeout).") }
        guard (1...3600).contains(stallTimeout) else { throw ValidationError("--stall-timeout must be from 1 to 3600 seconds; got \(stallTimeout).") }
        guard maxConnectionsPerAddress >= 0 else {
            throw ValidationError("--max-connections-per-address must be 0 (no cap) or more; got \(maxConnectionsPerAddress).")
        }
        guard !requireTOTP.contains(.practitioner) else {
            throw ValidationError("--require-totp takes intake or admin: practitioners do not sign in to the web console.")
        }
        guard (1...1440).contains(consoleIdleMinutes) else {
            throw ValidationError("--console-idle-minutes must be from 1 to 1440; got \(consoleIdleMinutes).")
        }
        guard authFailureLimit >= 1 else { throw ValidationError("--auth-failure-limit must be at least 1; got \(authFailureLimit).") }
        guard authFailureAddressLimit >= 1 else {
            throw ValidationError("--auth-failure-address-limit must be at least 1; got \(authFailureAddressLimit).")
        }
        guard authFailureWindow >= 1 else { throw ValidationError("--auth-failure-window must be at least 1 second; got \(authFailureWindow).") }
    }

    func run() async throws {
        var logger = Logger(label: "sync-server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var configuration = ServerConfiguration(
            host: host, port: port, authFailureLimit: authFailureLimit, authFailureWindow: TimeInterval(authFailureWindow),
            authFailureAddressLimit: authFailureAddressLimit)
        configuration.console.secondFactorRoles = Set(requireTOTP)
        configuration.console.idleTimeout = TimeInterval(consoleIdleMinutes * 60)
        configuration.connections = ConnectionLimits(
            idleTimeout: .seconds(Int64(idleTimeout)), stallTimeout: .seconds(Int64(stallTimeout)),
            maximumPerAddress: maxConnectionsPerAddress == 0 ? nil : maxConnectionsPerAddress)
        if let authority {
            do { configuration.authority = try Authority.load(contentsOf: URL(fileURLWithPath: authority)) } catch {
                throw OperatorError("\(error)")
            }
        }
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?):
            do { configuration.tls = try TLSFiles.configuration(certificate: cert, key: key) } catch let error as TLSFileError {
                throw OperatorError(error.description)
            }
        case (nil, nil):
            break
        case (_?, nil):
            throw ValidationError("--tls-cert needs --tls-key, the certificate's private key.")
        case (nil, _?):
            throw ValidationError("--tls-key needs --tls-cert, the certificate it belongs to.")
        }
        if let file = ProcessInfo.processInfo.environment["SYNC_SERVER_TEST_CLOCK_FILE"] {
            // Tests move a running server in time by rewriting this file.
            let clock = FileClock(path: file)
            configuration.clock = clock
            configuration.ids = UUIDv7Generator(clock: clock)
        } else if let fixed = ProcessInfo.processInfo.environment["SYNC_SERVER_TEST_NOW"], let start = Timestamp.date(fixed) {
            let clock = SteppingClock(start: start, step: 0.001)
            configuration.clock = clock
            // With a seed too, ids (conflicts, receipts) repeat from run to run.
            configuration.ids = UUIDv7Generator(clock: clock, seed: ProcessInfo.processInfo.environment["SYNC_SERVER_TEST_SEED"].flatMap(UInt64.init))
        }
        configuration.deniedAttempts = DeniedAttempts(clock: configuration.clock)
        let store = try await storage.open(creatingIfMissing: true, chaining: .sequencer, serving: true)
        // Referrals submitted before each had its own reference get one now (docs/intake.md, "References").
        try await PushEngine(clock: configuration.clock, ids: configuration.ids).giveMissingReferences(in: store)
        // Referrals submitted before the person index existed are indexed now (docs/intake.md, "Known to the front door").
        try await store.indexUnindexedReferrals()
        configuration.receiptSigner = try await ReceiptSigner(path: receiptKey.path(storage), storage: store, clock: configuration.clock, logger: logger)
        let app = try buildApplication(configuration, storage: store, metrics: ServerMetrics(registry: registry), logger: logger)
        try await app.runService()
        // Refusals counted but not yet written (a flood's "… and K more denied") are written before the process ends.
        await DeniedAudit(storage: store, attempts: configuration.deniedAttempts!).sweep(all: true, logger: logger)
        // The last requests' audit entries are chained before the process
        // ends (PostgreSQL chains them just after their commits); with
        // PostgreSQL unreachable, they wait for the next start.
        await (store as? PostgresStorage)?.auditSettled(within: .seconds(5))
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage users.", subcommands: [AddUser.self, ListUsers.self, RotateToken.self, DisableUser.self, EnableUser.self, SetRole.self, SetPassword.self, SetTOTP.self])
}

extension Role: ExpressibleByArgument {}

struct AddUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a user and print their bearer token, once.",
        discussion: "Only a hash of the token is stored: copy it now, it cannot be shown again.")

    @Argument(help: "The user's name, as it appears on every change they make.") var name: String
    @Option(help: "practitioner, intake or admin.") var role: Role
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 100 else {
            throw ValidationError("A user name must have 1 to 100 characters; got '\(TerminalText.visible(name))'.")
        }
        // A name is shown on every change and in every table: nothing in it may drive a terminal.
        guard !trimmed.unicodeScalars.contains(where: { TerminalText.isHidden($0) || $0 == "\n" || $0 == "\t" }) else {
            throw ValidationError("A user name may not hold control characters; got '\(TerminalText.visible(name))'.")
        }
        let token = Tokens.make()
        do {
            _ = try await storage.open(creatingIfMissing: true).addUser(
                name: trimmed, role: role, tokenHash: Tokens.hash(token), by: OperatorActor.current, at: Timestamp.string(Date()))
        } catch let error as StorageError {
            throw OperatorError(error.description)
        }
        print(token)
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Read and check the audit trail.", subcommands: [ShowAudit.self, VerifyAudit.self])
}

struct VerifyAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the audit trail's hash chain and name the first entry that does not match.",
        discussion: "Exits 0 when the chain is intact, 1 when it is broken. On PostgreSQL, entries the servers have committed but not yet chained (a server chains its own just after their commits, and its next start chains what a killed one left) are chained first. With --receipts, the chain is also checked against receipts devices were given, held outside the server: a chain whose newest entries were deleted, or rewritten whole, still links up, but no longer holds the entries those receipts name.")
    @Option(help: ArgumentHelp("A folder of receipts exported with `field receipt export` (*.json): each must be genuine, its changes held, and its audit entry still on the chain.", valueName: "dir"))
    var receipts: String?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        var failed = false
        switch try await store.verifyAudit() {
        case .intact(let entries):
            print("The audit trail of \(entries) entries is intact.")
        case .broken(_, let description):
            print("The audit trail is broken at \(description): it or an entry before it was altered, removed or reordered.")
            failed = true
        }
        if let receipts {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: receipts) else {
                throw OperatorError("Cannot read the folder of receipts '\(receipts)'.")
            }
            let files = names.filter { $0.hasSuffix(".json") }.sorted()
            guard !files.isEmpty else {
                throw OperatorError("There are no receipts (*.json, as `field receipt export` writes them) in '\(receipts)': nothing was checked against them.")
            }
            let check = ReceiptCheck(keys: try await store.receiptKeys(), storage: store)
            var held = 0
            for name in files {
                let path = (receipts as NSString).appendingPathComponent(name)
                do {
                    _ = try await check.check(try ReceiptCheck.read(path))
                    held += 1
                } catch let error as ReceiptError {
                    print("\(name): \(error.description)")
                    failed = true
                } catch let error as OperatorError {
                    print("\(name): \(error.description)")
                    failed = true
                }
            }
            print("\(held) of \(files.count) receipt\(files.count == 1 ? "" : "s") in '\(receipts)' hold against this server's store.")
        }
        if failed { throw ExitCode(1) }
    }
}

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: "List and revoke devices.", subcommands: [ListDevices.self, RevokeDevice.self])
}

struct RevokeDevice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a lost or stolen device (or a leaver's): every call from it is refused, and it erases its referral data when it next reaches the server.",
        discussion: """
            The device signed in with a token of its own, issued when it registered and bound to its id; that token \
            stops working at once. The user's token was never stored on the device: rotate it as well \
            (`sync-server user rotate-token NAME`) only if the user may have written it down where a thief could find it.
            """)
    @Argument(help: "The device's id, or a start of it that no other device's id has (shown by `field login` and `sync-server device list`).")
    var id: String
    @OptionGroup var reason: ReasonOption
    @Flag(help: "For a laptop still in its owner's hands (a leaver): the server takes the changes of its submitted referrals at its next contact, then it erases; drafts are erased.")
    var sendSubmittedFirst = false
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        let device = try await DevicePrefix.resolve(id, in: store)
        let mode: RevokeMode = sendSubmittedFirst ? .sendSubmitted : .erase
        switch try await store.revoke(device: device, by: OperatorActor.current, reason: reason.reason, at: Timestamp.string(Date()), mode: mode) {
        case .noSuchDevice:
            throw OperatorError("There is no device with id '\(device)'.")
        case .alreadyRevoked(let at, let by):
            print("Device \(device) was already revoked at \(at) by \(by); nothing changed.")
        case .revoked:
            print("Device \(device) is revoked" + (sendSubmittedFirst
                ? "; at its next contact it sends its submitted referrals, then erases its referral data."
                : "; it erases its referral data at its next contact, and `device list` will show any unsent work it erased."))
        }
    }
}

/// A test clock a test can move while the server runs: each reading is the
/// time written in the file (`2026-11-23T10:00:00Z`), moved on by 1 ms per
/// reading since the file last changed, so stamps stay distinct.
final class FileClock: WallClock, @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var written: String = ""
    private var stepping = SteppingClock(start: Date(timeIntervalSince1970: 0), step: 0.001)

    init(path: String) {
        self.path = path
    }

    func now() -> Date {
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return lock.withLock {
            if text != written, let start = Timestamp.date(text) {
                written = text
                stepping = SteppingClock(start: start, step: 0.001)
            }
            return stepping.now()
        }
    }
}
