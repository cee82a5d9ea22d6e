// The drafting benchmark: figures for docs/performance.md, printed, never asserted.
//
//   swift build -c release && .build/release/field-bench [--field .build/release/field]
//       [--runs 200] [--writes 5000] [--lines 1000] [--referrals 1000] [--tmp /tmp]
//
// 1. One-shot `field set` wall time, process start included (the release binary,
//    spawned with posix_spawn and reaped with waitpid).
// 2. A field write inside a session: (a) in-process `LocalStore.set` on a real
//    SQLite file; (b) `set` lines piped into one `field` session process.
// 3. The store's size for 1,000 referrals × 60 fields, and the time to write them.
import Foundation
import SyncCore
#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: String) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return arguments[index + 1]
}
let fieldBinary = URL(fileURLWithPath: option("--field", ".build/release/field")).standardizedFileURL.path
let runs = Int(option("--runs", "200"))!
let writeCount = Int(option("--writes", "5000"))!
let lineCount = Int(option("--lines", "1000"))!
let referralCount = Int(option("--referrals", "1000"))!
let fieldsPerReferral = 60
guard FileManager.default.isExecutableFile(atPath: fieldBinary) else {
    print("No field binary at \(fieldBinary): run `swift build -c release --product field` or pass --field PATH.")
    exit(2)
}
let work = URL(fileURLWithPath: option("--tmp", "/tmp")).appendingPathComponent("field-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

let benchPassphrase = "bench passphrase"

func environment(home: URL) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["FIELD_HOME"] = home.path
    environment["FIELD_USER"] = "bench"
    environment["FIELD_PASSPHRASE"] = benchPassphrase
    return environment
}

func verdict(_ met: Bool) -> String { met ? "met" : "NOT met" }

let form = ReferralForm.standard
let kind = ReferralKind.socialCare
/// Free-text fields outside the repeating groups: what the write loops cycle through.
let textPaths = form.sections.filter { !$0.isGroup && $0.applies(to: kind) }.flatMap { section in
    section.fields.filter { $0.type == .text && $0.applies(to: kind) }.map { "\(section.key).\($0.key)" }
}
let sentences = [
    "Child disclosed to the class teacher that she is scared to go home",
    "Mother says the family were evicted last month and are sofa surfing",
    "Neighbour heard shouting and a child crying late on several evenings",
    "Attendance has dropped to 71% since September; often arrives hungry",
    "Health visitor saw bruising on the upper arm during the home visit",
    "Father works nights; older sibling, 14, looks after the younger two",
    "GP reports missed appointments for the asthma review since spring",
    "Child said that mum's new partner locks her in her room at night",
]
func sentence(_ n: Int) -> String { sentences[n % sentences.count] + " (\(n))." }

print("field-bench: drafting performance (figures only, nothing asserted)")
print("")
print("Machine")
machineDescription(directory: work.path).forEach { print("  " + $0) }
print("  field:      \(fieldBinary)")
print("  work dir:   \(work.path) (removed at the end)")

// MARK: 1. One-shot `field set`, process start included

let oneShotHome = work.appendingPathComponent("oneshot")
let oneShotEnvironment = environment(home: oneShotHome)
let referralID = try output([fieldBinary, "new"], environment: oneShotEnvironment)
func oneShotSet(_ run: Int) -> (status: Int32, ms: Double) {
    spawnAndWait([fieldBinary, "set", referralID, textPaths[run % textPaths.count], sentence(run)], environment: oneShotEnvironment)
}
let warmUp = 5
for run in 0..<warmUp { _ = oneShotSet(run) }
let oneShot = (warmUp..<(warmUp + runs)).map(oneShotSet)
let helpRuns = (0..<runs).map { _ in spawnAndWait([fieldBinary, "--help"], environment: oneShotEnvironment) }
let oneShotLines = try LocalStore(path: oneShotHome.appendingPathComponent("field.sqlite").path, author: "bench", passphrase: benchPassphrase)
    .history(of: UUID(uuidString: referralID)!).count - 2
let oneShotMedian = percentile(oneShot.map(\.ms).sorted(), 0.5)

print("")
print("1. One-shot `field set`: a new process per write, process start and exit included")
print("   setup:   FIELD_HOME=\(oneShotHome.path) \(fieldBinary) new   (once)")
print("   command: FIELD_HOME=\(oneShotHome.path) \(fieldBinary) set \(referralID) <path> '<sentence>'")
print("            \(runs) runs after \(warmUp) warm-up runs, cycling through \(textPaths.count) text fields, a new value each time")
print("   set:     " + summary(oneShot.map(\.ms), [("median", 0.5), ("p90", 0.9)]))
print("   floor:   " + summary(helpRuns.map(\.ms), [("median", 0.5), ("p90", 0.9)]) + "   (`field --help`: start-up only, no store)")
print("   checks:  \(oneShot.filter { $0.status != 0 }.count) failed runs; \(oneShotLines) history lines for \(warmUp + runs) writes")
print(String(format: "   target:  median < 30 ms: %@ (%.1f ms)", verdict(oneShotMedian < 30), oneShotMedian))

// MARK: 1b. The same, with the key derivation taken out

// The store is encrypted under a passphrase whose key derivation (scrypt,
// 128 MiB) every one-shot process pays once. A home made with the testing
// derivation (1 MiB) shows what the rest of the command costs.
var cheapEnvironment = environment(home: work.appendingPathComponent("oneshot-cheap-kdf"))
cheapEnvironment["FIELD_TEST_FAST_KDF"] = "1"
let cheapID = try output([fieldBinary, "new"], environment: cheapEnvironment)
let cheapRuns = (0..<(warmUp + runs)).map { run in
    spawnAndWait([fieldBinary, "set", cheapID, textPaths[run % textPaths.count], sentence(run)], environment: cheapEnvironment)
}.dropFirst(warmUp)
let kdfOnly = (0..<20).map { _ -> Double in
    let start = ContinuousClock.now
    _ = try? KeyDerivation.standard.benchmarkDerivation()
    return milliseconds(ContinuousClock.now - start)
}
print("")
print("1b. The same one-shot `field set` on a home whose key is derived with the 1 MiB testing cost (FIELD_TEST_FAST_KDF=1)")
print("   set:     " + summary(cheapRuns.map(\.ms), [("median", 0.5), ("p90", 0.9)]) + "   (\(cheapRuns.filter { $0.status != 0 }.count) failed)")
print("   scrypt:  " + summary(kdfOnly, [("median", 0.5), ("p90", 0.9)]) + "   (one standard derivation, N=2^17 r=8 p=1, in process)")

// MARK: 2a. In-process LocalStore.set on a real file

let sessionStore = try LocalStore(path: work.appendingPathComponent("session.sqlite").path, author: "bench", passphrase: benchPassphrase)
let sessionReferral = try sessionStore.createReferral(kind: kind)
for n in 0..<50 { try sessionStore.set(textPaths[n % textPaths.count], of: sessionReferral, to: "Warm-up \(n)") }
var inProcess: [Double] = []
inProcess.reserveCapacity(writeCount)
for n in 0..<writeCount {
    let start = ContinuousClock.now
    try sessionStore.set(textPaths[n % textPaths.count], of: sessionReferral, to: sentence(n))
    inProcess.append(milliseconds(ContinuousClock.now - start))
}
let inProcessSorted = inProcess.sorted()

print("")
print("2. A field write inside a session (each write is one transaction, committed with synchronous = FULL)")
print("   a) in-process LocalStore.set on \(work.path)/session.sqlite: \(writeCount) writes after 50 warm-up writes,")
print("      cycling through \(textPaths.count) text fields of one referral, a new value each time")
print("      " + summary(inProcess, [("median", 0.5), ("p90", 0.9), ("p99", 0.99)]))
print(String(format: "      total %.2f s, %.0f writes/s", inProcess.reduce(0, +) / 1e3, Double(writeCount) / (inProcess.reduce(0, +) / 1e3)))
print(String(format: "      target: under 1 ms: median %@ (%.3f ms), p99 %@ (%.3f ms)",
             verdict(percentile(inProcessSorted, 0.5) < 1), percentile(inProcessSorted, 0.5),
             verdict(percentile(inProcessSorted, 0.99) < 1), percentile(inProcessSorted, 0.99)))

// MARK: 2b. `set` lines piped into one `field` session

let sessionHome = work.appendingPathComponent("session")
let sessionEnvironment = environment(home: sessionHome)
let pipedID = try output([fieldBinary, "new"], environment: sessionEnvironment)
let script = (0..<lineCount).map { "set \(pipedID) \(textPaths[$0 % textPaths.count]) \"\(sentence($0))\"\n" }.joined()
let emptyMedian = percentile((0..<20).map { _ in spawnAndWait([fieldBinary], environment: sessionEnvironment, input: "").ms }.sorted(), 0.5)
let sessions = (0..<3).map { _ in spawnAndWait([fieldBinary], environment: sessionEnvironment, input: script) }
let pipedMedian = percentile(sessions.map(\.ms).sorted(), 0.5)
let pipedLines = try LocalStore(path: sessionHome.appendingPathComponent("field.sqlite").path, author: "bench", passphrase: benchPassphrase)
    .history(of: UUID(uuidString: pipedID)!).count - 2

print("   b) \(lineCount) `set` lines piped into one session process, 3 sessions:")
print("      FIELD_HOME=\(sessionHome.path) \(fieldBinary) < pipe")
print("      lines like: set \(pipedID) \(textPaths[0]) \"\(sentence(0))\"")
print("      totals " + sessions.map { String(format: "%.1f", $0.ms) }.joined(separator: ", ") + " ms; exit statuses "
    + sessions.map { "\($0.status)" }.joined(separator: ", ") + "; \(pipedLines) history lines for \(3 * lineCount) lines")
print(String(format: "      median total / lines = %.3f ms a line (start-up included)", pipedMedian / Double(lineCount)))
print(String(format: "      an empty session (start-up and exit only, median of 20) takes %.1f ms: %.3f ms a line beyond it",
             emptyMedian, (pipedMedian - emptyMedian) / Double(lineCount)))

// MARK: 3. Store size, 1,000 referrals × 60 fields

/// The first 60 field paths a social-care referral can hold, in the form's
/// order; group fields name the first item (`children.1.full_name`).
let sizedPaths = form.sections.filter { $0.applies(to: kind) }.flatMap { section in
    section.fields.filter { $0.applies(to: kind) }.map { field in
        (group: section.isGroup ? section.key : nil, path: section.isGroup ? "\(section.key).1.\(field.key)" : "\(section.key).\(field.key)", type: field.type)
    }
}.prefix(fieldsPerReferral)
let groups = sizedPaths.compactMap(\.group).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
func value(for type: FieldType, _ n: Int) -> String {
    switch type {
    case .text: sentence(n)
    case .date: "2016-05-04"
    case .dateTime: "2026-03-14T09:30"
    case .yesNo: "no"
    case .choice(let options): options[n % options.count].key
    case .multiChoice(let options): options.prefix(2).map(\.key).joined(separator: ",")
    case .attachment: AttachmentReference(of: Data(sentence(n).utf8)).stored
    }
}

let sizedFile = work.appendingPathComponent("sized.sqlite").path
struct Fill { var perReferralMs: [Double] = [], fullStoreSetMs: [Double] = [], main = 0, wal = 0, storedValues = 0 }
/// Writes the referrals, then times `set` on the full store; returns the
/// timings, the file sizes with the store still open and the stored values of
/// the last referral. The store is closed on return.
func fillStore() throws -> Fill {
    let store = try LocalStore(path: sizedFile, author: "bench", passphrase: benchPassphrase)
    var fill = Fill(), last = UUID()
    for r in 0..<referralCount {
        let start = ContinuousClock.now
        last = try store.createReferral(kind: kind)
        for group in groups { _ = try store.addItem(to: group, of: last) }
        for (f, field) in sizedPaths.enumerated() { try store.set(field.path, of: last, to: value(for: field.type, r * fieldsPerReferral + f)) }
        fill.perReferralMs.append(milliseconds(ContinuousClock.now - start))
    }
    (fill.main, fill.wal, fill.storedValues) = (fileSize(sizedFile), fileSize(sizedFile + "-wal"), try store.referral(last).values.count)
    for n in 0..<500 {
        let start = ContinuousClock.now
        try store.set(textPaths[n % textPaths.count], of: last, to: "Edited on the full store \(n).")
        fill.fullStoreSetMs.append(milliseconds(ContinuousClock.now - start))
    }
    return fill
}
let fill = try fillStore()  // closing the last connection checkpoints the WAL into the main file and deletes it
let closedMain = fileSize(sizedFile), closedWAL = fileSize(sizedFile + "-wal")
let transactions = referralCount * (1 + groups.count + fieldsPerReferral)

print("")
print("3. Store size: \(referralCount) referrals × \(fieldsPerReferral) fields, written with LocalStore into \(sizedFile)")
print("   each referral: createReferral, addItem to \(groups.joined(separator: ", ")), then set on \(fieldsPerReferral) distinct paths")
print("   (\(sizedPaths.first!.path) … \(sizedPaths.last!.path)); \(fill.storedValues) stored values a referral with @kind, @status and item markers")
let fillSeconds = fill.perReferralMs.reduce(0, +) / 1e3
let tenth = max(1, referralCount / 10)
func perTransaction(_ slice: ArraySlice<Double>) -> Double { slice.reduce(0, +) / Double(slice.count * (transactions / referralCount)) }
print(String(format: "   written in %.1f s: %d transactions, %.3f ms each on average", fillSeconds, transactions, fillSeconds * 1e3 / Double(transactions)))
print(String(format: "   growth: %.3f ms a transaction over the first %d referrals, %.3f ms over the last %d",
             perTransaction(fill.perReferralMs.prefix(tenth)), tenth, perTransaction(fill.perReferralMs.suffix(tenth)), tenth))
print("   set on the full store (500 writes to its last referral): " + summary(fill.fullStoreSetMs, [("median", 0.5), ("p90", 0.9), ("p99", 0.99)]))
print("   store open (as found):  main \(megabytes(fill.main)) + wal \(megabytes(fill.wal)) = \(megabytes(fill.main + fill.wal))")
print("   store closed:           main \(megabytes(closedMain)) + wal \(megabytes(closedWAL)) = \(megabytes(closedMain + closedWAL))")
print("     (closing the last connection checkpoints the WAL into the main file and deletes it; LocalStore has no public")
print("      wal_checkpoint(TRUNCATE), so closing stands in for it)")
print(String(format: "   %.1f KB a referral, %.0f bytes a field value (value, history line and outbox entry)",
             Double(closedMain + closedWAL) / 1024 / Double(referralCount), Double(closedMain + closedWAL) / Double(referralCount * fieldsPerReferral)))
