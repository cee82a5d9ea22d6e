import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes

/// How long a connection may hold the server without doing its part, and how
/// many one address may hold (`serve --idle-timeout`, `--stall-timeout`,
/// `--max-connections-per-address`; docs/operations.md, "Connections").
struct ConnectionLimits: Sendable {
    /// A connection with no request in progress (idle between keep-alive
    /// requests, or still sending a request's head) is closed after this
    /// long: Hummingbird's idle timer, which only a whole head resets.
    var idleTimeout: TimeAmount = .seconds(30)
    /// A request whose body makes no progress for this long is closed, and
    /// so is a connection whose client stops reading its responses (the
    /// server cannot write) for this long. It is also the grace period of
    /// `minimumBodyRate`.
    var stallTimeout: TimeAmount = .seconds(60)
    /// After `stallTimeout`, a body must have come at this many bytes a
    /// second on average, or its connection is closed: a byte now and then
    /// keeps no connection for ever. 240, as ASP.NET Core's Kestrel
    /// (`MinRequestBodyDataRate`): a slow mobile link sends far more.
    var minimumBodyRate = 240
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
/// already holds the most connections allowed, when a request's body stalls
/// or trickles (`ConnectionLimits.stallTimeout`, `.minimumBodyRate`), and
/// when its client stops reading the responses. Idle connections and slow
/// heads are Hummingbird's idle timer's (`ConnectionLimits.idleTimeout`).
/// So an address that opens hundreds of sockets and sends nothing, a byte
/// now and then, or requests it never reads the answers to, holds a bounded
/// number of descriptors for a bounded time, and `/healthz` and pushes from
/// others still answer.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let limits: ConnectionLimits
    let addresses: AddressConnections
    private var counted: String?
    /// Whether a request's head has come and its end not yet.
    private var inRequest = false
    /// When the request's head came, and its body's bytes since.
    private var requestStart = NIODeadline.now()
    private var bodyBytes = 0
    /// When the request last moved (its head or a part of its body).
    private var lastProgress = NIODeadline.now()
    private var bodyDeadline: Scheduled<Void>?
    private var writeDeadline: Scheduled<Void>?

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
        cancelDeadlines()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
        cancelDeadlines()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        switch unwrapInboundIn(data) {
        case .head:
            inRequest = true
            requestStart = now
            bodyBytes = 0
            lastProgress = now
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            lastProgress = now
        case .end:
            inRequest = false
        }
        context.fireChannelRead(data)
    }

    /// After each burst of reads: a request still unfinished gets its
    /// deadline (once; it moves with `lastProgress`), a finished one none.
    /// A request that came whole in one read (most do) never sets a timer.
    func channelReadComplete(context: ChannelHandlerContext) {
        if inRequest {
            if bodyDeadline == nil { scheduleBodyCheck(context, in: limits.stallTimeout) }
        } else {
            bodyDeadline?.cancel()
            bodyDeadline = nil
        }
        context.fireChannelReadComplete()
    }

    /// A client that stops reading its responses fills the socket: once the
    /// server cannot write for `stallTimeout`, the connection is closed.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeDeadline?.cancel()
            writeDeadline = nil
        } else if writeDeadline == nil {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            writeDeadline = context.eventLoop.scheduleTask(in: limits.stallTimeout) {
                let context = loopBound.value
                if !context.channel.isWritable { context.close(promise: nil) }
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Closes the connection if the body has stalled, or has come slower
    /// than `minimumBodyRate` once its grace period is over; else checks again later.
    private func scheduleBodyCheck(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        bodyDeadline = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.bodyDeadline = nil
            guard handler.inRequest else { return }
            let now = NIODeadline.now()
            let stalled = now - handler.lastProgress
            let elapsed = now - handler.requestStart
            let timeout = handler.limits.stallTimeout
            let tooSlow = elapsed >= timeout
                && Double(handler.bodyBytes) < Double(handler.limits.minimumBodyRate) * Double(elapsed.nanoseconds) / 1e9
            if stalled >= timeout || tooSlow {
                context.close(promise: nil)
            } else {
                handler.scheduleBodyCheck(context, in: min(timeout - stalled, timeout))
            }
        }
    }

    private func cancelDeadlines() {
        bodyDeadline?.cancel()
        bodyDeadline = nil
        writeDeadline?.cancel()
        writeDeadline = nil
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
