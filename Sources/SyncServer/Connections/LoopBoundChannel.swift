import HummingbirdCore
import Logging
import NIOCore

/// Runs each connection's requests on the connection's own event loop
/// (Swift's task executor preference), not on Swift's global pool: a request
/// read by the event loop is answered on the same thread, with no thread
/// switch to hand it to the pool and none to hand the response back
/// (issue 30, item 1: "one thread hop per request"). What a handler awaits
/// elsewhere (the SQLite writer thread, a PostgreSQL connection) resumes on
/// the loop. Wraps Hummingbird's HTTP/1.1 channel, and is wrapped in turn by
/// its TLS channel when the server serves HTTPS.
struct LoopBoundChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

/// A task executor that runs jobs on a NIO event loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1.1 server with `configuration`, each connection's
    /// requests run on its event loop (`LoopBoundChannel`).
    static func loopBoundHTTP1(configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        .init { responder in LoopBoundChannel(base: HTTP1Channel(responder: responder, configuration: configuration)) }
    }
}
