import Foundation
import TestSupport
import Testing

/// Every `field` command names itself, so that a one-shot command's start
/// never makes names from types (`String(describing:)`, whose first use per
/// type scans every protocol conformance in the binary: about a tenth of a
/// one-shot `field set`; docs/performance.md, "The device path, again").
@Suite("Command names")
struct CommandNameTests {
    @Test("every CommandConfiguration in Sources/field-cli gives its commandName")
    func everyCommandIsNamed() throws {
        let folder = Repository.file("Sources/field-cli")
        var configurations = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".swift") {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            for part in text.components(separatedBy: "CommandConfiguration(").dropFirst() {
                configurations += 1
                let arguments = part.drop { $0 == " " || $0 == "\n" }
                #expect(arguments.hasPrefix("commandName:"), "\(name): a command without its commandName: \(arguments.prefix(60))")
            }
        }
        // The root, 29 more commands and their subcommands.
        #expect(configurations >= 40, "\(configurations)")
    }
}
