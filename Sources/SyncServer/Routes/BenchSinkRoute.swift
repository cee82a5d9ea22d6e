import Foundation
import Hummingbird
import SyncCore

/// `POST /v1/bench/sink`: reads a request's body and throws it away, for
/// `attachment-bench`'s baseline (a plain HTTP upload of the same bytes to
/// the same server, next to an attachment's chunked upload;
/// docs/performance.md, "Attachments"). Registered only when the server
/// starts with `SYNC_BENCH_UPLOAD_SINK=1`: a server in use never has it, and
/// it is not in docs/openapi.yaml (OpenAPITests builds the router without
/// the variable). Authenticated as every `/v1` route, any role.
enum BenchSinkRoute {
    /// The variable that adds the route.
    static let variable = "SYNC_BENCH_UPLOAD_SINK"
    /// The largest body read: 64 MiB.
    static let limit = 64 * 1024 * 1024

    /// Adds the route to `api` when `environment` sets `SYNC_BENCH_UPLOAD_SINK=1`.
    static func add(to api: RouterGroup<SyncRequestContext>, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment[variable] == "1" else { return }
        api.post("bench/sink", use: sink)
    }

    /// 200 `{"bytes": n}`, n the body's length in bytes; 413 past `limit`
    /// (the rest of the body is not read).
    @Sendable static func sink(_ request: Request, context: SyncRequestContext) async throws -> Response {
        var bytes = 0
        for try await buffer in request.body {
            bytes += buffer.readableBytes
            guard bytes <= limit else { throw APIError(.contentTooLarge, "The bench sink reads at most \(limit) bytes.") }
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"bytes\":\(bytes)}")))
    }
}
