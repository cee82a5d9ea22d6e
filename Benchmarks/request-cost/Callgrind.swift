import BenchmarkSupport
import Foundation

/// What a sync-server needs to run under callgrind here: valgrind 3.19
/// (Debian bookworm's) gives up on the DWARF 5 debug information of a Swift
/// 6 binary ("Possibly corrupted debuginfo file"), so the server runs as a
/// copy without it (`strip --strip-debug`: the same code, so the same
/// instructions); and it crashes in its own `rt_sigsuspend` wrapper, which
/// writes into the caller's signal mask, when libdispatch's main thread
/// (`dispatchMain`) waits with a mask in read-only memory, so a preloaded
/// `sigsuspend` passes the kernel a copy on the stack instead.
struct CallgrindSetup {
    /// The stripped copy of the server.
    let binary: String
    /// valgrind and its options, to put before the server's command.
    let wrapper: [String]
    /// `LD_PRELOAD` of the `sigsuspend` copy.
    let environment: [String: String]
    let control: String
    /// Where callgrind writes its dumps.
    let folder: URL

    static let sigsuspendSource = """
        #define _GNU_SOURCE
        #include <signal.h>
        #include <sys/syscall.h>
        #include <unistd.h>
        /* valgrind <= 3.19's rt_sigsuspend writes into the mask it is given: pass it a copy. */
        int sigsuspend(const sigset_t *mask) {
            sigset_t copy = *mask;
            return (int)syscall(SYS_rt_sigsuspend, &copy, 8);
        }
        """

    /// Prepares the copy and the preload in `folder` for `server`.
    /// - Throws: `BenchmarkError` naming a missing tool (valgrind,
    ///   callgrind_control, strip or objcopy, a C compiler) or a failed step.
    init(server: String, folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        self.folder = folder
        guard let valgrind = Self.which("valgrind"), let control = Self.which("callgrind_control") else {
            throw BenchmarkError("valgrind and callgrind_control are needed for instruction counts (Debian: apt-get install valgrind).")
        }
        self.control = control
        binary = folder.appendingPathComponent("sync-server").path
        if let strip = Self.which("strip") ?? Self.which("objcopy") {
            try Self.check(strip, ["--strip-debug", server, "-o", binary])
        } else {
            throw BenchmarkError("strip or objcopy (binutils) is needed to copy the server without its debug information.")
        }
        // Its resource bundles beside the copy, as beside the original.
        let original = URL(fileURLWithPath: server).deletingLastPathComponent()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: original.path)) ?? [] where name.hasSuffix(".resources") {
            try? FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(name), withDestinationURL: original.appendingPathComponent(name))
        }
        let source = folder.appendingPathComponent("sigsuspend.c")
        let library = folder.appendingPathComponent("sigsuspend.so").path
        try Self.sigsuspendSource.write(to: source, atomically: true, encoding: .utf8)
        guard let compiler = Self.which("cc") ?? Self.which("clang") else { throw BenchmarkError("a C compiler (cc or clang) is needed for the sigsuspend preload.") }
        try Self.check(compiler, ["-shared", "-fPIC", "-O2", "-o", library, source.path])
        environment = ["LD_PRELOAD": library]
        wrapper = [
            valgrind, "--tool=callgrind", "--instr-atstart=no",
            "--callgrind-out-file=\(folder.path)/callgrind.out", "--log-file=\(folder.path)/valgrind.log",
        ]
    }

    /// The first `name` on PATH.
    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    private static func check(_ tool: String, _ arguments: [String]) throws {
        let result = try ServerProcess.run(tool, arguments)
        guard result.status == 0 else { throw BenchmarkError("\(tool) \(arguments.joined(separator: " ")) failed (exit \(result.status)).") }
    }
}
