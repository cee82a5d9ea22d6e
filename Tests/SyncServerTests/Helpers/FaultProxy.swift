import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// What the network does to one HTTP exchange passing through a `FaultProxy`.
enum NetworkFault: Sendable, Equatable, CustomStringConvertible {
    /// Passed on untouched.
    case none
    /// The request reaches the server, which answers (a push has committed by
    /// then); the device's connection is closed without a byte of the reply.
    case dropReply
    /// The reply is passed on after this many milliseconds (a slow link, under
    /// the device's stall timeout).
    case delay(milliseconds: Int)
    /// The server's whole reply is read, then only its status line, headers and
    /// half of its body reach the device before the connection closes.
    case cutReply
    /// Half of the request's bytes reach the server, then both connections close.
    case cutRequest
    /// The device's connection is closed as soon as its request has arrived:
    /// nothing reaches the server.
    case closeConnection
    /// The request is delivered to the server twice (a retransmission), and
    /// both replies are written to the device one after the other.
    case answerTwice
    /// One byte of the request's body is flipped on the way (a link that
    /// damages data under TCP's checksum): the server gets the rest intact.
    case corruptBody

    var description: String {
        switch self {
        case .none: "none"
        case .dropReply: "reply dropped"
        case .delay(let milliseconds): "reply delayed \(milliseconds) ms"
        case .cutReply: "reply cut halfway"
        case .cutRequest: "request cut halfway"
        case .closeConnection: "connection closed"
        case .answerTwice: "answered twice"
        case .corruptBody: "request body damaged"
        }
    }
}

/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1, between the real `field`
/// binary and a real `sync-server`: `field login --server proxy.url`.
///
/// Each connection carries one exchange (libcurl, which `field` uses, opens a
/// connection a request). The proxy reads the whole request (headers and a
/// `Content-Length` body), asks `rule` what to do with it, forwards it on a
/// connection of its own, reads the server's whole reply (`Content-Length` or
/// chunked) and passes it on, or not, as the fault says. Blocking sockets on
/// one thread per connection: nothing here needs a timer, so it works under
/// `faketime` too.
final class FaultProxy: @unchecked Sendable {
    /// One request seen by the proxy, in the order they arrived (from 0).
    struct Exchange: Sendable {
        let index: Int
        let method: String
        /// Without the leading slash or the query: `v1/push`, `v1/pull`, `healthz`.
        let path: String
    }

    let url: URL
    private let listener: Int32
    private let target: UInt16
    private let lock = NSLock()
    private var rule: @Sendable (Exchange) -> NetworkFault = { _ in .none }
    private var exchanges: [(Exchange, NetworkFault)] = []
    private var replies: [Int: String] = [:]

    /// Listens on a free port of 127.0.0.1 and forwards to `server`'s port.
    init(to server: ServerProcess) throws {
        target = UInt16(server.url.port!)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(listener, 64) == 0 else {
            close(listener)
            throw TestFailure("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        url = URL(string: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))")!
        // The thread holds the proxy weakly: dropping the proxy shuts its socket down, which ends the thread.
        let reference = WeakReference(self)
        Thread { Self.acceptLoop(listener, reference) }.start()
    }

    /// What to do with each later request.
    func setRule(_ rule: @escaping @Sendable (Exchange) -> NetworkFault) {
        lock.withLock { self.rule = rule }
    }

    /// Every request seen so far and the fault it met.
    var history: [(exchange: Exchange, fault: NetworkFault)] {
        lock.withLock { exchanges.map { ($0.0, $0.1) } }
    }

    /// The server's whole reply to the exchange numbered `index` (status
    /// line, headers, body), as text; nil if none came.
    func reply(to index: Int) -> String? {
        lock.withLock { replies[index] }
    }

    /// Stops accepting; exchanges in progress finish on their own threads.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit {
        // The accept thread closes the socket once it has returned.
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private final class WeakReference: @unchecked Sendable {
        weak var proxy: FaultProxy?
        init(_ proxy: FaultProxy) { self.proxy = proxy }
    }

    private static func acceptLoop(_ listener: Int32, _ reference: WeakReference) {
        defer { close(listener) }
        while true {
            // Children the tests start close every descriptor from 3 up (ChildProcess): no leak.
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // shut down
            }
            guard let proxy = reference.proxy else {
                close(client)
                return
            }
            Thread {
                proxy.handle(client)
                close(client)
            }.start()
        }
    }

    private func handle(_ client: Int32) {
        guard let request = Self.readMessage(client, isRequest: true) else { return }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self).split(separator: " ")
        let method = line.first.map(String.init) ?? "?"
        var path = line.count > 1 ? String(line[1]) : "/"
        if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        let (index, fault): (Int, NetworkFault) = lock.withLock {
            let exchange = Exchange(index: exchanges.count, method: method, path: String(path.drop { $0 == "/" }))
            let fault = rule(exchange)
            exchanges.append((exchange, fault))
            return (exchange.index, fault)
        }
        switch fault {
        case .closeConnection:
            return
        case .cutRequest:
            guard let server = connectToServer() else { return }
            Self.writeAll(server, request.prefix(request.count / 2))
            shutdown(server, Int32(SHUT_WR))
            _ = Self.readMessage(server, isRequest: false)  // whatever the server says to half a request
            close(server)
            return
        default:
            break
        }
        var sent = request
        if fault == .corruptBody, let end = Self.headerEnd(sent), end < sent.count {
            sent[end + (sent.count - end) / 2] ^= 0x01
        }
        guard let reply = forward(sent) else { return }
        lock.withLock { replies[index] = String(decoding: reply, as: UTF8.self) }
        switch fault {
        case .dropReply:
            return
        case .delay(let milliseconds):
            usleep(useconds_t(milliseconds * 1_000))  // the injected fault itself, not a wait for something
            Self.writeAll(client, reply)
        case .cutReply:
            let headerEnd = Self.headerEnd(reply) ?? reply.count
            Self.writeAll(client, reply.prefix(headerEnd + (reply.count - headerEnd) / 2))
        case .answerTwice:
            let second = forward(request) ?? []
            Self.writeAll(client, reply + second)
        default:
            Self.writeAll(client, reply)
        }
    }

    /// Sends the request on a new connection and reads the whole reply.
    private func forward(_ request: [UInt8]) -> [UInt8]? {
        guard let server = connectToServer() else { return nil }
        defer { close(server) }
        Self.writeAll(server, request)
        return Self.readMessage(server, isRequest: false)
    }

    private func connectToServer() -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = Self.loopback(port: target)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    private static func writeAll<C: Collection>(_ fd: Int32, _ bytes: C) where C.Element == UInt8 {
        let data = Array(bytes)
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { send(fd, $0.baseAddress! + offset, data.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// The index just past the blank line that ends the headers.
    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    /// One whole HTTP/1.1 message: headers, then a `Content-Length` body, a
    /// chunked body, or (a reply without either) what comes until the close.
    private static func readMessage(_ fd: Int32, isRequest: Bool) -> [UInt8]? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        func more() -> Bool {
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return false }
                buffer += chunk.prefix(count)
                return true
            }
        }
        var end: Int?
        while end == nil {
            end = headerEnd(buffer)
            if end == nil, !more() { return nil }
        }
        let headers = String(decoding: buffer.prefix(end!), as: UTF8.self).lowercased()
        var length: Int?
        var chunked = false
        for line in headers.split(separator: "\r\n") {
            if line.hasPrefix("content-length:") { length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
            if line.hasPrefix("transfer-encoding:"), line.contains("chunked") { chunked = true }
        }
        if let length {
            while buffer.count < end! + length { if !more() { return buffer } }
            return Array(buffer.prefix(end! + length))
        }
        if chunked {
            let terminator: [UInt8] = Array("0\r\n\r\n".utf8)
            while !(buffer.count >= end! + 5 && Array(buffer.suffix(5)) == terminator) { if !more() { return buffer } }
            return buffer
        }
        if isRequest { return buffer }
        while more() {}
        return buffer
    }
}
