import BenchmarkSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 connection to 127.0.0.1, kept alive, one request at a time,
/// on a blocking socket: the same bytes for the same request every run, and
/// no client threads or connection pool between the benchmark and the
/// server (URLSession and libcurl's easy interface both add their own).
/// Reads replies with `Content-Length` or chunked bodies.
final class HTTPConnection {
    private let socket: Int32
    private let host: String
    private var buffer: [UInt8] = []

    /// Connects to `url`'s port on 127.0.0.1 (TCP_NODELAY).
    /// - Throws: `BenchmarkError` when the connection is refused.
    init(_ url: URL) throws {
        guard let port = url.port else { throw BenchmarkError("'\(url)' names no port.") }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw BenchmarkError("could not connect to 127.0.0.1:\(port): \(String(cString: strerror(errno))).")
        }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.socket = socket
        host = "127.0.0.1:\(port)"
    }

    deinit { close(socket) }

    /// Sends one request and reads its whole reply: the status and the body.
    /// - Parameters:
    ///   - target: the path and query, e.g. `/v1/pull?since=0&limit=100`.
    ///   - headers: extra header lines (`Authorization`, `Field-Device`).
    ///   - body: a JSON body (POST), or nil (GET).
    func send(_ target: String, headers: [(String, String)] = [], body: Data? = nil) throws -> (status: Int, body: Data) {
        var head = "\(body == nil ? "GET" : "POST") \(target) HTTP/1.1\r\nHost: \(host)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        try write(Array(head.utf8) + (body.map { Array($0) } ?? []))
        return try readReply()
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw BenchmarkError("the server closed the connection while a request was sent.") }
            sent += count
        }
    }

    /// Reads more bytes into the buffer.
    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw BenchmarkError("the server closed the connection before its whole reply.") }
        buffer += chunk[..<count]
    }

    /// Takes the bytes up to and excluding the next CRLF.
    private func line() throws -> String {
        while true {
            if let end = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                let text = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeFirst(end + 2)
                return text
            }
            try fill()
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    private func readReply() throws -> (status: Int, body: Data) {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw BenchmarkError("'\(statusLine.prefix(80))' is not an HTTP status line.")
        }
        var length = 0
        var chunked = false
        while true {
            let header = try line()
            if header.isEmpty { break }
            let pair = header.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard pair.count == 2 else { continue }
            if pair[0] == "content-length" { length = Int(pair[1]) ?? 0 }
            if pair[0] == "transfer-encoding", pair[1].contains("chunked") { chunked = true }
        }
        guard chunked else { return (status, Data(try take(length))) }
        var body: [UInt8] = []
        while true {
            let size = Int(try line().split(separator: ";").first ?? "", radix: 16) ?? 0
            if size == 0 {
                while try !line().isEmpty {}  // trailers
                return (status, Data(body))
            }
            body += try take(size)
            _ = try line()
        }
    }
}
