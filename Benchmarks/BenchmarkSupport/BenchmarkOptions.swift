import Foundation

/// A benchmark's command line: `--name value` options, and a one-line
/// failure naming the tool (exit 64, as for a usage error).
public struct BenchmarkOptions: Sendable {
    public let tool: String
    public let arguments: [String]

    public init(tool: String, arguments: [String] = CommandLine.arguments) {
        self.tool = tool
        self.arguments = arguments
    }

    /// The value after `name` (`--devices 300` → "300"), nil when absent.
    public func value(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    /// Writes `tool: message` to standard error and exits 64.
    public func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("\(tool): \(message)\n".utf8))
        exit(64)
    }
}
