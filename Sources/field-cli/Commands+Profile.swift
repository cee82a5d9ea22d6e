import ArgumentParser
import Foundation
import SyncCore

/// The practitioner's own details as referrer, kept on this device and filled
/// into every new draft.
struct ReferrerProfile: Codable, Equatable {
    /// Values by their form path (`referrer.name`…), only those given.
    var values: [String: String] = [:]

    /// The paths a profile may hold, in the form's order.
    static let paths = ["referrer.name", "referrer.role", "referrer.agency", "referrer.phone", "referrer.email"]

    /// The profile in `home`, or an empty one when none was saved.
    /// - Throws: `CLIError` naming the file when it exists but cannot be read.
    static func load(from home: URL) throws -> ReferrerProfile {
        let file = Self.file(in: home)
        guard FileManager.default.fileExists(atPath: file.path) else { return ReferrerProfile() }
        guard let data = FileManager.default.contents(atPath: file.path),
            let values = try? JSONDecoder().decode([String: String].self, from: data)
        else { throw CLIError("The profile file '\(file.path)' cannot be read; set your details again with `field profile`, or delete it.") }
        return ReferrerProfile(values: values.filter { paths.contains($0.key) })
    }

    /// Writes the profile to `home`, readable by its owner only.
    func save(in home: URL) throws {
        let file = Self.file(in: home)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try encoder.encode(values).write(to: file, options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        } catch {
            throw CLIError("Cannot write the profile file '\(file.path)'; check that FIELD_HOME is a folder you can write.")
        }
    }

    static func file(in home: URL) -> URL { home.appendingPathComponent("profile.json") }

    /// The profile's values in the form's order.
    var ordered: [(path: String, value: String)] {
        Self.paths.compactMap { path in values[path].map { (path, $0) } }
    }
}

extension Field {
    struct Profile: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "profile",
            abstract: "Set your details as referrer (name, role, agency, phone, email), filled into every new draft.",
            discussion: """
                Kept on this device in FIELD_HOME/profile.json, readable by you only. With no option, prints the \
                profile. An empty value (--phone '') forgets that detail. Drafts already started do not change; \
                each new draft starts with these answers, which you can change with `field set` like any other.
                """)

        @Option(help: "Your full name.") var name: String?
        @Option(help: "Your role, such as health visitor or class teacher.") var role: String?
        @Option(help: "The agency or organisation you work for.") var agency: String?
        @Option(help: "The phone number on which the front door can reach you.") var phone: String?
        @Option(help: "Your email address.") var email: String?
        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            var profile = try ReferrerProfile.load(from: context.home)
            let given = zip(ReferrerProfile.paths, [name, role, agency, phone, email]).compactMap { path, value in value.map { (path, $0) } }
            for (path, value) in given {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                profile.values[path] = trimmed.isEmpty ? nil : trimmed
            }
            if !given.isEmpty { try profile.save(in: context.home) }
            if output.json {
                try context.console.json(profile.values)
                return
            }
            guard !profile.values.isEmpty else {
                context.console.line("No profile yet; set one with `field profile --name NAME --role ROLE --agency AGENCY --phone PHONE --email EMAIL`.")
                return
            }
            if !given.isEmpty { context.console.line("Saved; every new draft starts with:") }
            profile.ordered.forEach { context.console.line("  \($0.path) = \($0.value)") }
        }
    }
}
