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
            return ("metrics", probe(request) { HTTPResponse(status: 200, headers: [("content-type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics.render()) })
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
            r.headers.append(("allow", "GET, HEAD"))
            return r
        }
        return answer()
    }

    private func review(_ endpoint: WebhookEndpoint, _ request: HTTPRequest, start: UInt64) -> HTTPResponse {
        guard request.method == "POST" else {
            var r = Self.status(405, "method \(request.method) not allowed; POST an AdmissionReview")
            r.headers.append(("allow", "POST"))
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
            return HTTPResponse(status: 200, headers: [("content-type", "application/json")], body: outcome.body)
        } catch {
            return Self.status(400, "\(error)")
        }
    }

    /// `application/json`, any case, optionally with parameters (`; charset=utf-8`).
    /// Byte-level: this runs on every review.
    static func isJSON(_ contentType: String) -> Bool {
        let expected = "application/json".utf8
        var bytes = contentType.utf8.drop { $0 == 0x20 || $0 == 0x09 }[...]
        guard bytes.count >= expected.count,
            zip(bytes.prefix(expected.count), expected).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 })
        else { return false }
        bytes = bytes.dropFirst(expected.count)
        let rest = bytes.drop { $0 == 0x20 || $0 == 0x09 }
        return rest.isEmpty || rest.first == UInt8(ascii: ";")
    }

    /// Errors as a metav1 Status: the apiserver keeps its message when the webhook fails.
    static func status(_ code: Int, _ message: String) -> HTTPResponse {
        let body: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": .string(message),
            "reason": code == 400 ? "BadRequest" : (code == 415 ? "UnsupportedMediaType" : "MethodNotAllowed"), "code": .number(code),
        ]
        return HTTPResponse(status: code, headers: [("content-type", "application/json")], body: JSONWriter().bytes(body))
    }
}
