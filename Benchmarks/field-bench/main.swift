// The drafting benchmark: figures for docs/performance.md, printed, never asserted.
//
//   swift build -c release && .build/release/field-bench
//
// 1. One-shot `field set` wall time, process start included (the release binary).
// 2. A field write inside a session: in-process `LocalStore.set` on a real file,
//    and `set` lines piped into one `field` session.
// 3. The store's size for 1,000 referrals of 60 fields.
import Foundation
import SyncCore

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: String) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return arguments[index + 1]
}
let fieldBinary = option("--field", URL(fileURLWithPath: arguments[0]).deletingLastPathComponent().appendingPathComponent("field").path)
let runs = Int(option("--runs", "200"))!
let work = FileManager.default.temporaryDirectory.appendingPathComponent("field-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * 1000
}

func summary(_ values: [Double]) -> String {
    let sorted = values.sorted()
    func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
    return String(format: "median %.3f ms, p90 %.3f ms, p99 %.3f ms, min %.3f, max %.3f (n=%d)", at(0.5), at(0.9), at(0.99), sorted.first!, sorted.last!, sorted.count)
}

@discardableResult
func field(_ args: [String], home: URL, input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: fieldBinary)
    process.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment["FIELD_HOME"] = home.path
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
print("field-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu); field: \(fieldBinary)")

// MARK: 1. One-shot `field set`, process start included

let home = work.appendingPathComponent("oneshot")
let id = try field(["new"], home: home)
var oneShot: [Double] = []
for run in 0..<runs {
    oneShot.append(try milliseconds { try field(["set", String(id.prefix(13)), "concern.summary", "One-shot write \(run)"], home: home) })
}
print("")
print("1. one-shot `field set` (new process each time, synchronous commit), \(runs) runs")
print("   " + summary(oneShot) + "   target: median < 30 ms")

// MARK: 2. Writes inside a session

let store = try LocalStore(path: work.appendingPathComponent("session.sqlite").path, author: "bench")
let referral = try store.createReferral(kind: .socialCare)
let paths = ReferralForm.standard.patterns.filter { !$0.section.isGroup && $0.field.type == .text && $0.section.kinds.isEmpty }.map(\.pattern)
var inProcess: [Double] = []
for write in 0..<5_000 {
    let path = paths[write % paths.count]
    inProcess.append(try milliseconds { try store.set(path, of: referral, to: "Session write \(write)") })
}
let sessionHome = work.appendingPathComponent("session")
let sessionID = try field(["new"], home: sessionHome)
let lines = (0..<2_000).map { "set \(sessionID.prefix(13)) \(paths[$0 % paths.count]) Piped write \($0)" }.joined(separator: "\n") + "\n"
let piped = try milliseconds { try field([], home: sessionHome, input: lines) }
print("")
print("2. a field write inside a session (one transaction, synchronous commit)")
print("   in-process LocalStore.set, 5,000 writes: " + summary(inProcess) + "   target: < 1 ms")
print(String(format: "   2,000 `set` lines piped into one `field` session: %.0f ms in all, %.3f ms a line (parse, write, print)", piped, piped / 2_000))

// MARK: 3. Store size, 1,000 referrals × 60 fields

let sized = work.appendingPathComponent("sized.sqlite").path
let big = try LocalStore(path: sized, author: "bench")
let childFields = ReferralForm.standard.section("children")!.fields.filter { $0.type == .text }.map(\.key)
var written = 0
let fillTime = try milliseconds {
    for index in 0..<1_000 {
        let id = try big.createReferral(kind: .socialCare)
        var values = 2  // @kind and @status
        for path in paths where values < 60 {
            try big.set(path, of: id, to: "A realistic sentence of about sixty characters, number \(index).")
            values += 1
        }
        var child = 0
        while values < 60 {
            _ = try big.addItem(to: "children", of: id)
            child += 1
            values += 1
            for key in childFields where values < 60 {
                try big.set("children.\(child).\(key)", of: id, to: "Child detail for \(index)")
                values += 1
            }
        }
        written += values
    }
}
func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }
let main = size(sized), wal = size(sized + "-wal")
print("")
print("3. store size for 1,000 referrals, 60 field values each (\(written) values written, each with its history line and outbox entry)")
print(String(format: "   database %.1f MB + WAL %.1f MB = %.1f MB (%.1f KB a referral); written in %.1f s", Double(main) / 1e6, Double(wal) / 1e6, Double(main + wal) / 1e6, Double(main + wal) / 1e3 / 1_000, fillTime / 1_000))
