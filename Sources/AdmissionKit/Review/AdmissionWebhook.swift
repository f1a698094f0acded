/// Which of the two registrations a call came through.
public enum WebhookEndpoint: String, Sendable, CaseIterable {
    case validate, mutate
}

/// Validates objects of the kinds it handles. Never stops at the first error.
public protocol Validator: Sendable {
    func handles(_ request: AdmissionRequest) -> Bool
    func validate(_ request: AdmissionRequest) -> ValidationResult
}

/// One defaulting rule that changed the object: the audit annotation names it.
public struct AppliedDefault: Sendable, Equatable {
    /// A qualified-name-safe rule id, e.g. `url-scheme`.
    public var rule: String
    public var path: FieldPath

    public init(rule: String, path: FieldPath) {
        self.rule = rule
        self.path = path
    }
}

/// Defaults objects of the kinds it handles by editing them through an `ObjectEditor`,
/// which records the minimal patch. Must be idempotent. The object is the editor's:
/// `request.object` may already be nil when `applyDefaults` runs.
public protocol Defaulter: Sendable {
    func handles(_ request: AdmissionRequest) -> Bool
    func applyDefaults(_ editor: inout ObjectEditor, request: AdmissionRequest) -> [AppliedDefault]
}

/// What one review decided, for logs and metrics.
public struct ReviewOutcome: Sendable {
    public var version: AdmissionVersion
    /// The request decided; after a mutation without its `object` (the editor took it).
    public var request: AdmissionRequest
    public var response: AdmissionResponse
    public var endpoint: WebhookEndpoint
    /// The serialized response AdmissionReview.
    public var body: [UInt8]
}

/// The review endpoint: body → decision → response body. No sockets, no C; the HTTP layer
/// and the `review` command both call this, so they answer identically.
public struct AdmissionWebhook: Sendable {
    public var validator: any Validator
    public var defaulter: any Defaulter
    /// What the rules read of a review; the rest is checked for syntax, not built.
    public var readSet: JSONReadSet
    /// The strings its reviews repeat (keys, enum values), made once.
    public var strings: CommonStrings

    public init(
        validator: any Validator, defaulter: any Defaulter, readSet: JSONReadSet = AdmissionReviewDecoder.readSet(),
        strings: CommonStrings = .kubernetes
    ) {
        self.validator = validator
        self.defaulter = defaulter
        self.readSet = readSet
        self.strings = strings
    }

    public func review(_ endpoint: WebhookEndpoint, body: [UInt8]) throws(AdmissionDecodeError) -> ReviewOutcome {
        var (version, request) = try AdmissionReviewDecoder.decode(body, reading: readSet, strings: strings)
        let response = decide(endpoint, movingObjectOf: &request)
        return ReviewOutcome(
            version: version, request: request, response: response, endpoint: endpoint,
            body: response.reviewBytes(version: version))
    }

    public func decide(_ endpoint: WebhookEndpoint, _ request: AdmissionRequest) -> AdmissionResponse {
        var request = request
        return decide(endpoint, movingObjectOf: &request)
    }

    /// `decide`, where a mutation takes `request.object` for its editor (leaving nil): an
    /// object still shared with the request would be copied level by level at the first
    /// edit. Only a caller that owns the request's only copy (`review`) gains by it.
    func decide(_ endpoint: WebhookEndpoint, movingObjectOf request: inout AdmissionRequest) -> AdmissionResponse {
        // Deletes, connects and subresource writes (status) carry nothing our rules judge.
        let judged =
            (request.operation == .create || request.operation == .update) && request.subResource.isEmpty
        switch endpoint {
        case .validate:
            guard judged, validator.handles(request) else { return .allowed(uid: request.uid) }
            let result = validator.validate(request)
            var response: AdmissionResponse =
                result.isValid ? .allowed(uid: request.uid) : .denied(request, errors: result.errors, omitted: result.omittedErrors)
            response.warnings = WarningList.render(result.warnings)
            response.wouldDeny = result.wouldDeny
            return response
        case .mutate:
            guard judged, defaulter.handles(request) else { return .allowed(uid: request.uid) }
            // A create or update must carry an object to default. Anything else is refused
            // here as the validating webhook refuses it: allowing it would fail open.
            guard let object = request.object else {
                return .denied(request, errors: [.required(FieldPath(), "request.object is missing")])
            }
            guard object.objectValue != nil else {
                return .denied(request, errors: [.wrongType(FieldPath(), expected: "an object", got: object)])
            }
            request.object = nil
            var editor = ObjectEditor(consume object)
            let applied = defaulter.applyDefaults(&editor, request: request)
            var response = AdmissionResponse.allowed(uid: request.uid)
            response.patch = editor.operations
            if !response.patch.isEmpty { response.auditAnnotations = AuditAnnotations.render(applied) }
            return response
        }
    }
}

enum AuditAnnotations {
    /// Audit logs keep every value: name a few fields per rule and count the rest.
    static let maxPathsPerRule = 5

    /// One annotation per rule: key = rule id, value = the fields it changed. Rule ids are
    /// few (a handful), edits can be 100,000s: the ids are found in one pass, then each
    /// rule's paths written into one reused buffer.
    static func render(_ applied: [AppliedDefault]) -> [(key: String, value: String)] {
        applied.withUnsafeBufferPointer { applied in
            var rules: [String] = []
            rules.reserveCapacity(8)
            for i in applied.indices where !rules.contains(applied[i].rule) { rules.append(applied[i].rule) }
            let text = ByteWriter(capacity: 128)
            var annotations: [(key: String, value: String)] = []
            annotations.reserveCapacity(rules.count)
            for rule in rules {
                text.removeAll()
                var out = text
                var paths = 0
                for i in applied.indices where applied[i].rule == rule {
                    paths += 1
                    guard paths <= maxPathsPerRule else { continue }
                    if paths > 1 { out.append(UInt8(ascii: ",")) }
                    applied[i].path.writeDescription(to: &out)
                }
                if paths > maxPathsPerRule {
                    out.append(" (+")
                    out.append(decimal: paths - maxPathsPerRule)
                    out.append(" more)")
                }
                annotations.append((key: rule, value: text.withBytes { String(decoding: $0, as: UTF8.self) }))
            }
            return annotations
        }
    }
}

enum WarningList {
    /// Unicode scalars, counted on the UTF-8 (every byte but a continuation byte starts
    /// one): the scalar view walks scalar by scalar.
    static func runeCount(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return 0 }
            // Continuation bytes (10xxxxxx) counted eight at a time: bit 7 set, bit 6 clear.
            // Only words with a non-ASCII byte are counted (a population count has no
            // instruction of its own on baseline x86-64; warnings are nearly always ASCII).
            var continuation = 0
            var i = 0
            while i + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 {
                    continuation += (word & ~(word << 1) & 0x8080_8080_8080_8080).nonzeroBitCount
                }
                i += 8
            }
            while i < bytes.count {
                if base[i] & 0xC0 == 0x80 { continuation += 1 }
                i += 1
            }
            return bytes.count - continuation
        }
    }

    /// The apiserver drops warnings past 4096 runes in total and truncates each at 256;
    /// we dedupe, and stop adding before the total would be cut.
    static let totalRuneBudget = 4096

    static func render(_ warnings: [FieldWarning]) -> [String] {
        // A review has a few warnings: compared with those kept, not hashed into a set.
        var seen: Set<String>? = warnings.count > 16 ? [] : nil
        var out: [String] = []
        var total = 0
        for (i, w) in warnings.enumerated() {
            let text = w.description
            if seen != nil {
                guard seen!.insert(text).inserted else { continue }
            } else if out.contains(text) {
                continue
            }
            let runes = runeCount(text)
            if total + runes > totalRuneBudget {
                let left = Set(warnings[i...].map(\.description)).subtracting(out).count
                out.append("\(left) more warnings not shown")
                break
            }
            total += runes
            out.append(text)
        }
        return out
    }
}
