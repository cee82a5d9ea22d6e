// request-cost (issue 30, item 4): what one request costs the server, for a
// release sync-server on SQLite in a temporary folder: its own CPU time per
// request (`utime + stime` of /proc/PID/stat around each kind's requests),
// or with `--instructions` the instructions it executes per request
// (callgrind's Ir, the same for the same binary and input within a few per
// cent, whatever else the machine is doing). Printed, never asserted here;
// scripts/instruction-guard compares the counts with the recorded ones.
//
//   .build/release/request-cost [--server PATH] [--baseline-server PATH] [--pairs N]
//   .build/release/request-cost --instructions [--server PATH] [--baseline-server PATH] [--runs N] [--tsv FILE]
//
// Each run starts the server on a new SQLite store with one practitioner
// (`sync-server user add`), warms it up (`--warm-up` devices register, push
// and pull), then, one request at a time over a kept-alive connection:
// `--health` GET /healthz; `--devices` new devices register; each of them
// pushes a new referral of 27 fields (`@kind`, a child, 25 text fields);
// `--pulls` pages of 100 changes (GET /v1/pull?since=…&limit=100). With
// `--baseline-server` (e.g. the release before), both servers are measured
// alternately in the same run and each figure is printed beside the
// baseline's, with their ratio (this server over the baseline).
import BenchmarkSupport
import Foundation

let arguments = CommandLine.arguments
let options = BenchmarkOptions(tool: "request-cost", arguments: arguments)
func option(_ name: String) -> String? { options.value(name) }
func fail(_ message: String) -> Never { options.fail(message) }
func number(_ name: String, _ fallback: Int) -> Int {
    guard let text = option(name) else { return fallback }
    guard let value = Int(text), value >= 1 else { fail("\(name) needs a whole number of 1 or more, not '\(text)'.") }
    return value
}
let known: Set = ["--server", "--baseline-server", "--pairs", "--runs", "--health", "--devices", "--pulls", "--warm-up", "--tsv", "--instructions", "--keep"]
for argument in arguments.dropFirst() where argument.hasPrefix("--") && !known.contains(argument) {
    fail("unknown option '\(argument)'; the options are \(known.sorted().joined(separator: ", ")).")
}

let instructions = arguments.contains("--instructions")
let server = option("--server") ?? URL(fileURLWithPath: arguments[0]).deletingLastPathComponent().appendingPathComponent("sync-server").path
let baseline = option("--baseline-server")
for binary in [server] + (baseline.map { [$0] } ?? []) where !FileManager.default.isExecutableFile(atPath: binary) {
    fail("'\(binary)' is not an executable sync-server.")
}
// Under callgrind a request takes 50–100 times as long: fewer of them, which the counts' spread allows (docs/performance.md).
let counts = RequestCounts(
    health: number("--health", instructions ? 200 : 3_000),
    devices: number("--devices", instructions ? 30 : 300),
    pulls: number("--pulls", instructions ? 30 : 300),
    warmUp: number("--warm-up", 10))
let rounds = number(instructions ? "--runs" : "--pairs", instructions ? 3 : (baseline == nil ? 1 : 3))
let keep = arguments.contains("--keep")

/// One run against a new store: what each kind cost a request (ms of CPU, or instructions).
func measure(_ binary: String) throws -> [RequestKind: Double] {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("request-cost-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { if keep { print("kept: \(folder.path)") } else { try? FileManager.default.removeItem(at: folder) } }
    let storage = ["--db", folder.appendingPathComponent("server.sqlite").path]
    let token = try ServerProcess.addUser("bench", binary: binary, storage: storage)
    if instructions {
        let setup = try CallgrindSetup(server: binary, folder: folder.appendingPathComponent("callgrind"))
        let process = try ServerProcess(
            binary: setup.binary, storage: storage, folder: folder, wrapper: setup.wrapper, environment: setup.environment, startTimeout: 600)
        defer { process.stop(grace: 120) }
        return try Workload(server: process.url, userToken: token, counts: counts)
            .run(InstructionMeter(pid: process.pid, folder: setup.folder, control: setup.control))
    }
    let process = try ServerProcess(binary: binary, storage: storage, folder: folder)
    defer { process.stop() }
    return try Workload(server: process.url, userToken: token, counts: counts).run(CPUTimeMeter(pid: process.pid))
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
func figure(_ value: Double) -> String {
    instructions ? String(format: "%.0f", value) : String(format: value < 1 ? "%.3f" : "%.2f", value)
}

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
print("request-cost on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), load average \(load)")
print("measuring: \(instructions ? "instructions per request (callgrind Ir, user space)" : "server CPU per request (utime + stime of /proc/PID/stat), ms")")
print("server: \(server)" + (baseline.map { "; baseline: \($0)" } ?? ""))
print("SQLite store in a temporary folder; \(counts.warmUp) warm-up devices; then \(counts.health) health checks, \(counts.devices) registers, \(counts.devices) pushes of \(Workload.fieldsPerReferral) fields, \(counts.pulls) pulls of \(Workload.pageSize) changes, one at a time over a kept-alive connection each")

for kind in RequestKind.allCases { print("  \(kind.rawValue): \(kind.what)") }

var mine: [[RequestKind: Double]] = []
var theirs: [[RequestKind: Double]] = []
do {
    for round in 1...rounds {
        // Alternating which goes first, so that a drift of the machine falls on both.
        let order: [(String, Bool)] = baseline.map { round % 2 == 1 ? [($0, true), (server, false)] : [(server, false), ($0, true)] } ?? [(server, false)]
        for (binary, isBaseline) in order {
            let result = try measure(binary)
            if isBaseline { theirs.append(result) } else { mine.append(result) }
            print("\(instructions ? "run" : "pair") \(round), \(isBaseline ? "baseline" : "server  "): "
                + RequestKind.allCases.map { "\($0.rawValue) \(figure(result[$0]!))" }.joined(separator: " · "))
        }
    }
} catch {
    fail("\(error)")
}

print("")
print("per request (\(instructions ? "instructions" : "ms of server CPU")), each \(instructions ? "run" : "pair"), median" + (instructions ? ", spread ((max − min) / median)" : "") + (baseline == nil ? "" : "; ratio = server / baseline"))
var tsv = "kind\t\(instructions ? "instructions" : "cpu_ms")\n"
for kind in RequestKind.allCases {
    let values = mine.map { $0[kind]! }
    let middle = median(values)
    tsv += "\(kind.rawValue)\t\(figure(middle))\n"
    var line = kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0) + "server " + values.map(figure).joined(separator: " ") + " → median \(figure(middle))"
    if instructions, values.count > 1 { line += String(format: ", spread %.1f %%", (values.max()! - values.min()!) / middle * 100) }
    if !instructions, let target = kind.targetMilliseconds { line += " (target ≤ \(target) ms: \(middle <= target ? "met" : "not met"))" }
    print(line)
    if baseline != nil {
        let base = theirs.map { $0[kind]! }
        let ratios = zip(values, base).map { $0 / $1 }
        print("         baseline " + base.map(figure).joined(separator: " ") + " → median \(figure(median(base)))"
            + "; ratio " + ratios.map { String(format: "%.2f", $0) }.joined(separator: " ") + String(format: " → median %.2f", median(ratios)))
    }
}
if let path = option("--tsv") {
    do { try tsv.write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("could not write '\(path)': \(error)") }
}
