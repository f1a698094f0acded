import AdmissionKit
import HTTPServer

/// The HTTP surface: the two review endpoints, probes and metrics. The only place where
/// the server and the admission side meet, through one `(HTTPRequest) -> HTTPResponse`.
struct WebhookRoutes: Sendable {
    let webhook: AdmissionWebhook
    let metrics: WebhookMetrics
    /// Nil when ready, else why not (the 503's body).
    let notReadyReason: @Sendable () -> String?

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let start = monotonicNanoseconds()
        let (endpoint, response) = route(request, start: start)
        metrics.request(endpoint: endpoint, status: response.status, nanoseconds: monotonicNanoseconds() - start)
        return response
    }

    /// The TLS port serves the reviews and the probes; the plain probe port serves the
    /// probes and the metrics, and never a review.
    private func route(_ request: HTTPRequest, start: UInt64) -> (String, HTTPResponse) {
        switch (request.path, request.listener) {
        case ("/validate", .tls): return ("validate", review(.validate, request, start: start))
        case ("/mutate", .tls): return ("mutate", review(.mutate, request, start: start))
        case ("/healthz", _): return ("healthz", probe(request) { .text(200, "ok") })
        case ("/readyz", _):
            return ("readyz", probe(request) { notReadyReason().map { .text(503, $0) } ?? .text(200, "ok") })
        case ("/metrics", .probe):
            return ("metrics", probe(request) { HTTPResponse(status: 200, headers: [HTTPField("content-type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics.render()) })
        case ("/metrics", .tls):
            return ("other", .text(404, "metrics are served on the probe port (serve --probe-listen), not here"))
        case (_, .tls):
            return ("other", .text(404, "no such endpoint; use POST /validate, POST /mutate, GET /healthz or /readyz"))
        case (_, .probe):
            return ("other", .text(404, "the probe port serves GET /healthz, /readyz and /metrics only"))
        }
    }

    private func probe(_ request: HTTPRequest, _ answer: () -> HTTPResponse) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            var r = HTTPResponse.text(405, "method \(request.method) not allowed; use GET")
            r.headers.append(HTTPField("allow", "GET, HEAD"))
            return r
        }
        return answer()
    }

    private func review(_ endpoint: WebhookEndpoint, _ request: HTTPRequest, start: UInt64) -> HTTPResponse {
        guard request.method == "POST" else {
            var r = Self.status(405, "method \(request.method) not allowed; POST an AdmissionReview")
            r.headers.append(HTTPField("allow", "POST"))
            return r
        }
        let contentType = request.headers["content-type"] ?? ""
        guard Self.isJSON(contentType) else {
            return Self.status(415, "Content-Type must be application/json, not \(contentType.isEmpty ? "missing" : "\"\(contentType.prefix(64))\"")")
        }
        do {
            let outcome = try webhook.review(endpoint, body: request.body)
            metrics.decision(outcome)
            DecisionLog.write(outcome, latencyNanoseconds: monotonicNanoseconds() - start)
            return HTTPResponse(status: 200, headers: Self.jsonHeaders, body: outcome.body)
        } catch {
            return Self.status(400, "\(error)")
        }
    }

    /// Built once: an array literal here allocated on every answer.
    static let jsonHeaders = [HTTPField("content-type", "application/json")]

    /// `application/json`, any case, optionally with parameters (`; charset=utf-8`).
    /// Byte-level: this runs on every review.
    static func isJSON(_ contentType: String) -> Bool {
        let expected: StaticString = "application/json"
        var contentType = contentType
        return contentType.withUTF8 { bytes in
            var i = 0
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            guard bytes.count - i >= expected.utf8CodeUnitCount else { return false }
            for j in 0..<expected.utf8CodeUnitCount {
                let b = bytes[i + j]
                let e = expected.utf8Start[j]
                guard b | 0x20 == e || b == e else { return false }
            }
            i += expected.utf8CodeUnitCount
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            return i == bytes.count || bytes[i] == UInt8(ascii: ";")
        }
    }

    /// Errors as a metav1 Status: the apiserver keeps its message when the webhook fails.
    static func status(_ code: Int, _ message: String) -> HTTPResponse {
        let body: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": .string(message),
            "reason": code == 400 ? "BadRequest" : (code == 415 ? "UnsupportedMediaType" : "MethodNotAllowed"), "code": .number(code),
        ]
        return HTTPResponse(status: code, headers: jsonHeaders, body: JSONWriter().bytes(body))
    }
}
