import Foundation

// libFuzzer target for the protocol's decoders (scripts/fuzz builds it with
// -sanitize=fuzzer into .build-fuzz/, compiled together with the parts of
// SyncCore it needs, so it stays out of `swift build`).
//
// Each input is decoded as every message the server reads from a request body
// and every message the device reads from a reply. What decodes then goes
// through the checks that follow decoding (the protocol version, ids, clock
// stamps, the form's path and value rules, the merge rule the server runs on a
// concurrent write) and must survive an encode/decode round trip unchanged.
// The sync-message codec (SyncCodec) reads each input as a push request and
// as a pull page next to Foundation and must agree with it, and writes each
// pull page and push reply that decodes as Foundation writes it with sorted
// keys.
// A crash, a sanitizer report or a failed round trip is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    DecoderFuzz.run(Data(bytes: bytes, count: count))
    return 0
}

enum DecoderFuzz {
    static let form = ReferralForm.standard

    static func run(_ data: Data) {
        // Bodies the server decodes (SyncRoutes.decode, FrontDoorRoutes).
        if let register = roundTrip(RegisterRequest.self, data) {
            _ = register.protocolVersion == SyncProtocol.version
            _ = UUID(uuidString: register.device)?.lowercased == register.device
        }
        if let push = roundTrip(PushRequest.self, data) { check(push) }
        codecAgrees(data)
        if let decision = roundTrip(DecisionRequest.self, data) { _ = ReferralOutcome(rawValue: decision.outcome) }
        if let resolution = roundTrip(ResolutionRequest.self, data), let value = resolution.value {
            _ = form.rules(forStoredPath: "concern.summary", value: value)
        }
        // Replies the device decodes (SyncClient).
        _ = roundTrip(RegisterResponse.self, data)
        if let reply = roundTrip(PushResponse.self, data) {
            for outcome in reply.outcomes { _ = outcome.current.map { $0.value } }
            written(reply, SyncCodec.encode(reply))
        }
        if let page = roundTrip(PullResponse.self, data) {
            written(page, SyncCodec.encode(page))
            for change in page.changes {
                _ = HLCStamp(change.hlc)
                _ = UUID.isCanonical(change.record)
                _ = Timestamp.date(change.at)
            }
        }
        _ = roundTrip(ErrorBody.self, data)
        _ = roundTrip([QueueEntry].self, data)
        _ = roundTrip(ReferralDocument.self, data)
        _ = roundTrip([ConflictSummary].self, data)
        _ = roundTrip(ConflictSummary.Resolution.self, data)
        // A form file: what `sync-server form publish` reads from an
        // administrator and a device reads from GET /v1/forms/{version}.
        // What decodes must keep its meaning when written out as stored (the
        // digest names those bytes) and in reading order (`form show`), and
        // a form that passes its checks must pass them again as the next
        // version of the built-in form or be refused with a reason.
        if let document = try? FormDocument.decode(data) {
            for sorted in [true, false] {
                guard let again = try? FormDocument.decode(document.encoded(sorted: sorted)), again == document else {
                    fatalError("a form file changes when written out (sorted: \(sorted))")
                }
            }
            if (try? document.referralForm()) != nil {
                _ = try? FormCatalog(checked: [form]).nextVersion(from: document)
            }
        }
    }

    /// What PushEngine checks with SyncCore's help, and the merge rule on
    /// each pair of changes to the same field.
    static func check(_ push: PushRequest) {
        _ = UUID.isCanonical(push.device)
        var previous: [String: (WireChange, HLCStamp)] = [:]
        for change in push.changes.prefix(SyncProtocol.maximumBatch) {
            _ = UUID.isCanonical(change.record)
            guard let stamp = HLCStamp(change.hlc) else { continue }
            _ = stamp.description
            guard case .success(let rules) = form.rules(forStoredPath: change.path, value: change.value) else { continue }
            if let (earlier, earlierStamp) = previous[change.path] {
                _ = MergeRule.decide(
                    policy: rules.policy, base: nil,
                    current: .init(value: earlier.value, hlc: earlierStamp), incoming: .init(value: change.value, hlc: stamp),
                    optionOrder: rules.optionOrder)
                _ = MergeRule.decide(
                    policy: rules.policy, base: earlier.value,
                    current: .init(value: earlier.value, hlc: earlierStamp), incoming: .init(value: change.value, hlc: stamp),
                    optionOrder: rules.optionOrder)
            }
            previous[change.path] = (change, stamp)
        }
    }

    /// The sync-message codec reads a push as Foundation does (SyncCodec):
    /// what it takes, Foundation takes with the same value; what Foundation
    /// refuses, it refuses, with the same error where the text is JSON of
    /// the wrong shape; where Foundation is lenient (SyncCodec's list), it
    /// refuses the text as not JSON, never a push request of the right shape.
    /// The same for a pull page, as a device reads it.
    static func codecAgrees(_ data: Data) {
        codecAgrees(data, as: PushRequest.self) { try SyncCodec.decode(PushRequest.self, from: $0) }
        codecAgrees(data, as: PullResponse.self) { try SyncCodec.decode(PullResponse.self, from: $0) }
    }

    static func codecAgrees<Message: Decodable & Equatable>(_ data: Data, as type: Message.Type, codec read: (Data) throws -> Message) {
        let foundation = Result { try JSONDecoder().decode(Message.self, from: data) }
        let codec = Result { try read(data) }
        switch (foundation, codec) {
        case (.success(let expected), .success(let read)):
            guard read == expected else { fatalError("the codec reads a \(Message.self) otherwise than Foundation") }
        case (.failure, .success):
            fatalError("the codec takes a \(Message.self) Foundation refuses")
        case (.success, .failure(let error)):
            guard case DecodingError.dataCorrupted = error else { fatalError("the codec refuses a \(Message.self) Foundation takes: \(error)") }
        case (.failure(let expected), .failure(let error)):
            if case DecodingError.dataCorrupted = expected { return }
            if case DecodingError.dataCorrupted = error { return }
            guard shape(expected) == shape(error) else { fatalError("the codec refuses otherwise: \(shape(error)), Foundation \(shape(expected))") }
        }
    }

    /// What the routes word a refusal from: its kind, key and coding path.
    static func shape(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: "missing \(key.stringValue) at \(context.codingPath.map(\.stringValue))"
        case .typeMismatch(_, let context)?: "wrong type at \(context.codingPath.map(\.stringValue))"
        case .valueNotFound(_, let context)?: "null at \(context.codingPath.map(\.stringValue))"
        default: "\(error)"
        }
    }

    /// The codec's bytes for a message are `JSONEncoder`'s with sorted keys, and read back the same.
    static func written<Message: Codable & Equatable>(_ message: Message, _ bytes: [UInt8]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let expected = try? encoder.encode(message), Array(expected) == bytes else {
            fatalError("the codec writes \(Message.self) otherwise than Foundation")
        }
        guard (try? JSONDecoder().decode(Message.self, from: Data(bytes))) == message else {
            fatalError("\(Message.self) as the codec writes it reads back otherwise")
        }
    }

    /// Decodes, and checks that encoding and decoding again gives the same value.
    static func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ data: Data) -> T? {
        guard let value = try? JSONDecoder().decode(T.self, from: data) else { return nil }
        let encoded: Data
        do { encoded = try JSONEncoder().encode(value) } catch { fatalError("\(T.self) decoded but does not encode: \(error)") }
        guard let again = try? JSONDecoder().decode(T.self, from: encoded), again == value else {
            fatalError("\(T.self) changes in an encode/decode round trip")
        }
        return value
    }
}
