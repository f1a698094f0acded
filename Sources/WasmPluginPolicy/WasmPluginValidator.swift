import AdmissionKit

/// Every WasmPlugin validation rule: Istio's (CRD schema + CEL + istiod webhook, the stricter
/// side where they disagree) plus the ones that catch runtime failures.
public struct WasmPluginValidator: Validator {
    public var settings: PolicySettings

    public init(settings: PolicySettings = PolicySettings()) { self.settings = settings }

    public func handles(_ request: AdmissionRequest) -> Bool {
        WasmPluginKind.matches((request.kind.group, request.kind.kind))
    }

    public func validate(_ request: AdmissionRequest) -> ValidationResult {
        guard let object = request.object else {
            return ValidationResult(errors: [.required(FieldPath(), "request.object is missing")])
        }
        let namespace = request.namespace.isEmpty ? (object["metadata"]?["namespace"]?.stringValue ?? "") : request.namespace
        return validate(object: object, namespace: namespace)
    }

    /// Rules on a WasmPlugin object alone (what `check` runs on manifests).
    public func validate(object: JSON, namespace: String) -> ValidationResult {
        var r = ValidationResult()
        guard case .object(let root) = object else {
            r.error(.wrongType(FieldPath(), expected: "an object", got: object))
            return r
        }
        // istiod refuses unknown top-level fields; the apiserver would prune them silently.
        for key in root.keys where !["apiVersion", "kind", "metadata", "spec", "status"].contains(key) {
            r.error(FieldError(.forbidden, FieldPath(key), "unknown top-level field", hint: "move it under spec or remove it"))
        }
        guard let specValue = root["spec"], !specValue.isNull else {
            r.error(.required(FieldPath("spec"), "spec must be set", hint: "a WasmPlugin needs at least spec.url"))
            return r
        }
        guard let spec = r.object(specValue, at: FieldPath("spec")) else { return r }
        // Parsed once: the url rules and the basic_auth rules (module name) both read it.
        let url = spec["url"]?.stringValue.map(ModuleURL.init)
        TargetingRules.check(spec, namespace: namespace, settings: settings, into: &r)
        URLRules.check(spec, url: url, settings: settings, into: &r)
        SpecFieldRules.check(spec, into: &r)
        BasicAuthRules.check(spec, url: url, into: &r)
        return r
    }
}
