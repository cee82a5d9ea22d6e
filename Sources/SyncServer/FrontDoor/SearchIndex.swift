import Foundation
import SyncCore

/// What the front door's search looks in, kept in memory by each instance
/// and brought up to date from the change log before every search: each
/// referral's status and its searchable values (`ServerQueries.searchable`:
/// children's names, other names and NHS numbers, the children's item
/// markers, the agency, the reference), folded once when they arrive.
///
/// The first search reads every searchable value (`SyncStorage.searchTerms`,
/// through the partial index `fields_for_search`); each later one reads only
/// the change log's entries since (`SyncStorage.searchChanges`), so a search
/// costs a scan of folded strings in memory, not a read of every referral.
/// On PostgreSQL the log is read below the horizon of writes in flight, so an
/// entry that commits late is read by a later search (as pulls do).
actor SearchIndex {
    /// One searchable value, prepared when it arrives so that a search only compares bytes.
    private struct Value {
        enum Kind { case name, nhsNumber, marker, reference }
        let kind: Kind
        let value: String
        /// The item (`children.<id>`) a child's value belongs to.
        let item: String?
        /// Folded (`QueueFilter.fold`), or for a reference with its spaces removed, or for an NHS number its digits; as UTF-8.
        let key: [UInt8]

        init(path: String, value: String) {
            self.value = value
            let parts = path.split(separator: ".")
            if path == IntakePath.reference {
                kind = .reference
                item = nil
                key = Array(QueueFilter.fold(value).replacingOccurrences(of: " ", with: "").utf8)
            } else if parts.count == 2, parts[0] == "children" {
                kind = .marker
                item = path
                key = []
            } else if parts.count == 3, parts[0] == "children" {
                kind = parts[2] == "nhs_number" ? .nhsNumber : .name
                item = "\(parts[0]).\(parts[1])"
                key = kind == .nhsNumber ? Array(value.filter(\.isNumber).utf8) : Array(QueueFilter.fold(value).utf8)
            } else {
                kind = .name  // the agency
                item = nil
                key = Array(QueueFilter.fold(value).utf8)
            }
        }
    }

    private struct Referral {
        var submitted = false
        var values: [String: Value] = [:]
    }

    private var referrals: [String: Referral] = [:]
    /// The revision the index is complete up to; nil before the first load.
    private var through: Int64?

    /// The submitted referrals whose searchable values match `text`
    /// (`QueueFilter.Needle`): a present child's name or other name, folded;
    /// an NHS number however it is spaced; the reference; the agency.
    func matching(_ text: String, in storage: any SyncStorage) async throws -> Set<String> {
        try await refresh(storage)
        let needle = QueueFilter.Needle(text)
        guard !needle.folded.isEmpty || needle.isNumber else { return [] }
        let words = needle.words.map { Array($0.utf8) }
        let squeezed = Array(needle.squeezed.utf8)
        let digits = needle.isNumber ? Array(needle.digits.utf8) : nil
        var found = Set<String>()
        for (record, referral) in referrals where referral.submitted {
            for entry in referral.values.values {
                let matched: Bool
                switch entry.kind {
                case .marker: continue
                case .reference: matched = !squeezed.isEmpty && Self.contains(entry.key, squeezed)
                case .nhsNumber: matched = digits.map { !$0.isEmpty && Self.contains(entry.key, $0) } ?? false
                // Every word, in any order: "obrien zoe" finds Zoë O'Brien.
                case .name: matched = !words.isEmpty && words.allSatisfy { Self.contains(entry.key, $0) }
                }
                guard matched else { continue }
                // A removed child's values do not match.
                if let item = entry.item, referral.values[item]?.value != ItemMarker.present { continue }
                found.insert(record)
                break
            }
        }
        return found
    }

    /// Whether `needle` occurs in `haystack`, byte for byte.
    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        let first = needle[0]
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var matched = 1
                while matched < needle.count, haystack[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return true }
            }
            index += 1
        }
        return false
    }

    private func refresh(_ storage: any SyncStorage) async throws {
        guard let known = through else {
            let (terms, complete) = try await storage.searchTerms()
            apply(terms)
            through = complete
            // What committed while the terms were read.
            try await refresh(storage)
            return
        }
        let (changes, complete) = try await storage.searchChanges(after: known)
        apply(changes)
        through = max(known, complete)
    }

    private func apply(_ terms: [SearchTerm]) {
        for term in terms {
            if term.path == RecordPath.status {
                referrals[term.record, default: Referral()].submitted = term.value == ReferralStatus.submitted.rawValue
            } else if let value = term.value {
                referrals[term.record, default: Referral()].values[term.path] = Value(path: term.path, value: value)
            } else {
                referrals[term.record]?.values[term.path] = nil
            }
        }
    }
}
