import ClusterView
import KubernetesClient
import Logging
import Prometheus

#if canImport(Glibc)
import Glibc
#endif

/// How the cluster view's watches show: metrics per kind, and one log line per change of
/// state (synced, failing, recovered, relisted), never one per retry.
final class ClusterWatchReporter: ClusterWatchObserver {
    private struct KindMetrics {
        let objects: Gauge
        let synced: Gauge
        let lastSync: Gauge
        let relists: Counter
        let watchErrors: Counter
    }

    private let metrics: [ClusterKind: KindMetrics]
    private let logger: Logger
    private let view: LiveClusterView

    init(registry: PrometheusCollectorRegistry, view: LiveClusterView, logger: Logger) {
        self.view = view
        self.logger = logger
        let name = WebhookMetrics.name
        var made: [ClusterKind: KindMetrics] = [:]
        for kind in ClusterKind.allCases {
            let labels = [("kind", kind.rawValue)]
            made[kind] = KindMetrics(
                objects: registry.makeGauge(descriptor: name("cluster_view", "objects", "Objects the cluster view holds, by kind."), labels: labels),
                synced: registry.makeGauge(descriptor: name("cluster_view_synced", "", "1 once the kind has been listed (the context rules read it), else 0."), labels: labels),
                lastSync: registry.makeGauge(
                    descriptor: name("cluster_view_last_sync_timestamp", "seconds", "When the kind's view was last known current: a list, a watch event or a bookmark (unix time)."),
                    labels: labels),
                relists: registry.makeCounter(descriptor: name("cluster_view_relists", "total", "Full relists after 410 Gone, by kind."), labels: labels),
                watchErrors: registry.makeCounter(descriptor: name("cluster_view_watch_errors", "total", "Failed lists and watches (each retried with backoff), by kind."), labels: labels))
        }
        metrics = made
    }

    func listed(_ kind: ClusterKind, objects: Int, relist: Bool, reason: String?) {
        guard let m = metrics[kind] else { return }
        m.synced.set(1.0)
        m.objects.set(Double(objects))
        if relist {
            m.relists.increment()
            logger.warning("cluster view relisted", metadata: ["kind": "\(kind.rawValue)", "objects": "\(objects)", "reason": "\(reason ?? "resumed")"])
        } else {
            logger.info("cluster view synced", metadata: ["kind": "\(kind.rawValue)", "objects": "\(objects)"].merging(reason.map { ["note": "\($0)"] } ?? [:]) { $1 })
        }
    }

    func progressed(_ kind: ClusterKind) {
        guard let m = metrics[kind] else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        m.lastSync.set(Double(now.tv_sec))
        m.objects.set(Double(view.count(kind)))
    }

    func watchFailed(_ kind: ClusterKind, _ message: String, retryIn: Double) {
        metrics[kind]?.watchErrors.increment()
    }

    func healthChanged(_ kind: ClusterKind, healthy: Bool, message: String) {
        if healthy {
            logger.info("cluster view watch recovered", metadata: ["kind": "\(kind.rawValue)"])
        } else {
            logger.error(
                "cluster view watch failing; reviews read the last known state, retrying with backoff",
                metadata: ["kind": "\(kind.rawValue)", "error": "\(message)"])
        }
    }
}
