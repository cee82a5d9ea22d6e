import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import SyncCore

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
