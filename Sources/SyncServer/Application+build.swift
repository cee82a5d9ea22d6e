import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
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
}

/// Builds the application `serve` runs, with its routes and middleware.
func buildApplication(
    _ configuration: ServerConfiguration, storage: any SyncStorage, metrics: ServerMetrics, logger: Logger
) throws -> some ApplicationProtocol {
    let router = Router(context: SyncRequestContext.self)
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: RequestLogMiddleware())
    router.get("healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    router.get("metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }
    let engine = PushEngine(form: .standard, clock: configuration.clock, ids: configuration.ids)
    let api = router.group("v1").add(middleware: AuthenticationMiddleware(storage: storage))
    SyncRoutes(storage: storage, engine: engine, metrics: metrics).add(to: api)
    FrontDoorRoutes(
        storage: storage, frontDoor: FrontDoor(form: .standard, clock: configuration.clock),
        calendar: WorkingCalendar(authority: configuration.authority)
    ).add(to: api)

    let scheme = configuration.tls == nil ? "http" : "https"
    return Application(
        router: router,
        server: try configuration.tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "sync-server"),
        onServerRunning: { channel in
            // Tests and scripts start the server on port 0 and read the real one here.
            let port = channel.localAddress?.port ?? configuration.port
            FileHandle.standardOutput.write(Data("listening on \(scheme)://\(configuration.host):\(port)\n".utf8))
        },
        logger: logger)
}

/// One log line per request: method, route, status and time. Never bodies,
/// tokens or query values, so no referral content reaches the logs.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            context.logger.info("request", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "ms": "\(Self.milliseconds(since: start))",
            ])
            return response
        } catch let error as any HTTPResponseError {
            context.logger.notice("request refused", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)",
                "ms": "\(Self.milliseconds(since: start))",
            ])
            throw error
        } catch {
            context.logger.error("request failed", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(type(of: error))",
            ])
            throw error
        }
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        return String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
    }
}
