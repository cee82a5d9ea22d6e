import BenchmarkSupport
import Foundation

/// What a run counts around each kind's requests: the server's CPU time, or
/// the instructions it executed (under callgrind). `start` and `stop`
/// bracket the requests; `stop` returns what was spent between them.
protocol Meter {
    /// The unit of `stop`'s figure, for the report (`ms`, `instructions`).
    var unit: String { get }
    func start() throws
    /// What the server spent since `start`: milliseconds of CPU, or instructions.
    func stop(label: String) throws -> Double
}

/// The server's own CPU time, user and system, all its threads (`utime` +
/// `stime` of `/proc/PID/stat`, in clock ticks of 10 ms: a kind's requests
/// must add up to about a second for a figure good to 2 %; 300 registers
/// at 0.7 ms are 21 ticks, good to about 5 %).
final class CPUTimeMeter: Meter {
    let pid: Int32
    private var startTicks = 0
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    let unit = "ms"

    init(pid: Int32) { self.pid = pid }

    /// `utime + stime` of the process, in clock ticks.
    /// - Throws: `BenchmarkError` when the process is gone.
    static func ticks(of pid: Int32) throws -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { throw BenchmarkError("process \(pid) has no /proc/\(pid)/stat: it has ended.") }
        // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else {
            throw BenchmarkError("/proc/\(pid)/stat does not read as expected.")
        }
        return user + system
    }

    func start() throws { startTicks = try Self.ticks(of: pid) }

    func stop(label: String) throws -> Double {
        Double(try Self.ticks(of: pid) - startTicks) / ticksPerSecond * 1000
    }
}

/// Instructions executed by the server (callgrind's `Ir`, user space only),
/// counted while instrumentation is on: `callgrind_control -i on` at
/// `start`, `-i off` and a dump at `stop`, whose `totals:` line is the
/// figure. The server runs under `valgrind --tool=callgrind
/// --instr-atstart=no`, so nothing is counted outside these windows.
final class InstructionMeter: Meter {
    let pid: Int32
    /// The folder callgrind writes its dumps to (`--callgrind-out-file=FOLDER/callgrind.out`).
    let folder: URL
    let unit = "instructions"
    private let control: String

    init(pid: Int32, folder: URL, control: String) {
        self.pid = pid
        self.folder = folder
        self.control = control
    }

    private func callgrindControl(_ arguments: [String]) throws {
        // Quiet: it says "sending command … to pid N" on standard error each time.
        let result = try ServerProcess.run(control, arguments + [String(pid)], quiet: true)
        guard result.status == 0 else { throw BenchmarkError("\(control) \(arguments.joined(separator: " ")) \(pid) failed: \(result.text.prefix(300))") }
    }

    func start() throws { try callgrindControl(["--instr=on"]) }

    func stop(label: String) throws -> Double {
        try callgrindControl(["--instr=off"])
        try callgrindControl(["--dump=\(label)"])
        // The dump whose trigger names this label: `desc: Trigger: dump LABEL`, then `totals: N`.
        for _ in 0..<600 {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for file in files where file.hasPrefix("callgrind.out.") {
                guard let text = try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8),
                      text.contains("\ndesc: Trigger: dump \(label)\n") else { continue }
                if let totals = text.split(separator: "\n").last(where: { $0.hasPrefix("totals: ") }),
                   let count = Double(totals.dropFirst("totals: ".count).split(separator: " ")[0]) {
                    try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
                    return count
                }
            }
            usleep(100_000)
        }
        throw BenchmarkError("callgrind wrote no dump named '\(label)' in \(folder.path) within a minute.")
    }
}
