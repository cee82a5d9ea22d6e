import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import HTTPTypes
import NIOCore
import SyncCore

/// What `serve` needs to build the application.
struct ServerConfiguration {
    var host = "127.0.0.1"
    var port = 8080
    var clock: any WallClock = SystemClock()
    var ids: any IDGenerator = UUIDv7Generator()
    /// Bank holidays and the time zone deadlines are computed in.
    var authority: Authority = .example
    /// HTTPS with these certificate and key (`--tls-cert`, `--tls-key`); plain HTTP when nil.
    var tls: TLSConfiguration?
    /// Failed authentications a device (or address) may have within the window
    /// before it gets 429s until the window has passed.
    var authFailureLimit = 10
    var authFailureWindow: TimeInterval = 300
    /// The same per remote address, whatever `Field-Device` says: higher,
    /// because many devices may share an address behind a NAT.
    var authFailureAddressLimit = 100
    /// The web console's sign-in and sessions (`Secure` cookies follow `tls`).
    var console = ConsoleConfiguration()
    /// Timeouts and the per-address cap on connections.
    var connections = ConnectionLimits()
    /// The limiter of refusals written to the audit trail (`DeniedAttempts`);
    /// `serve` makes one on its clock, to write what it holds when it stops.
    /// Nil: `buildApplication` makes its own.
    var deniedAttempts: DeniedAttempts?
    /// Signs every push's receipt (`serve` loads or creates its key); nil
    /// leaves receipts unsigned (in-process tests of other things).
    var receiptSigner: ReceiptSigner?
}

/// Builds the application `serve` runs, with its routes and middleware.
func buildApplication(
    _ configuration: ServerConfiguration, storage: any SyncStorage, metrics: ServerMetrics, logger: Logger
) throws -> some ApplicationProtocol {
    let deniedAudit = DeniedAudit(storage: storage, attempts: configuration.deniedAttempts ?? DeniedAttempts(clock: configuration.clock))
    let router = buildRouter(configuration, storage: storage, metrics: metrics, deniedAudit: deniedAudit)
    let scheme = configuration.tls == nil ? "http" : "https"
    let http1 = configuration.connections.http1Configuration(AddressConnections())
    return Application(
        router: router,
        server: try configuration.tls.map { try .tls(.http1(configuration: http1), tlsConfiguration: $0) } ?? .http1(configuration: http1),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "sync-server"),
        onServerRunning: { channel in
            // Tests and scripts start the server on port 0 and read the real one here.
            let port = channel.localAddress?.port ?? configuration.port
            FileHandle.standardOutput.write(Data("listening on \(scheme)://\(configuration.host):\(port)\n".utf8))
            // A flood's "… and K more denied" is written soon after its window closes, even if no one calls again.
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(DeniedAudit.sweepInterval))
                    await deniedAudit.sweep(logger: logger)
                }
            }
        },
        logger: logger)
}

/// Every route and its middleware. `router.routes` is the list
/// `docs/openapi.yaml` is checked against (OpenAPITests).
/// - Parameter deniedAudit: where refusals on referral, export and staff
///   routes are audited; nil for one of its own on the configuration's clock.
func buildRouter(
    _ configuration: ServerConfiguration, storage: any SyncStorage, metrics: ServerMetrics, deniedAudit: DeniedAudit? = nil
) -> Router<SyncRequestContext> {
    let deniedAudit = deniedAudit ?? DeniedAudit(storage: storage, attempts: configuration.deniedAttempts ?? DeniedAttempts(clock: configuration.clock))
    let router = Router(context: SyncRequestContext.self)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: RequestLogMiddleware())
    // Inside the log's middleware, so a full disk is logged as the 503 it becomes.
    router.add(middleware: StorageErrorMiddleware())
    router.get("healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    router.get("metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }
    let forms = FormRegistry(storage: storage)
    let engine = PushEngine(clock: configuration.clock, ids: configuration.ids)
    let limiter = AuthFailureLimiter(limit: configuration.authFailureLimit, window: configuration.authFailureWindow, clock: configuration.clock)
    let addressLimiter = AuthFailureLimiter(
        limit: configuration.authFailureAddressLimit, window: configuration.authFailureWindow, clock: configuration.clock)
    // Refusals are audited outside authentication, so its 401s and 403s are too.
    let api = router.group("v1").add(middleware: DeniedAuditMiddleware(audit: deniedAudit))
        .add(middleware: AuthenticationMiddleware(storage: storage, limiter: limiter, addressLimiter: addressLimiter))
    // The receipt keys are public: anyone checking a receipt may fetch them.
    router.get("v1/keys", use: ReceiptKeyRoutes(storage: storage).keys)
    SyncRoutes(storage: storage, engine: engine, forms: forms, metrics: metrics, signer: configuration.receiptSigner).add(to: api)
    FormRoutes(storage: storage, forms: forms).add(to: api)
    let frontDoor = FrontDoor(forms: forms, clock: configuration.clock, authority: configuration.authority)
    FrontDoorRoutes(storage: storage, frontDoor: frontDoor).add(to: api)
    ConflictRoutes(storage: storage, resolution: ConflictResolution(forms: forms, clock: configuration.clock)).add(to: api)
    ExportRoutes(storage: storage, forms: forms, clock: configuration.clock).add(to: api)
    AttachmentRoutes(storage: storage, forms: forms, clock: configuration.clock).add(to: api)
    BenchSinkRoute.add(to: api)  // only with SYNC_BENCH_UPLOAD_SINK=1 (attachment-bench)
    var console = configuration.console
    console.secure = configuration.tls != nil
    ConsoleRoutes(
        storage: storage,
        sessions: ConsoleSessions(
            storage: storage, clock: configuration.clock, configuration: console,
            limiter: AuthFailureLimiter(limit: configuration.authFailureLimit, window: configuration.authFailureWindow, clock: configuration.clock),
            addressLimiter: addressLimiter),
        frontDoor: frontDoor,
        resolution: ConflictResolution(forms: forms, clock: configuration.clock),
        calendar: WorkingCalendar(authority: configuration.authority), authority: configuration.authority, deniedAudit: deniedAudit
    ).add(to: router)
    // Added last, so it wraps only the not-found responder: a request no route took.
    router.add(middleware: UnroutedMiddleware(routes: router.routes.map { ($0.method, $0.path.description) }))
    return router
}
