import Foundation

/// Where the tests find what they run and read: the executables `swift build`
/// made (`sync-server`, `field`) and the repository's own files (golden
/// transcripts, `docs/`, the built-in form).
public enum BuiltProducts {
    /// The built `sync-server`.
    public static let syncServer = executable("sync-server")
    /// The built `field`.
    public static let field = executable("field")

    /// The executable `name` built beside the test bundle: the first folder
    /// holding it, from the bundle's own folder up to three folders above it
    /// (`.build/debug`, `.build/x86_64-unknown-linux-gnu/debug`…); the
    /// repository's `.build/debug/NAME` when none does.
    public static func executable(_ name: String) -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder.deleteLastPathComponent()
        }
        return Repository.file(".build/debug/\(name)")
    }
}

/// The repository the tests were built from.
public enum Repository {
    /// Its folder (this file is `Tests/TestSupport/BuiltProducts.swift`).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A file of the repository, by its path from the root (`docs/openapi.yaml`).
    public static func file(_ path: String) -> URL { root.appendingPathComponent(path) }
}

/// Temporary folders, one a test part (a server, a device, a FIELD_HOME).
public enum TemporaryFolder {
    /// A new, empty folder named `PREFIX-UUID` in the system's temporary folder.
    public static func make(_ prefix: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }
}

/// A test's own failure, with the sentence that says what went wrong.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
