import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// How the device reaches the server. `HTTPTransport` is the real one; tests
/// wrap it to lose replies on purpose.
public protocol SyncTransport: Sendable {
    func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data)
    func post(_ path: String, body: Data) async throws -> (status: Int, body: Data)
}

/// HTTP with Foundation's URLSession (libcurl on Linux): no extra package to
/// build, and the platform's proxy and certificate handling.
public struct HTTPTransport: SyncTransport {
    public let server: URL
    let token: String
    /// Sent as `Field-Device`, so the server knows which registered device acts.
    let device: String?
    let session: URLSession

    public init(server: URL, token: String, device: String? = nil, timeout: TimeInterval = 30) {
        self.server = server
        self.token = token
        self.device = device
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = 1
        self.session = URLSession(configuration: configuration)
    }

    public func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data) {
        var components = URLComponents(url: server.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        components.queryItems = query.isEmpty ? nil : query
        var request = URLRequest(url: components.url!)
        request.httpMethod = "GET"
        return try await send(request)
    }

    public func post(_ path: String, body: Data) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: server.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        return try await send(request)
    }

    private func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        var request = request
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let device { request.setValue(device, forHTTPHeaderField: "Field-Device") }
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}
