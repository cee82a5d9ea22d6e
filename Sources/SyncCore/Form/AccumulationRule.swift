import Foundation

/// When lower-level concerns about one child add up: the front door flags a
/// referral whose child has at least `referrals` referrals (this one
/// included) submitted within `months`, each rated one of `ratings`.
/// Configuration, not code: the optional `accumulation` key of the
/// server's `authority.json`; every key is optional.
///
/// Default: 3 or more referrals in 12 months each rated green. Source: the
/// regional procedure (seeds: a concern "may relate to a single incident or
/// an accumulation of lower level concerns"), and the issue's example; the
/// 12-month window is also the one "known to the front door" counts over.
public struct AccumulationRule: Codable, Sendable, Equatable {
    public var referrals: Int
    public var months: Int
    /// `RAGRating` raw values (red, amber, green).
    public var ratings: [String]
    public var source: String

    public static let standard = AccumulationRule(
        referrals: 3, months: 12, ratings: [RAGRating.green.rawValue],
        source: "Regional procedure: a concern may be an accumulation of lower level concerns (default: 3 in 12 months rated green)")

    public init(referrals: Int, months: Int, ratings: [String], source: String) {
        (self.referrals, self.months, self.ratings, self.source) = (referrals, months, ratings, source)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let standard = Self.standard
        referrals = try container.decodeIfPresent(Int.self, forKey: .referrals) ?? standard.referrals
        months = try container.decodeIfPresent(Int.self, forKey: .months) ?? standard.months
        ratings = try container.decodeIfPresent([String].self, forKey: .ratings) ?? standard.ratings
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? "the authority's configuration"
    }

    /// - Throws: `AuthorityError` naming the file and the bad value.
    func validate(source file: String) throws {
        guard (2...100).contains(referrals) else {
            throw AuthorityError(message: "The authority configuration '\(file)' gives accumulation.referrals \(referrals); it must be 2 to 100.")
        }
        guard (1...120).contains(months) else {
            throw AuthorityError(message: "The authority configuration '\(file)' gives accumulation.months \(months); it must be 1 to 120.")
        }
        guard !ratings.isEmpty else {
            throw AuthorityError(message: "The authority configuration '\(file)' gives accumulation.ratings no rating; give one or more of red, amber, green.")
        }
        for rating in ratings where RAGRating(rawValue: rating) == nil {
            throw AuthorityError(message: "The authority configuration '\(file)' has an accumulation rating '\(rating)'; the ratings are red, amber and green.")
        }
    }

    /// The flag, when `ratings` (one per referral in the window, nil when unrated) add up under the rule.
    public func flag(ratings given: [String?]) -> String? {
        let counted = given.compactMap { $0 }.filter(ratings.contains).count
        guard counted >= referrals else { return nil }
        return "Concerns adding up: \(counted) referrals in \(months) months rated \(ratings.joined(separator: " or ")) (the rule: \(referrals) or more)"
    }
}
