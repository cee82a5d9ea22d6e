import Foundation
import TestSupport
import Testing

/// The README's two set-up commands check the system packages they need
/// before building anything (scripts/lib/system-packages.sh).
@Suite("Set-up scripts: system packages, the demo's tokens")
struct SetupScriptTests {
    static let root = Repository.root

    /// Runs a script of `scripts/` with extra environment; its status and its whole output.
    func run(_ script: String, environment extra: [String: String]) throws -> (status: Int32, output: String) {
        let (termination, output) = try ChildProcess.run(
            Self.root.appendingPathComponent("scripts/\(script)").path, environment: ProcessInfo.processInfo.environment.merging(extra) { $1 },
            directory: Self.root.path, error: .pipe)
        return (termination.status, output)
    }

    @Test("with a package missing and no way to install it, each script names the command to run and builds nothing", arguments: ["demo", "test"])
    func missingPackageStops(script: String) throws {
        let (status, output) = try run(script, environment: ["FIELD_SETUP_ABSENT": "libcurl4-openssl-dev", "FIELD_SETUP_NO_ROOT": "1"])
        #expect(status == 1)
        #expect(output.contains("sudo apt-get install -y libcurl4-openssl-dev"), "\(output)")
        #expect(output.split(separator: "\n").count == 1, "one sentence, nothing built: \(output)")
        #expect(!output.contains("Building") && !output.contains("Compiling"))
    }

    @Test("every missing package is named in the one line")
    func namesEveryMissingPackage() throws {
        let (status, output) = try run("demo", environment: ["FIELD_SETUP_ABSENT": "libsqlite3-dev libcurl4-openssl-dev", "FIELD_SETUP_NO_ROOT": "1"])
        #expect(status == 1)
        #expect(output.contains("apt-get install -y libsqlite3-dev libcurl4-openssl-dev"), "\(output)")
    }
}

extension SetupScriptTests {
    @Test("scripts/demo never prints a whole token: logins read it from standard input, and the printed part is the fixed prefix")
    func demoHidesTokens() throws {
        let demo = try String(contentsOf: Self.root.appendingPathComponent("scripts/demo"), encoding: .utf8)
        #expect(!demo.contains("--token \"$"), "a token on a command line the demo's `field` function echoes")
        #expect(demo.contains("--token -"))
        for line in demo.split(separator: "\n") where line.hasPrefix("echo") && line.contains("token") {
            #expect(!line.contains("${token}") && !line.contains("$token\"") && !line.contains(":0:12}"), "\(line)")
        }
    }
}
