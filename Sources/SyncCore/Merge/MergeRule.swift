import Foundation

/// What the server does with a write that is concurrent with one its device
/// had not seen (its base revision is older than the field's, and another
/// device wrote in between).
public enum MergeDecision: Equatable, Sendable {
    /// The field takes this value (the incoming one, or a merge of both).
    case write(String?)
    /// The current value stays; the incoming write is kept in the history only.
    case keepCurrent
    /// Both values become candidates of a conflict for an admin to resolve.
    case conflict
}

/// The merge rule, as one pure function. The rules, in order:
/// 1. the same value as the current one is written (nothing to resolve);
/// 2. `manual`: a conflict;
/// 3. `lww`: the higher hybrid-logical-clock stamp wins;
/// 4. `append`: both additions to the base text are kept, ordered by stamp;
/// 5. `set`: a three-way merge of the choices in which additions win.
public enum MergeRule {
    public struct Side: Sendable {
        public var value: String?
        public var hlc: HLCStamp

        public init(value: String?, hlc: HLCStamp) {
            self.value = value
            self.hlc = hlc
        }
    }

    /// - Parameters:
    ///   - base: the field's value at the incoming write's base revision.
    ///   - optionOrder: for `set`, the option keys in the form's order.
    public static func decide(
        policy: MergePolicy, base: String?, current: Side, incoming: Side, optionOrder: [String] = []
    ) -> MergeDecision {
        if incoming.value == current.value { return .write(incoming.value) }
        switch policy {
        case .manual:
            return .conflict
        case .lww:
            return incoming.hlc > current.hlc ? .write(incoming.value) : .keepCurrent
        case .append:
            return appendMerge(base: base, current: current, incoming: incoming)
        case .set:
            return .write(setMerge(base: base, current: current.value, incoming: incoming.value, optionOrder: optionOrder))
        }
    }

    /// Running notes: what each side added to the base text, in stamp order.
    /// A side that rewrote the text rather than adding to it is kept whole.
    /// Clearing an append field never erases the other side's entries.
    static func appendMerge(base: String?, current: Side, incoming: Side) -> MergeDecision {
        guard let incomingText = incoming.value else { return .keepCurrent }
        guard let currentText = current.value else { return .write(incomingText) }
        let baseText = base ?? ""
        let bothExtend = !baseText.isEmpty && currentText.hasPrefix(baseText) && incomingText.hasPrefix(baseText)
        func addition(_ text: String) -> String {
            (bothExtend ? String(text.dropFirst(baseText.count)) : text).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let ordered = [(current.hlc, addition(currentText)), (incoming.hlc, addition(incomingText))]
            .sorted { $0.0 < $1.0 }
            .map(\.1)
            .filter { !$0.isEmpty }
        let parts = (bothExtend ? [baseText.trimmingCharacters(in: .whitespacesAndNewlines)] : []) + ordered
        return .write(parts.joined(separator: "\n"))
    }

    /// Multi-choice: keep what both sides kept, plus what either side added.
    /// A choice removed by one side and left alone by the other is removed.
    static func setMerge(base: String?, current: String?, incoming: String?, optionOrder: [String]) -> String? {
        func choices(_ text: String?) -> Set<String> {
            Set((text ?? "").split(separator: ",").map(String.init))
        }
        let (b, c, i) = (choices(base), choices(current), choices(incoming))
        let merged = b.intersection(c).intersection(i).union(c.subtracting(b)).union(i.subtracting(b))
        let known = optionOrder.filter(merged.contains)
        let unknown = merged.subtracting(optionOrder).sorted()
        let result = (known + unknown).joined(separator: ",")
        return result.isEmpty ? nil : result
    }
}
