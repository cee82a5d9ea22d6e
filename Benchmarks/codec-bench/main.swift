// The sync-message codec against Foundation (issue 30, item 1): figures for
// docs/performance.md, printed, never asserted.
//
//   swift build -c release --product codec-bench && .build/release/codec-bench
//
// For each message on the server's hot path, the time to write it (the
// server's replies: a pull page of 1,000 changes and of 100, a push's reply
// to 27 changes) or to read it (a push of 27 changes) with Foundation's
// `JSONEncoder`/`JSONDecoder` as the server used them, next to `SyncCodec`
// in the same run, and the bytes. Each figure is the median of 15 rounds,
// a round being as many repetitions as fill about 20 ms, in microseconds
// per message. The messages are made up but shaped like a referral's: UUID
// ids, clock stamps, form paths, short texts with some non-ASCII and a
// line break, every tenth change with an open conflict.
//
// `--rounds N` changes the number of rounds.
import Foundation
import SyncCore

let arguments = CommandLine.arguments
let rounds = arguments.firstIndex(of: "--rounds").flatMap { Int(arguments[$0 + 1]) } ?? 15

/// Microseconds per call of `body`, the median of `rounds` rounds of about 20 ms each.
func microseconds(_ body: () throws -> Void) rethrows -> Double {
    var repetitions = 1
    while true {
        let start = ContinuousClock.now
        for _ in 0..<repetitions { try body() }
        if ContinuousClock.now - start > .milliseconds(20) { break }
        repetitions *= 2
    }
    var figures: [Double] = []
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        for _ in 0..<repetitions { try body() }
        let elapsed = ContinuousClock.now - start
        figures.append((Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12) / Double(repetitions))
    }
    return figures.sorted()[figures.count / 2]
}

// MARK: Messages shaped like a referral's

var ids = SystemRandomNumberGenerator()
func uuid() -> String { UUID().uuidString.lowercased() }
let device = uuid(), author = "practitioner.one"
let paths = ["child.name", "child.date_of_birth", "child.address", "concern.summary", "concern.category", "urgency.immediate_risk",
             "referrer.name", "referrer.role", "referrer.phone", "family.parent_name", "family.language", "school.name"]
let texts = ["Amélie Dubois", "2016-03-14", "14 Orchard Road, Leeds LS6 2AB",
             "Teacher noticed bruising on the left arm on Monday; child said \"fell off bike\".\nMother did not attend the meeting.",
             "neglect", "true", "Jo Smith", "class teacher", "+44 113 496 0000", "Zoë Dubois", "français", "St Mary’s Primary"]
func stamp(_ n: Int) -> String { HLCStamp(wall: 1_796_000_000_000 + Int64(n), counter: Int32(n % 7), device: device).description }
let time = "2026-12-07T10:15:30.123Z"

func pulledChange(_ n: Int) -> PulledChange {
    let conflict = n % 10 == 9
        ? ConflictState(id: uuid(), status: "open", candidates: [
            ConflictCandidate(value: texts[n % texts.count], author: author, device: device, time: time, hlc: stamp(n)),
            ConflictCandidate(value: texts[(n + 1) % texts.count], author: "intake.two", device: uuid(), time: time, hlc: stamp(n + 1)),
        ])
        : nil
    return PulledChange(
        revision: Int64(100_000 + n), record: uuid(), path: paths[n % paths.count], value: n % 17 == 0 ? nil : texts[n % texts.count],
        author: author, device: device, hlc: stamp(n), at: time, conflict: conflict)
}

func page(_ count: Int) -> PullResponse {
    var page = PullResponse(
        changes: (0..<count).map(pulledChange), cursor: Int64(100_000 + count), more: true, epoch: uuid(), end: 250_000,
        serverTime: time, formVersion: 3, formDigest: String(repeating: "ab", count: 32))
    page.auditCheck = AuditHeadCheck(position: 4_812, holds: true, length: 4_900)
    return page
}

let record = uuid()
let push = PushRequest(
    device: device,
    changes: (0..<27).map { n in
        WireChange(seq: Int64(500 + n), record: record, path: paths[n % paths.count], value: n % 13 == 12 ? nil : texts[n % texts.count],
                   baseRevision: n % 3 == 0 ? 0 : Int64(90_000 + n), hlc: stamp(n))
    },
    epoch: uuid(), cursor: 99_000)
let base64url = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
let reply = PushResponse(
    outcomes: push.changes.map { change in
        ChangeOutcome(seq: change.seq, outcome: .applied, revision: 120_000 + change.seq, current: FieldState(value: change.value, revision: 120_000 + change.seq))
    },
    receipt: Receipt(
        reference: "R-7KQ2-M9XD", serverTime: time, records: [record], changes: 27,
        signed: SignedReceipt(
            protected: String((0..<120).map { _ in base64url.randomElement(using: &ids)! }),
            payload: String((0..<3_400).map { _ in base64url.randomElement(using: &ids)! }),
            signature: String((0..<86).map { _ in base64url.randomElement(using: &ids)! }))),
    serverTime: time)

// MARK: Figures

print("codec-bench: \(ProcessInfo.processInfo.processorCount) cores, \(rounds) rounds; µs per message (median), Foundation next to SyncCodec")
print("message".padding(toLength: 34, withPad: " ", startingAt: 0) + "bytes      Foundation   SyncCodec   ratio")
func row(_ name: String, bytes: Int, foundation: Double, codec: Double) {
    let cells = [name.padding(toLength: 34, withPad: " ", startingAt: 0), String(bytes).padding(toLength: 11, withPad: " ", startingAt: 0),
                 String(format: "%10.1f", foundation), String(format: "%11.1f", codec), String(format: "%7.1f×", foundation / codec)]
    print(cells.joined(separator: " "))
}

/// A row for writing `message` with Foundation and with `encode`, after checking Foundation reads the codec's bytes back the same.
func encodeRow<Message: Codable & Equatable>(_ name: String, _ message: Message, _ encode: (Message) -> [UInt8]) throws {
    let bytes = encode(message)
    let readBack = try JSONDecoder().decode(Message.self, from: Data(bytes))
    precondition(readBack == message, "the codec's \(name) does not read back")
    let foundation = try microseconds { _ = try JSONEncoder().encode(message) }
    let codec = microseconds { _ = encode(message) }
    row(name, bytes: bytes.count, foundation: foundation, codec: codec)
}

for count in [1_000, 100] {
    try encodeRow("encode pull page, \(count) changes", page(count)) { SyncCodec.encode($0) }
}

let pushBody = try JSONEncoder().encode(push)
let pushRead = try SyncCodec.decode(PushRequest.self, from: pushBody)
precondition(pushRead == push, "the codec reads the push otherwise")
let decodeFoundation = try microseconds { _ = try JSONDecoder().decode(PushRequest.self, from: pushBody) }
let decodeCodec = try microseconds { _ = try SyncCodec.decode(PushRequest.self, from: pushBody) }
row("decode push request, 27 changes", bytes: pushBody.count, foundation: decodeFoundation, codec: decodeCodec)

try encodeRow("encode push reply, 27 outcomes", reply) { SyncCodec.encode($0) }
