import AdmissionKit
import ClusterView

/// Every WasmPlugin validation rule (`WasmPluginRules.all`): Istio's (CRD schema + CEL +
/// istiod webhook, the stricter side where they disagree) plus the ones that catch
/// runtime failures. The policy decides what each rule's findings count as.
public struct WasmPluginValidator: Validator {
    public var settings: PolicySettings
    /// The cluster view the context rules read; nil: they stay silent.
    public let cluster: (any ClusterFacts)?
    /// One rule to run, with its verdict resolved once: a review runs every rule.
    private struct Step {
        /// Its id's index in `ruleIDs`.
        let rule: Int
        let verdict: RuleVerdict
        let check: @Sendable (RuleInput, inout ValidationResult) -> Void
    }
    private let objectPlan: [Step]
    private let specPlan: [Step]
    /// The ids of the rules in both plans, handed to each review's result once.
    private let ruleIDs: [String]
    private let typeVerdict: RuleVerdict

    public init(settings: PolicySettings = PolicySettings(), cluster: (any ClusterFacts)? = nil) {
        self.settings = settings
        self.cluster = cluster
        var ids: [String] = []
        func plan(_ rules: [WasmPluginRule]) -> [Step] {
            rules.compactMap { rule in
                let verdict = settings.verdict(for: rule)
                guard verdict != .off else { return nil }
                ids.append(rule.id)
                return Step(rule: ids.count - 1, verdict: verdict, check: rule.check)
            }
        }
        objectPlan = plan(WasmPluginRules.objectRules)
        specPlan = plan(WasmPluginRules.specRules + (cluster == nil ? [] : WasmPluginRules.contextRules))
        ruleIDs = ids
        typeVerdict = settings.verdict(for: WasmPluginRules.byID["field-type"]!)
    }

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
        r.use(ruleIDs: ruleIDs)
        r.typeVerdict = typeVerdict
        guard case .object(let root) = object else {
            r.error(.wrongType(FieldPath(), expected: "an object", got: object))
            return r
        }
        let spec = root["spec"]?.objectValue
        // Parsed once: the url rules and the basic_auth rules (module name) all read it.
        let input = RuleInput(
            object: root, spec: spec ?? JSONObject(), namespace: namespace,
            url: spec?["url"]?.stringValue.map(ModuleURL.init), settings: settings, cluster: cluster)
        run(objectPlan, input, &r)
        if spec != nil { run(specPlan, input, &r) }
        if settings.enforcement == .warn { r.demoteErrors() }
        return r
    }

    /// Each step borrowed from the plan's buffer: `for step in plan` copied every step
    /// (its id and closure retained and released) around each of the ~60 calls, ~1,900
    /// instructions a review.
    private func run(_ plan: [Step], _ input: RuleInput, _ r: inout ValidationResult) {
        plan.withUnsafeBufferPointer { steps in
            for i in steps.indices {
                r.begin(rule: steps[i].rule, verdict: steps[i].verdict)
                steps[i].check(input, &r)
            }
        }
    }
}
