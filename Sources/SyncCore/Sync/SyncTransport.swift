import CCurl
import Foundation

/// How the device reaches the server. `HTTPTransport` is the real one; tests
/// wrap it to lose replies on purpose.
public protocol SyncTransport: Sendable {
    func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data)
    func post(_ path: String, body: Data) async throws -> (status: Int, body: Data)
    /// A POST of raw bytes (an attachment's chunk) with its own content type
    /// and extra header lines (`Content-Digest: sha-256=:…:`).
    func post(_ path: String, bytes: Data, contentType: String, headers: [String]) async throws -> (status: Int, body: Data)
}

/// Why a request got no reply. `SyncClient` reports an untrusted certificate
/// as `SyncError.untrusted` and anything else as `SyncError.unreachable`.
public enum TransportError: Error, Equatable, Sendable, LocalizedError {
    /// The server's certificate was not signed by an authority this device
    /// trusts, names another host or has expired.
    case untrustedCertificate(String)
    /// No reply: refused, timed out, no route.
    case failed(String)
    /// The connection was made, then broke before a whole reply came back
    /// (closed without a reply, or halfway through one): the server may or
    /// may not have applied the request.
    case interrupted(String)

    public var errorDescription: String? {
        switch self {
        case .untrustedCertificate(let reason), .failed(let reason), .interrupted(let reason): reason
        }
    }
}

/// HTTP and HTTPS with libcurl (the `CCurl` shim), one connection a request.
/// Always verifies the server's certificate and name, with TLS 1.2 or later;
/// `trustedCA` (PEM, from `field login --ca`) replaces the system's
/// authorities for a server with a private CA. Foundation's URLSession on
/// Linux cannot be given a CA, and SwiftNIO's client would slow every start
/// of `field` (docs/protocol.md, "Client choice").
public struct HTTPTransport: SyncTransport {
    public let server: URL
    let token: String
    /// Sent as `Field-Device`, so the server knows which registered device acts.
    let device: String?
    let trustedCA: String?
    /// Seconds to connect, and seconds a transfer may stall before it fails.
    let timeout: Int
    /// The longest reply read: a pull page is well under it.
    static let maximumReply = 256 * 1024 * 1024

    public init(server: URL, token: String, device: String? = nil, trustedCA: String? = nil, timeout: TimeInterval = 30) {
        self.server = server
        self.token = token
        self.device = device
        self.trustedCA = trustedCA
        self.timeout = max(1, Int(timeout.rounded(.up)))
    }

    public func get(_ path: String, query: [URLQueryItem]) async throws -> (status: Int, body: Data) {
        var components = URLComponents(url: server.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        components.queryItems = query.isEmpty ? nil : query
        return try await send(components.url!, body: nil)
    }

    public func post(_ path: String, body: Data) async throws -> (status: Int, body: Data) {
        try await send(server.appendingPathComponent(path), body: body)
    }

    public func post(_ path: String, bytes: Data, contentType: String, headers: [String]) async throws -> (status: Int, body: Data) {
        try await send(server.appendingPathComponent(path), body: bytes, contentType: contentType, extra: headers)
    }

    private func send(_ url: URL, body: Data?, contentType: String = "application/json", extra: [String] = []) async throws -> (status: Int, body: Data) {
        var headers = ["Authorization: Bearer \(token)"]
        if let device { headers.append("Field-Device: \(device)") }
        if body != nil { headers.append("Content-Type: \(contentType)") }
        headers += extra
        guard !headers.contains(where: { $0.contains(where: \.isNewline) }) else {
            throw TransportError.failed("the token or device id contains a line break")
        }
        let request = CurlRequest(url: url.absoluteString, headers: headers, body: body, trustedCA: trustedCA, timeout: timeout)
        // libcurl blocks its thread for the whole exchange: keep it off the
        // concurrency pool.
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try request.perform() }) }
        }
    }

    /// Whether plain HTTP to `url` stays on this machine (`localhost`,
    /// 127.0.0.0/8, `::1`), the only place `field login` allows it without
    /// `--allow-insecure-http`.
    public static func isLoopback(_ url: URL) -> Bool {
        guard var host = url.host?.lowercased() else { return false }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127"
            && octets.allSatisfy { (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } && Int($0)! <= 255 }
    }
}

/// One libcurl exchange, made on the thread that calls `perform`.
struct CurlRequest: Sendable {
    let url: String
    let headers: [String]
    let body: Data?
    let trustedCA: String?
    let timeout: Int

    func perform() throws -> (status: Int, body: Data) {
        var reply = field_http_reply()
        defer { field_http_free(&reply) }
        let lines = headers.map { strdup($0) }
        defer { lines.forEach { free($0) } }
        let pointers = lines.map { UnsafePointer<CChar>($0) }
        let payload = body ?? Data()
        pointers.withUnsafeBufferPointer { headerList in
            payload.withUnsafeBytes { bytes in
                withCA { ca, caLength in
                    _ = field_http_perform(
                        url, body == nil ? 0 : 1, headerList.baseAddress, headerList.count,
                        bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, ca, caLength,
                        timeout, timeout, HTTPTransport.maximumReply, &reply)
                }
            }
        }
        guard reply.code == 0 else {
            let message = withUnsafeBytes(of: reply.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if reply.certificate != 0 { throw TransportError.untrustedCertificate(message) }
            if reply.too_large != 0 { throw TransportError.failed("the reply is longer than \(HTTPTransport.maximumReply) bytes") }
            if let broken = Self.interruption(code: Int(reply.code)) { throw TransportError.interrupted(broken) }
            throw TransportError.failed(message)
        }
        let data = reply.body.map { Data(bytes: $0, count: reply.length) } ?? Data()
        return (Int(reply.status), data)
    }

    /// libcurl's codes for a connection that broke once made, in plain words
    /// (libcurl's own, "transfer closed with 269 bytes remaining to read",
    /// means nothing to a practitioner); nil for any other failure.
    static func interruption(code: Int) -> String? {
        switch code {
        case 52: "the connection closed before any reply"  // CURLE_GOT_NOTHING
        case 18: "the connection closed halfway through the reply"  // CURLE_PARTIAL_FILE
        case 55: "the connection broke while the request was being sent"  // CURLE_SEND_ERROR
        case 56: "the connection broke while the reply was awaited"  // CURLE_RECV_ERROR
        default: nil
        }
    }

    private func withCA<R>(_ body: (UnsafePointer<CChar>?, Int) -> R) -> R {
        guard let trustedCA else { return body(nil, 0) }
        return trustedCA.withCString { body($0, strlen($0)) }
    }
}
