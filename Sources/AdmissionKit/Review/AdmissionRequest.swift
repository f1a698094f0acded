/// The AdmissionReview versions we answer in; the reply always uses the version received.
public enum AdmissionVersion: String, Sendable {
    case v1 = "admission.k8s.io/v1"
    case v1beta1 = "admission.k8s.io/v1beta1"
}

public struct GroupVersionKind: Sendable, Equatable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String

    public init(group: String, version: String, kind: String) {
        self.group = group
        self.version = version
        self.kind = kind
    }

    public var description: String { group.isEmpty ? "\(version)/\(kind)" : "\(group)/\(version)/\(kind)" }
}

public enum Operation: String, Sendable {
    case create = "CREATE", update = "UPDATE", delete = "DELETE", connect = "CONNECT"
}

/// The parts of `request` a webhook acts on. `object` stays raw JSON: rules read it field by
/// field so that a wrong type anywhere is a field error, never a decode failure. Decoded
/// from a body, only what the webhook's rules read is built (`AdmissionWebhook.readSet`).
public struct AdmissionRequest: Sendable, Equatable {
    public var uid: String
    public var kind: GroupVersionKind
    public var subResource: String
    public var name: String
    public var namespace: String
    public var operation: Operation
    public var object: JSON?
    public var oldObject: JSON?
    public var dryRun: Bool

    public init(
        uid: String, kind: GroupVersionKind, subResource: String = "", name: String = "", namespace: String = "",
        operation: Operation, object: JSON? = nil, oldObject: JSON? = nil, dryRun: Bool = false
    ) {
        self.uid = uid
        self.kind = kind
        self.subResource = subResource
        self.name = name
        self.namespace = namespace
        self.operation = operation
        self.object = object
        self.oldObject = oldObject
        self.dryRun = dryRun
    }

    /// `namespace/name` for messages and logs; generateName objects have no name yet.
    public var displayName: String {
        var shown = name.isEmpty ? (object?["metadata"]?["generateName"]?.stringValue.map { $0 + "*" } ?? "") : name
        guard !namespace.isEmpty else { return shown }
        // Joined as bytes: an interpolation cost ~800 instructions on every denial.
        var namespace = namespace
        return namespace.withUTF8 { ns in
            shown.withUTF8 { n in
                String(unsafeUninitializedCapacity: ns.count + 1 + n.count) { out in
                    _ = out.initialize(fromContentsOf: ns)
                    out[ns.count] = UInt8(ascii: "/")
                    _ = out[(ns.count + 1)...].initialize(fromContentsOf: n)
                    return ns.count + 1 + n.count
                }
            }
        }
    }
}

/// Why a body is not a usable AdmissionReview. The text is safe to return to the caller.
public struct AdmissionDecodeError: Error, Equatable, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum AdmissionReviewDecoder {
    /// What a review reads of an AdmissionReview: the envelope and the request's identity
    /// fields, `object` as `object` says, `oldObject` as `oldObject` says. Never built:
    /// `userInfo`, `options`, the resource kinds, and `metadata.managedFields` (a typical
    /// object's managedFields hold more JSON than the rest of it). What is not built is
    /// checked for syntax (`JSONReadSet`); the request's parts nobody reads are left out,
    /// the others come out `null` (keys kept); a skipped `oldObject` is nil. `decode(_:reading:)`
    /// reads the envelope's own fields whatever this says, and skips its other members.
    public static func readSet(object: JSONReadSet = genericObject, oldObject: JSONReadSet = genericObject) -> JSONReadSet {
        .members(
            [
                (
                    "request",
                    .members(
                        [
                            ("object", object), ("oldObject", oldObject), ("userInfo", .omit), ("options", .omit), ("resource", .omit),
                            ("requestKind", .omit), ("requestResource", .omit),
                        ], others: .all)
                )
            ], others: .all)
    }

    /// Any object: everything but `metadata.managedFields`.
    public static let genericObject: JSONReadSet = .members([("metadata", .members([("managedFields", .none)], others: .all))], others: .all)

    /// The most JSON values one review may build (the parts not read do not count). A WasmPlugin with a large basic_auth config has a few thousand values;
    /// 500,000 still admit 200,000 credentials (object and oldObject of an update), and
    /// bound the tree to about 28 MB whatever the body: measured, a value costs 27 bytes
    /// in `[0,0,…]` and 55 in `[{"a":1},…]`, so an 8 MiB `[0,0,…]` would build 4 million
    /// values and over 110 MB.
    public static let maxValues = 500_000

    /// Bytes a review may build from a body of `bodyBytes`, beyond the body: the tree
    /// (at most 15 times the body, and at most `maxValues` values of 56 bytes) and an
    /// answer about as large as the body (a patch that replaces a large array).
    public static func workingMemory(bodyBytes: Int) -> Int {
        min(15 * bodyBytes, maxValues * 56) + bodyBytes
    }

    /// Decodes the envelope and the request fields, checking each one's type so that the
    /// error says exactly which field was wrong. The envelope is read member by member into
    /// `Envelope` (no tree of it is built, then searched and freed); `object` and
    /// `oldObject` are built as `readSet` says for them.
    public static func decode(
        _ body: [UInt8], reading readSet: JSONReadSet = readSet(), strings: CommonStrings = .kubernetes
    ) throws(AdmissionDecodeError) -> (AdmissionVersion, AdmissionRequest) {
        if body.isEmpty { throw AdmissionDecodeError("empty body: expected an AdmissionReview JSON object") }
        let request = readSet.member("request")
        let objectRead = request.member("object")
        let oldObjectRead = request.member("oldObject")
        var envelope = Envelope()
        // Not an object: parsed whole, for the message that says what it is instead.
        let notAnObject: JSON?
        do {
            let isObject = try JSONParser.readMembers(body, maxValues: maxValues, strings: strings) { parser, key, depth throws(JSONParseError) in
                switch key {
                case "apiVersion": envelope.apiVersion = try parser.value(depth: depth, read: .all)
                case "kind": envelope.kind = try parser.value(depth: depth, read: .all)
                case "request":
                    // The last one wins, as for any key: a second request replaces the first.
                    envelope.request = nil
                    envelope.requestFields = nil
                    guard parser.atObject else {
                        envelope.request = try parser.value(depth: depth, read: .all)
                        return
                    }
                    let fields = Envelope.RequestFields()
                    try parser.members(depth: depth) { parser, key, depth throws(JSONParseError) in
                        switch key {
                        case "uid": fields.uid = try parser.value(depth: depth, read: .all)
                        case "kind": fields.kind = try parser.value(depth: depth, read: .all)
                        case "subResource": fields.subResource = try parser.value(depth: depth, read: .all)
                        case "name": fields.name = try parser.value(depth: depth, read: .all)
                        case "namespace": fields.namespace = try parser.value(depth: depth, read: .all)
                        case "operation": fields.operation = try parser.value(depth: depth, read: .all)
                        case "dryRun": fields.dryRun = try parser.value(depth: depth, read: .all)
                        case "object": fields.object = try parser.value(depth: depth, read: objectRead)
                        case "oldObject": fields.oldObject = try parser.value(depth: depth, read: oldObjectRead)
                        default: try parser.skip(depth: depth)  // userInfo, options, resource, …: checked, not built
                        }
                    }
                    envelope.requestFields = fields
                default: try parser.skip(depth: depth)
                }
            }
            // Not `isObject ? nil : …`: JSON is nil-literal expressible, and that nil is `.null`.
            if isObject {
                notAnObject = Optional.none
            } else {
                notAnObject = try JSONParser.parse(body, reading: .all, maxValues: maxValues, strings: strings)
            }
        } catch {
            throw AdmissionDecodeError("body is not valid JSON: \(error)")
        }
        if let notAnObject { return try decode(notAnObject) }
        return try decode(envelope)
    }

    public static func decode(_ json: JSON) throws(AdmissionDecodeError) -> (AdmissionVersion, AdmissionRequest) {
        guard case .object(let root) = json else {
            throw AdmissionDecodeError("body is a JSON \(json.typeName), expected an AdmissionReview object")
        }
        return try decode(Envelope(root))
    }

    /// What decoding reads of an AdmissionReview: the envelope's fields as they came (types
    /// unchecked), from a body or from a tree.
    struct Envelope {
        var apiVersion: JSON?
        var kind: JSON?
        /// `request` when it is not an object (for the error).
        var request: JSON?
        /// `request`'s fields when it is an object.
        var requestFields: RequestFields?

        /// A class: its nine `JSON?` were copied (each retained) into and out of the
        /// envelope and into decoding, four copies of ~220 bytes a review.
        final class RequestFields {
            var uid, kind, subResource, name, namespace, operation, dryRun, object, oldObject: JSON?

            init() {}

            init(_ request: JSONObject) {
                uid = request["uid"]
                kind = request["kind"]
                subResource = request["subResource"]
                name = request["name"]
                namespace = request["namespace"]
                operation = request["operation"]
                dryRun = request["dryRun"]
                object = request["object"]
                oldObject = request["oldObject"]
            }
        }

        init() {}

        init(_ root: JSONObject) {
            apiVersion = root["apiVersion"]
            kind = root["kind"]
            guard case .object(let request)? = root["request"] else {
                self.request = root["request"]
                return
            }
            requestFields = RequestFields(request)
        }
    }

    private static func decode(_ envelope: Envelope) throws(AdmissionDecodeError) -> (AdmissionVersion, AdmissionRequest) {
        guard let apiVersion = envelope.apiVersion?.stringValue else {
            throw AdmissionDecodeError("apiVersion: missing or not a string; expected admission.k8s.io/v1")
        }
        guard let version = AdmissionVersion(rawValue: apiVersion) else {
            throw AdmissionDecodeError("apiVersion: unsupported value \(quoted(apiVersion)); expected admission.k8s.io/v1 or admission.k8s.io/v1beta1")
        }
        guard envelope.kind?.stringValue == "AdmissionReview" else {
            throw AdmissionDecodeError("kind: must be \"AdmissionReview\"")
        }
        guard let request = envelope.requestFields else {
            guard let requestValue = envelope.request, !requestValue.isNull else {
                throw AdmissionDecodeError("request: missing; an AdmissionReview sent to a webhook carries a request")
            }
            throw AdmissionDecodeError("request: must be an object, not \(requestValue.typeName)")
        }
        let uid = try string(request.uid, "uid", required: true)
        if uid.isEmpty { throw AdmissionDecodeError("request.uid: must not be empty") }
        guard case .object(let kindObject)? = request.kind else {
            throw AdmissionDecodeError("request.kind: missing or not an object {group, version, kind}")
        }
        let kind = GroupVersionKind(
            group: try string(kindObject["group"], "group", in: "request.kind"),
            version: try string(kindObject["version"], "version", in: "request.kind"),
            kind: try string(kindObject["kind"], "kind", in: "request.kind", required: true))
        let operationText = try string(request.operation, "operation", required: true)
        guard let operation = Operation(rawValue: operationText) else {
            throw AdmissionDecodeError("request.operation: unsupported value \(quoted(operationText)); expected CREATE, UPDATE, DELETE or CONNECT")
        }
        var dryRun = false
        if let value = request.dryRun, !value.isNull {
            guard let flag = value.boolValue else { throw AdmissionDecodeError("request.dryRun: must be a boolean") }
            dryRun = flag
        }
        func object(_ value: JSON?) -> JSON? {
            guard let value, !value.isNull else { return nil }
            return value
        }
        return (
            version,
            AdmissionRequest(
                uid: uid, kind: kind, subResource: try string(request.subResource, "subResource"),
                name: try string(request.name, "name"), namespace: try string(request.namespace, "namespace"),
                operation: operation, object: object(request.object), oldObject: object(request.oldObject), dryRun: dryRun)
        )
    }

    private static func string(_ value: JSON?, _ key: String, in parent: String = "request", required: Bool = false) throws(AdmissionDecodeError) -> String {
        guard let value, !value.isNull else {
            if required { throw AdmissionDecodeError("\(parent).\(key): missing") }
            return ""
        }
        guard let s = value.stringValue else {
            throw AdmissionDecodeError("\(parent).\(key): must be a string, not \(value.typeName)")
        }
        return s
    }
}

func quoted(_ s: String, limit: Int = 64) -> String {
    var out: [UInt8] = []
    writeQuoted(s, limit: limit, to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// `s` as a JSON string, cut to `limit` characters with "…" (no more bytes than characters:
/// the common short case needs no count of grapheme clusters).
func writeQuoted<Sink: ByteSink>(_ s: String, limit: Int = 64, to out: inout Sink) {
    let shown = s.utf8.count > limit && s.count > limit ? String(s.prefix(limit)) + "…" : s
    JSONWriter.writeString(shown, to: &out)
}
