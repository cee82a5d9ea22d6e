import ArgumentParser
import Foundation
import SyncCore

/// What the shell completes for `field`'s arguments (`field
/// --generate-completion-script bash|zsh|fish`): referral ids from this
/// device's store, field paths and section names from the form. Completion
/// never asks for a passphrase: without FIELD_PASSPHRASE, ids are not offered.
enum Completion {
    /// The ids of the referrals on this device that start with `prefix`, most recently changed first.
    @Sendable static func referralIDs(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        guard ProcessInfo.processInfo.environment["FIELD_PASSPHRASE"] != nil,
            let context = try? Context.fromEnvironment(console: Console(isInteractive: false)),
            FileManager.default.fileExists(atPath: context.home.appendingPathComponent("field.sqlite").path),
            let summaries = try? context.store().summaries()
        else { return [] }
        return summaries.map(\.id.lowercased).filter { $0.hasPrefix(prefix.lowercased()) }
    }

    /// The newest form version this device has (read without the passphrase:
    /// forms are not referral content); the built-in form when there is no store.
    static var form: ReferralForm {
        guard let context = try? Context.fromEnvironment(console: Console(isInteractive: false)),
              let catalog = try? context.formCatalog()
        else { return .standard }
        return catalog.latest
    }

    /// The form's field paths that start with `prefix`, group fields by the
    /// first item's position (`children.1.full_name`).
    @Sendable static func fieldPaths(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        form.patterns.map { $0.pattern.replacingOccurrences(of: ".*.", with: ".1.") }.filter { $0.hasPrefix(prefix) }
    }

    /// The form's section names (`referrer`, `children`…) that start with `prefix`.
    @Sendable static func sections(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        form.sections.map(\.key).filter { $0.hasPrefix(prefix) }
    }

    /// The repeating groups (`children`…) that start with `prefix`.
    @Sendable static func groups(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        form.groups.map(\.key).filter { $0.hasPrefix(prefix) }
    }
}
