import AdmissionKit

/// The object's shape: top-level fields, `spec`, and the JSON type of every spec field the
/// CRD declares (its structural schema). Later rules read values of the right type only.
enum ObjectRules {
    private static let spec$ = FieldPath("spec")

    private static let topLevelKeys: NameList = ["apiVersion", "kind", "metadata", "spec", "status"]

    /// istiod refuses unknown top-level fields; the apiserver would prune them silently.
    static func topLevelFields(_ input: RuleInput, _ r: inout ValidationResult) {
        for key in input.object.members.lazy.map(\.key) where !topLevelKeys.contains(key) {
            r.report(FieldError(.forbidden, FieldPath(key), "unknown top-level field", hint: "move it under spec or remove it"))
        }
    }

    /// CRD `required: [spec]`; `spec: null` is "in body must be of type object".
    static func specRequired(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let spec = input.object["spec"], !spec.isNull else {
            r.report(.required(FieldPath("spec"), "spec must be set", hint: "a WasmPlugin needs at least spec.url"))
            return
        }
        if spec.objectValue == nil {
            r.report(.wrongType(FieldPath("spec"), expected: "an object", got: spec))
        }
    }

    static let stringFields: [SpecFields.Field] = [
        .url, .sha256, .imagePullPolicy, .imagePullSecret, .verificationKey, .pluginName, .phase, .failStrategy, .type,
    ]

    /// Paths are built only for a finding (the typed reads take them as autoclosures):
    /// a review runs this on every request and the common case has no type error.
    static func fieldTypes(_ input: RuleInput, _ r: inout ValidationResult) {
        let spec = input.fields
        for field in stringFields { r.string(spec[field], at: spec$.child(field.rawValue)) }
        integer(spec.priority, at: spec$.child("priority"), &r)
        r.object(spec.pluginConfig, at: spec$.child("pluginConfig"))
        if let selector = r.object(spec.selector, at: spec$.child("selector")),
            let labels = r.object(selector["matchLabels"], at: spec$.child("selector").child("matchLabels"))
        {
            for member in labels.members { r.string(member.value, at: spec$.child("selector").child("matchLabels").child(member.key)) }
        }
        // `objects` and `refFields` build a path per target: skipped when every target is well-formed.
        if let ref = spec.targetRef, !isRef(ref), let object = r.object(ref, at: spec$.child("targetRef")) {
            refFields(object, at: spec$.child("targetRef"), &r)
        }
        if let refs = spec.targetRefs, !(refs.arrayValue?.allSatisfy(isRef) ?? refs.isNull) {
            for (path, ref) in objects(refs, at: spec$.child("targetRefs"), shape: "{group, kind, name}", &r) {
                refFields(ref, at: path, &r)
            }
        }
        if let vm = r.object(spec.vmConfig, at: spec$.child("vmConfig")) {
            for (path, entry) in objects(vm["env"], at: spec$.child("vmConfig").child("env"), shape: "{name, value, valueFrom}", &r) {
                for key in ["name", "value", "valueFrom"] { r.string(entry[key], at: path.child(key)) }
            }
        }
        for (path, selector) in objects(spec.match, at: spec$.child("match"), shape: "{mode, ports}", &r) {
            r.string(selector["mode"], at: path.child("mode"))
            for (portPath, port) in objects(selector["ports"], at: path.child("ports"), shape: "{number}", &r) {
                integer(port["number"], at: portPath.child("number"), &r)
            }
        }
    }

    /// A targetRef whose fields all have the types the CRD declares (absent or null counts).
    private static func isRef(_ value: JSON) -> Bool {
        guard case .object(let ref) = value else { return false }
        // Member by member (a target has a handful), not key by key: one pass, no lookups.
        for member in ref.members {
            switch member.value {
            case .null, .string: continue
            default: if refKeys.contains(member.key) { return false }
            }
        }
        return true
    }

    /// An integer literal of any size (the range is the field's own rule).
    static func isIntegerLiteral(_ text: String) -> Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    private static func integer(_ value: JSON?, at path: @autoclosure () -> FieldPath, _ r: inout ValidationResult) {
        guard let value, !value.isNull else { return }
        if case .number(let text) = value, isIntegerLiteral(text) { return }
        r.reportType(.wrongType(path(), expected: "an integer", got: value))
    }

    private static let refKeys: NameList = ["group", "kind", "name", "namespace"]

    private static func refFields(_ ref: JSONObject, at path: FieldPath, _ r: inout ValidationResult) {
        for key in refKeys.names { r.string(ref[key], at: path.child(key)) }
    }

    /// The object items of a list field; a null item is reported (Istio: "is nil").
    static func objects(_ value: JSON?, at path: @autoclosure () -> FieldPath, shape: String, _ r: inout ValidationResult) -> [(FieldPath, JSONObject)] {
        guard let items = r.array(value, at: path()), !items.isEmpty else { return [] }
        let path = path()
        var out: [(FieldPath, JSONObject)] = []
        for (i, item) in items.enumerated() {
            if item.isNull {
                r.reportType(.required(path.index(i), "must be an object \(shape)"))
            } else if let object = r.object(item, at: path.index(i)) {
                out.append((path.index(i), object))
            }
        }
        return out
    }
}

/// Non-reporting typed reads for rules that run after `field-type`.
extension JSONObject {
    /// The object items of a list member with their paths (other items skipped).
    func objectItems(_ key: String, at path: FieldPath) -> [(FieldPath, JSONObject)] {
        Self.objectItems(of: self[key], at: path)
    }

    /// The object items of `value` when it is a list, with their paths.
    static func objectItems(of value: JSON?, at path: FieldPath) -> [(FieldPath, JSONObject)] {
        guard case .array(let items)? = value else { return [] }
        var out: [(FieldPath, JSONObject)] = []
        out.reserveCapacity(items.count)
        for i in items.indices {
            if case .object(let object) = items[i] { out.append((path.index(i), object)) }
        }
        return out
    }

    func string(_ key: String) -> String? { self[key]?.stringValue }
}
