import AdmissionKit
import HTTPServer
import Prometheus
import Platform

/// The metrics of DESIGN.md, on swift-prometheus's registry.
final class WebhookMetrics: ServerObserver, Sendable {
    let registry = PrometheusCollectorRegistry()
    private let handshakeFailures: Counter
    private let certificateExpiry: Gauge
    private let openHTTP1: Gauge
    private let openHTTP2: Gauge
    /// The registry's make* calls validate names and hash label arrays on every call;
    /// the handful of label sets we use are looked up here instead, in short lists scanned
    /// in the order they were made. A dictionary hashed each key with SipHash: ~600
    /// instructions a lookup, two lookups a review. The lists stay short: the router's six
    /// endpoint names and few statuses, and 32 decision keys at most.
    /// Loop threads hand the cached objects to each other through `Locked`, which
    /// ThreadSanitizer can follow (`Synchronization.Mutex` showed the hand-off as a race).
    private let requestMetrics = Locked<[(key: RequestKey, counter: Counter, histogram: DurationHistogram)]>([])
    private let decisionCounters = Locked<[(key: DecisionKey, counter: Counter)]>([])

    /// Cache keys built without allocating: these run on every request.
    private struct RequestKey: Equatable {
        var endpoint: String
        var status: Int
    }

    private struct DecisionKey: Equatable {
        var wouldDeny: Bool
        var endpoint: WebhookEndpoint
        var allowed: Bool
        var operation: Operation
    }

    /// 25 µs to 2.5 s: admission work is microseconds; the tail shows queueing.
    static let latencyBuckets: [Duration] = [
        .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(2.5),
    ]

    /// A `webhook_…` metric name (the cluster view's metrics use it too).
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "webhook", metricName: metric, unitName: unit, helpText: help)
    }

    static var handshakeFailuresName: MetricNameDescriptor { name("tls_handshake_failures", "total", "TLS handshakes that failed.") }
    static var certificateExpiryName: MetricNameDescriptor { name("certificate_expiry_timestamp", "seconds", "Expiry of the serving certificate (unix time).") }
    static var openConnectionsName: MetricNameDescriptor { name("open", "connections", "Open connections by protocol.") }
    static var requestsName: MetricNameDescriptor { name("http_requests", "total", "HTTP requests by endpoint and status.") }
    static var durationName: MetricNameDescriptor { name("http_request_duration", "seconds", "Time to answer a request, by endpoint and status.") }
    static var decisionsName: MetricNameDescriptor { name("admission_decisions", "total", "Admission decisions by webhook, verdict and operation.") }
    static var wouldDenyName: MetricNameDescriptor {
        name("admission_would_deny", "total", "Requests admitted only because the policy's enforcement is warn (rollout mode), by webhook and operation.")
    }

    /// The serving certificate's expiry, read at each scrape: reloads change it.
    private let certificateNotAfter: @Sendable () -> Int64

    init(certificateNotAfter: @escaping @Sendable () -> Int64) {
        self.certificateNotAfter = certificateNotAfter
        handshakeFailures = registry.makeCounter(descriptor: Self.handshakeFailuresName)
        certificateExpiry = registry.makeGauge(descriptor: Self.certificateExpiryName)
        openHTTP1 = registry.makeGauge(descriptor: Self.openConnectionsName, labels: [("protocol", "http/1.1")])
        openHTTP2 = registry.makeGauge(descriptor: Self.openConnectionsName, labels: [("protocol", "h2")])
    }

    func connectionOpened(_ version: HTTPVersion) { (version == .http2 ? openHTTP2 : openHTTP1).increment() }
    func connectionClosed(_ version: HTTPVersion) { (version == .http2 ? openHTTP2 : openHTTP1).decrement() }
    func handshakeFailed(_ reason: String) { handshakeFailures.increment() }
    func loopIterationEnded() { LogSink.flushThreadBufferIfDue() }
    func loopEnded() { LogSink.flushThreadBuffer() }


    func request(endpoint: String, status: Int, nanoseconds: UInt64) {
        let key = RequestKey(endpoint: endpoint, status: status)
        let (counter, histogram) = requestMetrics.withLock { cache in
            for entry in cache where entry.key == key { return (entry.counter, entry.histogram) }
            let labels = [("endpoint", endpoint), ("code", String(status))]
            let made = (
                registry.makeCounter(descriptor: Self.requestsName, labels: labels),
                registry.makeDurationHistogram(descriptor: Self.durationName, labels: labels, buckets: Self.latencyBuckets)
            )
            cache.append((key, made.0, made.1))
            return made
        }
        counter.increment()
        histogram.recordNanoseconds(Int64(nanoseconds))
    }

    func decision(_ outcome: ReviewOutcome) {
        let endpoint = outcome.endpoint
        let operation = outcome.request.operation
        counter(DecisionKey(wouldDeny: false, endpoint: endpoint, allowed: outcome.response.allowed, operation: operation)).increment()
        if outcome.response.wouldDeny > 0 {
            counter(DecisionKey(wouldDeny: true, endpoint: endpoint, allowed: true, operation: operation)).increment()
        }
    }

    private func counter(_ key: DecisionKey) -> Counter {
        decisionCounters.withLock { cache in
            for entry in cache where entry.key == key { return entry.counter }
            let made =
                key.wouldDeny
                ? registry.makeCounter(descriptor: Self.wouldDenyName, labels: [("webhook", key.endpoint.rawValue), ("operation", key.operation.rawValue)])
                : registry.makeCounter(
                    descriptor: Self.decisionsName,
                    labels: [("webhook", key.endpoint.rawValue), ("allowed", String(key.allowed)), ("operation", key.operation.rawValue)])
            cache.append((key, made))
            return made
        }
    }

    func render() -> [UInt8] {
        certificateExpiry.set(Double(certificateNotAfter()))
        return registry.emitToBuffer()
    }
}
