import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

/// How long a connection may hold the server without doing its part, and how
/// many one address may hold (`serve --idle-timeout`, `--body-timeout`,
/// `--max-connections-per-address`; docs/operations.md, "Connections").
struct ConnectionLimits: Sendable {
    /// A connection with no request in progress (idle between keep-alive
    /// requests, or still sending a request's head) is closed after this
    /// long: Hummingbird's idle timer, which only a whole head resets.
    var idleTimeout: TimeAmount = .seconds(30)
    /// A request whose body makes no progress for this long is closed. A
    /// slow link that keeps sending is never cut.
    var bodyTimeout: TimeAmount = .seconds(60)
    /// The most connections one remote address may hold at once; the next
    /// is closed as soon as it is accepted. Nil for no cap (a load test
    /// that plays a thousand devices from one address).
    var maximumPerAddress: Int? = 128
}

/// Counts open connections per remote address, shared by every connection's `ConnectionGuard`.
final class AddressConnections: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    /// Counts a new connection from `address`; false (and not counted) when
    /// the address already holds `maximum`.
    func open(_ address: String, maximum: Int) -> Bool {
        counts.withLockedValue { counts in
            let held = counts[address, default: 0]
            guard held < maximum else { return false }
            counts[address] = held + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLockedValue { counts in
            let held = counts[address, default: 1] - 1
            counts[address] = held > 0 ? held : nil
        }
    }

    /// Connections `address` holds now.
    func held(by address: String) -> Int { counts.withLockedValue { $0[address, default: 0] } }
}

/// One connection's guard, after HTTP decoding: closes it when its address
/// already holds the most connections allowed, and when a request's body
/// stops arriving for `ConnectionLimits.bodyTimeout`. Idle connections and
/// slow heads are Hummingbird's idle timer's (`ConnectionLimits.idleTimeout`).
/// So an address that opens hundreds of sockets and sends nothing, or a
/// byte now and then, holds a bounded number of descriptors for a bounded
/// time, and `/healthz` and pushes from others still answer.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let limits: ConnectionLimits
    let addresses: AddressConnections
    private var counted: String?
    private var bodyDeadline: Scheduled<Void>?

    init(limits: ConnectionLimits, addresses: AddressConnections) {
        self.limits = limits
        self.addresses = addresses
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        bodyDeadline?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
        bodyDeadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head, .body: armBodyDeadline(context)
        case .end:
            bodyDeadline?.cancel()
            bodyDeadline = nil
        }
        context.fireChannelRead(data)
    }

    /// Counts the connection against its address, or closes it at once.
    private func admit(_ context: ChannelHandlerContext) {
        guard counted == nil, let maximum = limits.maximumPerAddress else { return }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if addresses.open(address, maximum: maximum) {
            counted = address
        } else {
            context.close(promise: nil)
        }
    }

    private func release() {
        if let address = counted { addresses.close(address) }
        counted = nil
    }

    private func armBodyDeadline(_ context: ChannelHandlerContext) {
        bodyDeadline?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        bodyDeadline = context.eventLoop.scheduleTask(in: limits.bodyTimeout) {
            loopBound.value.close(promise: nil)
        }
    }
}

extension ConnectionLimits {
    /// Hummingbird's HTTP/1.1 channel with these limits.
    func http1Configuration(_ addresses: AddressConnections) -> HTTP1Channel.Configuration {
        let limits = self
        return HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuard(limits: limits, addresses: addresses)],
            idleTimeout: idleTimeout)
    }
}
