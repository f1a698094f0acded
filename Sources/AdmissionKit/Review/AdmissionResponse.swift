/// The small response vocabulary: allowed, denied (with field errors), patched, warnings.
public struct AdmissionResponse: Sendable {
    public var uid: String
    public var allowed: Bool
    public var denial: Denial?
    public var patch: [PatchOperation] = []
    public var warnings: [String] = []
    /// Errors a rollout policy (`enforcement: warn`) sent as warnings: the request would
    /// have been denied. For logs and metrics; not part of the response.
    public var wouldDeny = 0
    /// Keys are qualified names without '/': the apiserver prefixes them with the webhook name.
    public var auditAnnotations: [(key: String, value: String)] = []

    public struct Denial: Sendable {
        public var causes: [FieldError]
        /// Errors found beyond `causes` (see `ValidationResult.maxKept`).
        public var omitted: Int
        public var kind: GroupVersionKind
        public var name: String
        /// `namespace/name` as the message names the object.
        var displayName: String

        /// `Kind "ns/name" is invalid (N errors):` and a line per cause. Made when asked for:
        /// the answer writes it escaped, piece by piece, and builds no String of it.
        public var message: String {
            let text = ByteWriter(capacity: 256)
            var out = text
            writeMessage(to: &out)
            return text.withBytes { String(decoding: $0, as: UTF8.self) }
        }

        func writeMessage<Sink: ByteSink>(to out: inout Sink) {
            writeHeader(to: &out)
            for cause in causes {
                out.append("\n- ")
                cause.writeDescription(to: &out)
            }
            writeTrailer(to: &out)
        }

        /// `Kind "ns/name" is invalid (N errors):`
        func writeHeader<Sink: ByteSink>(to out: inout Sink) {
            out.append(utf8: kind.kind)
            out.append(UInt8(ascii: " "))
            if displayName.isEmpty { out.append("object") } else { writeQuoted(displayName, to: &out) }
            out.append(" is invalid (")
            let total = causes.count + omitted
            out.append(decimal: total)
            out.append(total == 1 ? " error):" : " errors):")
        }

        /// The line that counts the errors not listed, if any.
        func writeTrailer<Sink: ByteSink>(to out: inout Sink) {
            guard omitted > 0 else { return }
            out.append("\n- and ")
            out.append(decimal: omitted)
            out.append(" more errors not listed (the first ")
            out.append(decimal: causes.count)
            out.append(" are above)")
        }
    }

    public static func allowed(uid: String) -> AdmissionResponse {
        AdmissionResponse(uid: uid, allowed: true)
    }

    /// 422 Invalid with one cause per field error, as the apiserver reports schema errors.
    /// `omitted` errors were found beyond those listed (see `ValidationResult.maxKept`).
    public static func denied(_ request: AdmissionRequest, errors: [FieldError], omitted: Int = 0) -> AdmissionResponse {
        AdmissionResponse(
            uid: request.uid, allowed: false,
            denial: Denial(causes: errors, omitted: omitted, kind: request.kind, name: request.name, displayName: request.displayName))
    }

    /// Room for the answer, so that a denial's writer seldom grows (growing copies what was
    /// written): each cause's text is written twice (message and `causes`), plus its path.
    private var estimatedSize: Int {
        guard let denial else { return patch.isEmpty ? 192 : 1024 }
        var size = 512
        for i in denial.causes.indices { size += 2 * (denial.causes[i].detail.utf8.count + denial.causes[i].hint.utf8.count) + 192 }
        return size
    }

    /// The response AdmissionReview, written straight to bytes (every request writes one;
    /// no JSON tree is built). The same document as `review(version:)`, key for key.
    public func reviewBytes(version: AdmissionVersion) -> [UInt8] {
        let writer = ByteWriter(capacity: estimatedSize)
        // The sink the generic writers take; a class, so appends land in `writer`. Not
        // captured by nested functions or closures: a captured `out` was checked for
        // exclusive access at run time on every use.
        var out = writer
        out.append(#"{"apiVersion":"#)
        JSONWriter.writeString(version.rawValue, to: &out)
        out.append(#","kind":"AdmissionReview","response":{"uid":"#)
        JSONWriter.writeString(uid, to: &out)
        out.append(allowed ? #","allowed":true"# : #","allowed":false"#)
        if let denial {
            out.append(#","status":{"metadata":{},"status":"Failure","message":""#)
            // Each cause's path and `detail; hint` are escaped once, into the message, and
            // `causes` copies those bytes (writing and escaping them twice cost ~1.2k a cause).
            // Escaping is byte by byte, so pieces escaped apart read as the whole escaped.
            let scratch = ByteWriter(capacity: 256)
            var scratchSink = scratch
            denial.writeHeader(to: &scratchSink)
            JSONWriter.writeStringContents(of: scratch, into: writer)
            // The causes are read in place, by index: `for cause in` copied each one (its
            // path and three Strings retained, then released), ~230 instructions a cause.
            var written: [(path: Range<Int>, message: Range<Int>)] = []
            written.reserveCapacity(denial.causes.count)
            for i in denial.causes.indices {
                out.append(#"\n- "#)
                scratch.removeAll()
                denial.causes[i].path.writeDescription(to: &scratchSink)
                let pathStart = writer.count
                JSONWriter.writeStringContents(of: scratch, into: writer)
                let path = pathStart..<writer.count
                out.append(": ")
                let messageStart = writer.count
                JSONWriter.writeStringContents(denial.causes[i].detail, to: &out)
                if !denial.causes[i].hint.isEmpty {
                    out.append("; ")
                    JSONWriter.writeStringContents(denial.causes[i].hint, to: &out)
                }
                written.append((path, messageStart..<writer.count))
            }
            scratch.removeAll()
            denial.writeTrailer(to: &scratchSink)
            JSONWriter.writeStringContents(of: scratch, into: writer)
            out.append(UInt8(ascii: "\""))
            out.append(#","reason":"Invalid","details":{"#)
            if !denial.name.isEmpty {
                out.append(#""name":"#)
                JSONWriter.writeString(denial.name, to: &out)
                out.append(UInt8(ascii: ","))
            }
            out.append(#""group":"#)
            JSONWriter.writeString(denial.kind.group, to: &out)
            out.append(#","kind":"#)
            JSONWriter.writeString(denial.kind.kind, to: &out)
            out.append(#","causes":["#)
            for i in denial.causes.indices {
                out.append(i == 0 ? #"{"reason":""# : #",{"reason":""#)
                out.append(utf8: denial.causes[i].kind.rawValue)
                out.append(#"","message":""#)
                writer.appendCopy(of: written[i].message)
                out.append(#"","field":""#)
                writer.appendCopy(of: written[i].path)
                out.append(#""}"#)
            }
            out.append(#"]},"code":422}"#)
        }
        if !patch.isEmpty {
            out.append(#","patchType":"JSONPatch","patch":""#)
            let patchText = ByteWriter(capacity: 128 * patch.count)
            PatchOperation.writePatch(patch, to: patchText)
            patchText.withBytes { Base64.encode($0, into: writer) }
            out.append(UInt8(ascii: "\""))
        }
        if !warnings.isEmpty {
            out.append(#","warnings":["#)
            for (i, warning) in warnings.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(warning, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        if !auditAnnotations.isEmpty {
            out.append(#","auditAnnotations":{"#)
            for (i, annotation) in auditAnnotations.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(annotation.key, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONWriter.writeString(annotation.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append("}}")
        return writer.bytes
    }

    /// Strict envelope rules of the apiserver: apiVersion + kind always; patch and
    /// patchType together or not at all; a validating reply never carries them.
    public func review(version: AdmissionVersion) -> JSON {
        var response = JSONObject([("uid", .string(uid)), ("allowed", .bool(allowed))])
        if let denial {
            var details = JSONObject()
            if !denial.name.isEmpty { details["name"] = .string(denial.name) }
            details["group"] = .string(denial.kind.group)
            details["kind"] = .string(denial.kind.kind)
            details["causes"] = .array(
                denial.causes.map { cause in
                    .object(JSONObject([("reason", .string(cause.kind.rawValue)), ("message", .string(cause.message)), ("field", .string(cause.path.description))]))
                })
            response["status"] = .object(
                JSONObject([
                    ("metadata", .object(JSONObject())), ("status", "Failure"), ("message", .string(denial.message)),
                    ("reason", "Invalid"), ("details", .object(details)), ("code", 422),
                ]))
        }
        if !patch.isEmpty {
            response["patchType"] = "JSONPatch"
            response["patch"] = .string(Base64.encode(JSONWriter().bytes(.array(patch.map(\.json)))))
        }
        if !warnings.isEmpty { response["warnings"] = .array(warnings.map { .string($0) }) }
        if !auditAnnotations.isEmpty {
            response["auditAnnotations"] = .object(JSONObject(auditAnnotations.map { (key: $0.key, value: JSON.string($0.value)) }))
        }
        return .object(JSONObject([("apiVersion", .string(version.rawValue)), ("kind", "AdmissionReview"), ("response", .object(response))]))
    }
}
