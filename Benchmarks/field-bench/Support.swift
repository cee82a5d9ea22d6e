import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Timing, statistics, process spawning and machine facts for field-bench.

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
}

/// Nearest-rank percentile of sorted values (p in 0...1).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// "median 1.234 ms  p90 …" for the given percentiles, plus min and max.
func summary(_ values: [Double], _ points: [(String, Double)]) -> String {
    let sorted = values.sorted()
    let parts = points.map { String(format: "%@ %.3f", $0.0, percentile(sorted, $0.1)) }
        + [String(format: "min %.3f", sorted.first!), String(format: "max %.3f", sorted.last!)]
    return parts.joined(separator: "  ") + " ms  (n=\(sorted.count))"
}

/// Runs `argv` with posix_spawn and waits with waitpid: no Foundation run loop
/// in the measured path. Stdout goes to /dev/null; stderr is inherited; `input`,
/// if given, is written to the child's stdin through a pipe. Returns the exit
/// status and the wall time from just before the spawn to the child's exit.
func spawnAndWait(_ argv: [String], environment: [String: String], input: String? = nil) -> (status: Int32, ms: Double) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    var fds: [Int32] = [-1, -1]
    if input != nil {
        precondition(pipe(&fds) == 0, "pipe() failed")
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (cArgs + cEnv).forEach { free($0) } }

    var pid = pid_t()
    let start = ContinuousClock.now
    let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
    precondition(spawned == 0, "cannot start \(argv[0]): \(String(cString: strerror(spawned)))")
    if let input {
        close(fds[0])
        var bytes = Array(input.utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            if count <= 0 { break }  // the child stopped reading
            bytes = bytes.dropFirst(count)
        }
        close(fds[1])
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let elapsed = milliseconds(ContinuousClock.now - start)
    return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), elapsed)
}

/// Runs a command (untimed) and returns its trimmed stdout; fails loudly.
func output(_ argv: [String], environment: [String: String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: argv[0])
    process.arguments = Array(argv.dropFirst())
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("\(argv.joined(separator: " ")) exited \(process.terminationStatus)") }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

func megabytes(_ bytes: Int) -> String { String(format: "%.2f MB", Double(bytes) / 1_048_576) }

/// nproc, `uname -m`, the CPU model, memory, OS and the file system under `directory`.
func machineDescription(directory: String) -> [String] {
    func read(_ path: String) -> [Substring] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
    }
    func value(_ lines: [Substring], _ key: String) -> String? {
        lines.first { $0.hasPrefix(key) }?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    }
    var name = utsname()
    uname(&name)
    let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let os = read("/etc/os-release").first { $0.hasPrefix("PRETTY_NAME=") }?.dropFirst(12).trimmingCharacters(in: ["\""])
    // The mount holding `directory`: the longest mount point that prefixes it.
    let mounts: [[String]] = read("/proc/mounts").map { $0.split(separator: " ").map(String.init) }.filter { $0.count > 2 }
    let mount = mounts.filter { (directory + "/").hasPrefix($0[1].hasSuffix("/") ? $0[1] : $0[1] + "/") }
        .max { $0[1].count < $1[1].count }
    return [
        "nproc:      \(ProcessInfo.processInfo.activeProcessorCount)",
        "uname -m:   \(machine)",
        "CPU:        \(value(read("/proc/cpuinfo"), "model name") ?? "unknown")",
        "memory:     \(value(read("/proc/meminfo"), "MemTotal") ?? "unknown")",
        "OS:         \(os ?? ProcessInfo.processInfo.operatingSystemVersionString)",
        "load avg:   \(read("/proc/loadavg").first.map(String.init) ?? "unknown")   (other work on the machine skews the figures)",
        "temp files: \(directory) on \(mount.map { "\($0[0]) (\($0[2]), mounted at \($0[1]))" } ?? "unknown")",
    ]
}
