import Foundation
import SyncCore
import Testing

/// The sync-message codec against Foundation, its reference: random messages
/// from a seeded generator (awkward strings, nil, empty and long values)
/// written by the codec must be the bytes `JSONEncoder` writes with sorted
/// keys and decode with `JSONDecoder` to the same value; push requests
/// written by `JSONEncoder` must read back the same through the codec; and
/// broken or ill-typed text must be refused by both, with the same error
/// where the text is JSON.
@Suite struct SyncCodecTests {
    static let seeds = 0..<200

    @Test func pullPagesAreFoundationsBytes() throws {
        try Self.writtenAsFoundation { $0.pullResponse() } encode: { SyncCodec.encode($0) }
    }

    @Test func pushRepliesAreFoundationsBytes() throws {
        try Self.writtenAsFoundation { $0.pushResponse() } encode: { SyncCodec.encode($0) }
    }

    /// For each seed, `encode` of the message `make` gives is `JSONEncoder`'s
    /// sorted-key bytes, and `JSONDecoder` reads it back the same.
    static func writtenAsFoundation<Message: Codable & Equatable>(
        _ make: (inout MessageGenerator) -> Message, encode: (Message) -> [UInt8]
    ) throws {
        for seed in seeds {
            var random = MessageGenerator(seed: UInt64(seed))
            let message = make(&random)
            let bytes = encode(message)
            let expected = try JSONEncoder.sortedKeys.encode(message)
            #expect(bytes == Array(expected), "seed \(seed): \(String(decoding: bytes.prefix(400), as: UTF8.self))")
            #expect(try JSONDecoder().decode(Message.self, from: Data(bytes)) == message, "seed \(seed)")
        }
    }

    @Test func pushRequestsFromFoundationReadTheSame() throws {
        let encoders = [JSONEncoder(), JSONEncoder.sortedKeys, JSONEncoder.sorted]
        for seed in Self.seeds {
            var random = MessageGenerator(seed: UInt64(seed))
            let request = random.pushRequest()
            for encoder in encoders {
                let data = try encoder.encode(request)
                #expect(try SyncCodec.decode(PushRequest.self, from: data) == request, "seed \(seed)")
            }
        }
    }

    /// Each random push, broken at random (cut short, a byte dropped,
    /// changed or added, a member's value swapped for another kind): what the
    /// codec takes, Foundation takes with the same value; what Foundation
    /// refuses, the codec refuses, and for JSON of the wrong shape with the
    /// same error; where Foundation is lenient, the codec refuses it as text
    /// that is not JSON, never as a message of the wrong shape.
    @Test func brokenPushRequestsAreRefusedLikeFoundation() throws {
        var outcomes: [String: Int] = [:]
        for seed in 0..<2_000 {
            var random = MessageGenerator(seed: UInt64(seed))
            let request = random.pushRequest(maximumChanges: 4)
            // Sorted keys, so that a seed always breaks the same text.
            let data = try JSONEncoder.sortedKeys.encode(request)
            let broken = random.mutate(Array(data))
            let outcome = SyncCodecTests.compare(Data(broken))
            outcomes[outcome.kind, default: 0] += 1
            #expect(outcome.problem == nil, "seed \(seed): \(outcome.problem ?? ""): \(String(decoding: broken, as: UTF8.self))")
        }
        // The mutations reach every case.
        #expect(outcomes["both refuse", default: 0] > 100, "\(outcomes)")
        #expect(outcomes["both take", default: 0] > 100, "\(outcomes)")
    }

    @Test(arguments: [
        // Not JSON.
        "", "{", #"{"protocol":1,"device":"d","changes":[]"#, #"{"protocol":1,"device":"d","changes":[]} x"#,
        #"{"protocol":1,"device":"d","changes":[]}}"#, #"{"protocol":01,"device":"d","changes":[]}"#,
        #"{"protocol":1,"device":"d\u12","changes":[]}"#, #"{"protocol":1,"device":"\ud800","changes":[]}"#,
        #"{"protocol":1,"device":"\udc00","changes":[]}"#, "{\"protocol\":1,\"device\":\"a\tb\",\"changes\":[]}",
        #"{"protocol":1,"device":"d","changes":[],"x":[}"#, #"{"protocol":1,"device":"d","changes":[],"x":tru}"#,
        #"{"protocol":1,"device":"d","changes":[],"x":.5}"#, #"{"protocol":1,"device":"d","changes":[],"x":NaN}"#,
        #"{"protocol":1e400,"device":"d","changes":[]}"#, #"{"protocol":1.5,"device":"d","changes":[]}"#,
        #"{"protocol":9223372036854775808,"device":"d","changes":[]}"#, #"{'protocol':1}"#,
        // JSON, but not a push request.
        "[]", "null", "1", #""push""#, #"{}"#, #"{"protocol":1,"changes":[]}"#, #"{"protocol":1,"device":"d"}"#,
        #"{"protocol":"1","device":"d","changes":[]}"#, #"{"protocol":1,"device":5,"changes":[]}"#,
        #"{"protocol":1,"device":null,"changes":[]}"#, #"{"protocol":1,"device":"d","changes":null}"#,
        #"{"protocol":1,"device":"d","changes":{}}"#, #"{"protocol":1,"device":"d","changes":[null]}"#,
        #"{"protocol":1,"device":"d","changes":[1]}"#, #"{"protocol":1,"device":"d","changes":[],"epoch":5}"#,
        #"{"protocol":1,"device":"d","changes":[],"cursor":"5"}"#, #"{"protocol":1,"device":"d","changes":[{}]}"#,
        #"{"protocol":1,"device":"d","changes":[{"seq":1,"record":"r","path":"p","value":3,"base_rev":0,"hlc":"h"}]}"#,
        #"{"protocol":1,"device":"d","changes":[{"seq":1,"record":"r","path":"p","base_rev":null,"hlc":"h"}]}"#,
        #"{"protocol":1,"device":"d","changes":[{"seq":1,"record":"r","path":"p","hlc":"h"},{"seq":"x"}]}"#,
        #"{"device":5,"changes":"x"}"#, #"{"protocol":1,"device":"d","changes":[{"seq":true}],"cursor":"x"}"#,
    ])
    func refusedByBoth(_ text: String) {
        let outcome = Self.compare(Data(text.utf8))
        #expect(outcome.kind == "both refuse", "\(outcome.kind)")
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
    }

    @Test(arguments: [
        // Unknown members ignored, the first of repeated members used,
        // escapes, whitespace, a byte-order mark, null or missing optionals.
        #"{"protocol":1,"device":"d","changes":[],"extra":{"a":[1,-2.5e-3,true,false,null,"x"]}}"#,
        #"{"protocol":1,"device":"d","device":"e","changes":[],"changes":5}"#,
        #"{"pro\u0074ocol":1,"device":"\u00e9\ud83d\ude00\/\"\\\b\f\n\r\t\u0000","changes":[]}"#,
        " \n\t\r{ \"protocol\" : 1 , \"device\" : \"d\" , \"changes\" : [ ] } \n",
        "\u{FEFF}{\"protocol\":1,\"device\":\"d\",\"changes\":[]}",
        #"{"protocol":1,"device":"d","changes":[{"seq":-9223372036854775808,"record":"r","path":"p","base_rev":9223372036854775807,"hlc":"h","value":null,"more":1}],"epoch":null,"cursor":null}"#,
        #"{"protocol":1,"device":"d","changes":[{"seq":0,"record":"","path":"","value":"","base_rev":-0,"hlc":""}],"epoch":"","cursor":0}"#,
        #"{"protocol":2,"device":"d","changes":[]}"#,
    ])
    func takenByBoth(_ text: String) {
        let outcome = Self.compare(Data(text.utf8))
        #expect(outcome.kind == "both take", "\(outcome.kind)")
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
    }

    /// Where Foundation is lenient and no device relies on it, the codec
    /// refuses (the list in `SyncCodec`'s documentation).
    @Test(arguments: [
        #"{"protocol":1,"device":"d","changes":[],}"#, #"{"protocol":1.0,"device":"d","changes":[]}"#,
        #"{"protocol":1e0,"device":"d","changes":[]}"#, #"{"protocol":1,"device":"d","changes":[],"x":1.}"#,
        #"{"protocol":1,"device":"d","changes":[],"x":"\q"}"#, #"{"protocol":1,"device":"d","changes":[],"x":"\ud800"}"#,
        #"{"protocol":1,"device":"d","changes":[],"x":-}"#,
    ])
    func lenienciesOfFoundationRefused(_ text: String) {
        let outcome = Self.compare(Data(text.utf8))
        #expect(outcome.kind == "only Foundation takes", "\(outcome.kind)")
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
    }

    @Test func invalidUTF8IsRefused() {
        let prefix = Array(#"{"protocol":1,"device":""#.utf8), suffix = Array(#"","changes":[]}"#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]] {
            let outcome = Self.compare(Data(prefix + bad + suffix))
            #expect(outcome.kind == "both refuse", "\(bad): \(outcome.kind)")
        }
        // In a member the server ignores, Foundation lets it through; the codec does not.
        let ignored = Array(#"{"protocol":1,"device":"d","changes":[],"x":""#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(Self.compare(Data(ignored)).kind == "only Foundation takes")
        // UTF-16, which Foundation detects and reads: the codec takes UTF-8 only.
        let utf16 = Data(#"{"protocol":1,"device":"d","changes":[]}"#.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(Self.compare(utf16).kind == "only Foundation takes")
    }

    @Test func deepNestingIsRefusedWithoutCrashing() {
        for depth in [300, 100_000] {
            let text = #"{"protocol":1,"device":"d","changes":[],"x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
            let outcome = Self.compare(Data(text.utf8))
            #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
            #expect(throws: DecodingError.self) { try SyncCodec.decode(PushRequest.self, from: Data(text.utf8)) }
        }
    }

    /// A batch over the limit is read whole, as Foundation reads it: the route refuses it by count.
    @Test func largeBatchesReadWhole() throws {
        var random = MessageGenerator(seed: 7)
        let request = random.pushRequest(maximumChanges: 0, changes: SyncProtocol.maximumBatch + 1)
        #expect(try SyncCodec.decode(PushRequest.self, from: JSONEncoder().encode(request)).changes.count == SyncProtocol.maximumBatch + 1)
    }

    // MARK: Pull pages, as a device reads them

    @Test func pullPagesFromFoundationReadTheSame() throws {
        let encoders = [JSONEncoder(), JSONEncoder.sortedKeys, JSONEncoder.sorted]
        for seed in Self.seeds {
            var random = MessageGenerator(seed: UInt64(seed))
            let page = random.pullResponse()
            for encoder in encoders {
                #expect(try SyncCodec.decode(PullResponse.self, from: encoder.encode(page)) == page, "seed \(seed)")
            }
            #expect(try SyncCodec.decode(PullResponse.self, from: SyncCodec.encode(page)) == page, "seed \(seed)")
        }
    }

    /// Each random page, broken at random: the codec and Foundation agree as for push requests.
    @Test func brokenPullPagesAreRefusedLikeFoundation() throws {
        var outcomes: [String: Int] = [:]
        for seed in 0..<2_000 {
            var random = MessageGenerator(seed: UInt64(seed))
            var page = random.pullResponse()
            page.changes = Array(page.changes.prefix(3))
            let broken = random.mutate(Array(try JSONEncoder.sortedKeys.encode(page)))
            let outcome = Self.comparePage(Data(broken))
            outcomes[outcome.kind, default: 0] += 1
            #expect(outcome.problem == nil, "seed \(seed): \(outcome.problem ?? ""): \(String(decoding: broken, as: UTF8.self))")
        }
        #expect(outcomes["both refuse", default: 0] > 100, "\(outcomes)")
        #expect(outcomes["both take", default: 0] > 100, "\(outcomes)")
    }

    static let change = #"{"revision":1,"record":"r","path":"p","value":null,"author":"a","device":"d","hlc":"h","at":"t""#

    @Test(arguments: [
        "[]", "null", #"{}"#, #"{"protocol":1,"changes":[],"cursor":0}"#, #"{"protocol":1,"changes":[],"more":false}"#,
        #"{"protocol":1,"changes":[],"cursor":0,"more":1}"#, #"{"protocol":1,"changes":[],"cursor":0,"more":null}"#,
        #"{"protocol":1,"changes":[{}],"cursor":0,"more":false}"#,
        #"{"protocol":1,"changes":[],"cursor":0,"more":false,"form_version":"2"}"#,
        #"{"protocol":1,"changes":[],"cursor":0,"more":false,"audit_check":{"position":1,"holds":true}}"#,
        #"{"protocol":1,"changes":[],"cursor":0,"more":false,"audit_check":[]}"#,
        #"{"protocol":1,"changes":[{"revision":1,"record":"r","path":"p","value":5,"author":"a","device":"d","hlc":"h","at":"t"}],"cursor":0,"more":false}"#,
        // A repeated member: the first is read, as Foundation does (here a null value, then a number).
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change),"value":5,"revision":"x"}],"cursor":"0","more":false}"#,
        // Inside a conflict, read by Foundation: the error still names the whole path.
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change),"conflict":{"id":"c","status":"open","candidates":[{"author":"a"}]}}],"cursor":0,"more":false}"#,
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change),"conflict":{"id":"c","status":"open","candidates":null}}],"cursor":0,"more":false}"#,
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change),"conflict":5}],"cursor":0,"more":false}"#,
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change),"conflict":{"id":"c","status":"open","candidates":[]"#,
    ])
    func pagesRefusedByBoth(_ text: String) {
        let outcome = Self.comparePage(Data(text.utf8))
        #expect(outcome.kind == "both refuse", "\(outcome.kind)")
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
    }

    @Test(arguments: [
        #"{"protocol":1,"changes":[],"cursor":0,"more":false}"#,
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change)}],"cursor":7,"more":true,"epoch":null,"end":null,"server_time":null,"form_version":null,"form_digest":null,"audit_check":null}"#,
        #"{"more":true,"cursor":-1,"changes":[\#(SyncCodecTests.change),"conflict":null,"x":[{}]}],"protocol":1,"audit_check":{"holds":false,"length":3,"position":2,"x":1}}"#,
        #"{"protocol":1,"changes":[\#(SyncCodecTests.change),"conflict":{"id":"c","status":"resolved","candidates":[{"value":null,"author":"a","device":"d","time":"t","hlc":"h"}],"resolution":{"by":"b","at":"t","reason":"r"}}}],"cursor":0,"more":false}"#,
    ])
    func pagesTakenByBoth(_ text: String) {
        let outcome = Self.comparePage(Data(text.utf8))
        #expect(outcome.kind == "both take", "\(outcome.kind)")
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
    }

    static func comparePage(_ data: Data) -> (kind: String, problem: String?) {
        compare(data, as: PullResponse.self) { try SyncCodec.decode(PullResponse.self, from: $0) }
    }

    // MARK: Comparison

    /// How Foundation and the codec read `data` as a push request, and what is wrong if they disagree.
    static func compare(_ data: Data) -> (kind: String, problem: String?) {
        compare(data, as: PushRequest.self) { try SyncCodec.decode(PushRequest.self, from: $0) }
    }

    /// How Foundation and `codec` read `data` as a `Message`, and what is wrong if they disagree.
    static func compare<Message: Decodable & Equatable>(
        _ data: Data, as type: Message.Type, codec read: (Data) throws -> Message
    ) -> (kind: String, problem: String?) {
        let foundation = Result { try JSONDecoder().decode(Message.self, from: data) }
        let codec = Result { try read(data) }
        switch (foundation, codec) {
        case (.success(let expected), .success(let read)):
            return ("both take", expected == read ? nil : "read \(read), Foundation \(expected)")
        case (.failure(let error), .success(let read)):
            return ("only the codec takes", "the codec read \(read); Foundation refused: \(error)")
        case (.success, .failure(let error)):
            return ("only Foundation takes", describe(error).hasPrefix("dataCorrupted") ? nil : "the codec refused a \(Message.self): \(describe(error))")
        case (.failure(let expected), .failure(let error)):
            let (wanted, got) = (describe(expected), describe(error))
            // JSON of the wrong shape: the same error (the routes word it from the key and coding path).
            let same = wanted.hasPrefix("dataCorrupted") || got.hasPrefix("dataCorrupted") || wanted == got
            return ("both refuse", same ? nil : "the codec refused with \(got), Foundation with \(wanted)")
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not a DecodingError: \(error)" }
        switch error {
        case .keyNotFound(let key, let context): return "keyNotFound \(key.stringValue) at \(context.codingPath.map(\.stringValue))"
        case .typeMismatch(_, let context): return "typeMismatch at \(context.codingPath.map(\.stringValue))"
        case .valueNotFound(_, let context): return "valueNotFound at \(context.codingPath.map(\.stringValue))"
        case .dataCorrupted(let context): return "dataCorrupted at \(context.codingPath.map(\.stringValue))"
        @unknown default: return "\(error)"
        }
    }
}

extension JSONEncoder {
    /// Sorted keys, Foundation's escapes: what `SyncCodec` writes.
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
