import AdmissionKit

/// The object's shape: top-level fields, `spec`, and the JSON type of every spec field the
/// CRD declares (its structural schema). Later rules read values of the right type only.
enum ObjectRules {
    private static let spec$ = FieldPath("spec")

    /// istiod refuses unknown top-level fields; the apiserver would prune them silently.
    static func topLevelFields(_ input: RuleInput, _ r: inout ValidationResult) {
        for key in input.object.keys where !["apiVersion", "kind", "metadata", "spec", "status"].contains(key) {
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

    static let stringFields = [
        "url", "sha256", "imagePullPolicy", "imagePullSecret", "verificationKey", "pluginName", "phase", "failStrategy", "type",
    ]

    /// The common case has no type error: paths are built only for one (a review runs
    /// this on every request).
    static func fieldTypes(_ input: RuleInput, _ r: inout ValidationResult) {
        let spec = input.spec
        for key in stringFields where !isType(spec[key], .string) { r.string(spec[key], at: spec$.child(key)) }
        integer(spec["priority"], at: spec$.child("priority"), &r)
        if !isType(spec["pluginConfig"], .object) { r.object(spec["pluginConfig"], at: spec$.child("pluginConfig")) }
        if let selector = spec["selector"], !selector.isNull {
            if let labels = selector.objectValue?["matchLabels"], labels.objectValue.map({ $0.members.allSatisfy { $0.value.stringValue != nil } }) != true {
                let labels$ = spec$.child("selector").child("matchLabels")
                if let map = r.object(labels, at: labels$) {
                    for (key, value) in map.members { r.string(value, at: labels$.child(key)) }
                }
            } else if selector.objectValue == nil {
                r.object(selector, at: spec$.child("selector"))
            }
        }
        if let ref = spec["targetRef"], !isRef(ref) {
            if let object = r.object(ref, at: spec$.child("targetRef")) { refFields(object, at: spec$.child("targetRef"), &r) }
        }
        if let refs = spec["targetRefs"], !(refs.arrayValue?.allSatisfy(isRef) ?? refs.isNull) {
            for (path, ref) in objects(refs, at: spec$.child("targetRefs"), shape: "{group, kind, name}", &r) {
                refFields(ref, at: path, &r)
            }
        }
        if let vm = spec["vmConfig"], !vm.isNull {
            let vm$ = spec$.child("vmConfig")
            if let object = r.object(vm, at: vm$) {
                for (path, entry) in objects(object["env"], at: vm$.child("env"), shape: "{name, value, valueFrom}", &r) {
                    for key in ["name", "value", "valueFrom"] where !isType(entry[key], .string) { r.string(entry[key], at: path.child(key)) }
                }
            }
        }
        if let match = spec["match"], !match.isNull {
            for (path, selector) in objects(match, at: spec$.child("match"), shape: "{mode, ports}", &r) {
                if !isType(selector["mode"], .string) { r.string(selector["mode"], at: path.child("mode")) }
                for (portPath, port) in objects(selector["ports"], at: path.child("ports"), shape: "{number}", &r) {
                    integer(port["number"], at: portPath.child("number"), &r)
                }
            }
        }
    }

    private enum Kind { case string, object }

    /// Absent, null, or of the kind.
    private static func isType(_ value: JSON?, _ kind: Kind) -> Bool {
        switch (value, kind) {
        case (nil, _), (.null?, _), (.string?, .string), (.object?, .object): true
        default: false
        }
    }

    private static func isRef(_ value: JSON) -> Bool {
        guard let ref = value.objectValue else { return false }
        return ["group", "kind", "name", "namespace"].allSatisfy { isType(ref[$0], .string) }
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

    private static func refFields(_ ref: JSONObject, at path: FieldPath, _ r: inout ValidationResult) {
        for key in ["group", "kind", "name", "namespace"] { r.string(ref[key], at: path.child(key)) }
    }

    /// The object items of a list field; a null item is reported (Istio: "is nil").
    static func objects(_ value: JSON?, at path: FieldPath, shape: String, _ r: inout ValidationResult) -> [(FieldPath, JSONObject)] {
        guard let items = r.array(value, at: path) else { return [] }
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
        guard let items = self[key]?.arrayValue else { return [] }
        return items.enumerated().compactMap { i, item in item.objectValue.map { (path.index(i), $0) } }
    }

    func string(_ key: String) -> String? { self[key]?.stringValue }
}
