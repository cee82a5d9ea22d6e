import Foundation
import Prometheus

/// The counters `/metrics` exposes in Prometheus' text format, next to the
/// request counts and latencies Hummingbird's `MetricsMiddleware` records.
/// Labels never carry referral content or ids.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let applied: Prometheus.Counter
    let conflicts: Prometheus.Counter
    let rejected: Prometheus.Counter
    let duplicates: Prometheus.Counter
    let pulled: Prometheus.Counter
    /// Audit heads devices presented that the chain no longer holds: the
    /// chain was shortened or rewritten (docs/security.md).
    let auditHeadsNotHeld: Prometheus.Counter

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        applied = registry.makeCounter(name: "sync_changes_applied_total")
        conflicts = registry.makeCounter(name: "sync_conflicts_total")
        rejected = registry.makeCounter(name: "sync_changes_rejected_total")
        duplicates = registry.makeCounter(name: "sync_changes_duplicate_total")
        pulled = registry.makeCounter(name: "sync_changes_pulled_total")
        auditHeadsNotHeld = registry.makeCounter(name: "audit_heads_not_held_total")
    }

    func record(_ result: PushEngine.Result) {
        applied.increment(by: Int64(result.applied))
        conflicts.increment(by: Int64(result.conflicts))
        rejected.increment(by: Int64(result.rejected))
        duplicates.increment(by: Int64(result.duplicates))
    }

    func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
