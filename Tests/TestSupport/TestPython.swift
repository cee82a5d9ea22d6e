import Foundation

/// The Python the tests' own checks run in: the console's browser steps
/// (Selenium), the export's FHIR checks (fhir.resources, jsonschema), the
/// form file's schema and the receipts' signatures (cryptography).
/// `scripts/test` installs them into `.build/test-venv`; `CONSOLE_TEST_PYTHON`
/// names another. Without them a test that needs them is skipped with a
/// note, unless `SYNC_TEST_REQUIRE_BROWSER=1` (as `scripts/test` and
/// `.ci/run` set), which makes their absence a failure.
public enum TestPython {
    /// The interpreter's path.
    public static let path = ProcessInfo.processInfo.environment["CONSOLE_TEST_PYTHON"]
        ?? Repository.file(".build/test-venv/bin/python3").path

    /// Whether a missing Python module or browser fails the test instead of skipping it.
    public static var required: Bool { ProcessInfo.processInfo.environment["SYNC_TEST_REQUIRE_BROWSER"] == "1" }

    /// Whether the interpreter can import `module` (a comma-separated list imports several).
    public static func has(module: String) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: path),
            let (termination, _) = try? ChildProcess.run(path, ["-c", "import \(module)"], error: .null)
        else { return false }
        return termination.status == 0
    }

    /// Whether Debian's `chromium` and `chromium-driver` and the interpreter are there.
    public static var browserAvailable: Bool {
        ["/usr/bin/chromium", "/usr/bin/chromedriver", path].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
