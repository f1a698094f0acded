import AdmissionKit
import ClusterView

/// What every rule reads: the object, its spec, the parsed url and the policy, plus what
/// several rules derive from them, worked out once per review (a review runs ~60 rules).
/// A class: handed to every rule by one reference, not as a struct whose dozen fields
/// were retained and released around each of the ~60 calls.
final class RuleInput {
    let object: JSONObject
    /// `spec` when it is an object; spec-level rules run only then.
    let spec: JSONObject
    /// Its declared fields, found once (rules read these, not `spec[key]`).
    let fields: SpecFields
    let namespace: String
    /// `spec.url` parsed, when it is a string.
    let url: ModuleURL?
    let settings: PolicySettings
    /// What stops Istio parsing `url`, and an unsupported or mis-cased scheme (each rule
    /// below reads them; worked out once).
    let urlSyntaxProblem: (detail: FindingText, hint: FindingText)?
    let urlSchemeProblem: (detail: FindingText, hint: FindingText, kind: FieldError.Kind)?
    /// `url` when it has neither problem: the url rules past those two judge only this.
    let judgedURL: ModuleURL?
    /// The OCI reference the agent would fetch, when it parses.
    let oci: ModuleURL.OCIReference?
    /// `targetRef` and `targetRefs` items that are objects, with their paths.
    let targetRefs: [(FieldPath, JSONObject)]
    /// Whether the plugin is basic_auth, and its rule objects with their paths.
    let basicAuthApplies: Bool
    let basicAuthRules: [(FieldPath, JSONObject)]
    /// The cluster around the plugin (`check --cluster`, `serve --context-checks`), and the
    /// targetRefs as it sees them; without a view the context rules have nothing to say.
    let cluster: (any ClusterFacts)?
    let contextTargets: [ContextTarget]

    init(
        object: JSONObject, spec: JSONObject, namespace: String, url: ModuleURL?, settings: PolicySettings,
        cluster: (any ClusterFacts)? = nil
    ) {
        self.object = object
        self.spec = spec
        fields = SpecFields(spec)
        self.namespace = namespace
        self.url = url
        self.settings = settings
        urlSyntaxProblem = url.flatMap(URLRules.syntaxProblem)
        urlSchemeProblem = url.flatMap(URLRules.schemeProblem)
        judgedURL = urlSyntaxProblem == nil && urlSchemeProblem == nil ? url : nil
        oci = judgedURL?.oci.flatMap { URLRules.referenceProblems($0).isEmpty ? $0 : nil }
        targetRefs = TargetingRules.collectRefs(fields)
        let config = fields.pluginConfig?.objectValue
        basicAuthApplies = BasicAuthRules.applies(url: url, pluginConfig: config)
        basicAuthRules = basicAuthApplies ? (config?.objectItems("basic_auth_rules", at: BasicAuthRules.rules$) ?? []) : []
        self.cluster = cluster
        let refs = targetRefs
        contextTargets = cluster.map { ContextRules.targets(refs, namespace: namespace, cluster: $0) } ?? []
    }

    /// Whether the view knows the Service or ServiceEntry at `path` well enough for the
    /// context rules to speak about it (then the static "waypoints only" guess is dropped).
    func viewKnowsWaypoint(of path: FieldPath) -> Bool {
        contextTargets.contains { $0.path == path && ($0.exists.value == false || $0.binding != nil) }
    }

    /// The kinds of `targetRefs` (or the deprecated `targetRef`) that are strings.
    var targetKinds: [String] { targetRefs.compactMap { $0.1.string("kind") } }
}

/// One validation rule: a stable id (what policies, `check` output and the README name),
/// the field it judges, what its findings are by default, and how to fix them.
public struct WasmPluginRule: Sendable {
    public let id: String
    public let field: String
    public let verdict: RuleVerdict
    public let fix: String
    let check: @Sendable (RuleInput, inout ValidationResult) -> Void
}

/// Every rule, flat, in the order of istiod's `ValidateWasmPlugin` (targeting, url, sha256,
/// imagePullSecret, pluginName, vmConfig, match), then the ones Istio does not have.
/// `README.md` lists the same table; `RuleCatalogTests` keeps the two in step.
public enum WasmPluginRules {
    static let objectRules: [WasmPluginRule] = [
        WasmPluginRule(id: "object-fields", field: "(top level)", verdict: .deny, fix: "move unknown top-level fields under spec or remove them", check: ObjectRules.topLevelFields),
        WasmPluginRule(id: "spec-required", field: "spec", verdict: .deny, fix: "set spec, with at least spec.url", check: ObjectRules.specRequired),
    ]

    static let specRules: [WasmPluginRule] = [
        WasmPluginRule(id: "field-type", field: "spec.*", verdict: .deny, fix: "write each field as the type the CRD declares", check: ObjectRules.fieldTypes),
        // validateOneOfSelectorType, validateWorkloadSelector
        WasmPluginRule(id: "targeting-one-of", field: "spec.selector, targetRef, targetRefs", verdict: .deny, fix: "keep one: targetRefs for gateways and waypoints, selector for sidecars", check: TargetingRules.oneOf),
        WasmPluginRule(id: "selector-labels", field: "spec.selector.matchLabels", verdict: .deny, fix: "non-empty keys, no wildcards, values ≤ 63 characters", check: TargetingRules.selectorLabels),
        WasmPluginRule(id: "selector-empty", field: "spec.selector", verdict: .warn, fix: "add matchLabels, or remove selector to mean the whole namespace", check: TargetingRules.selectorEmpty),
        WasmPluginRule(id: "selector-fields", field: "spec.selector", verdict: .warn, fix: "a WasmPlugin selector has only matchLabels", check: TargetingRules.selectorFields),
        WasmPluginRule(id: "selector-gateway-pods", field: "spec.selector", verdict: .warn, fix: "targetRefs to the Gateway (outside the root namespace), or keep the selector on purpose", check: TargetingRules.selectorGatewayPods),
        WasmPluginRule(id: "selector-not-allowed", field: "spec.selector", verdict: .off, fix: "attach with targetRefs (on when policy selector: deny)", check: TargetingRules.selectorNotAllowed),
        // validatePolicyTargetReference(s)
        WasmPluginRule(id: "targetref-deprecated", field: "spec.targetRef", verdict: .warn, fix: "use targetRefs (the mutating webhook converts it)", check: TargetingRules.targetRefDeprecated),
        WasmPluginRule(id: "targetrefs-max", field: "spec.targetRefs", verdict: .deny, fix: "at most 16; split the plugin", check: TargetingRules.targetRefsMax),
        WasmPluginRule(id: "targetref-name", field: "spec.targetRefs[].name", verdict: .deny, fix: "the target's name: a DNS-1035 label for Service, a DNS-1123 subdomain otherwise", check: TargetingRules.refName),
        WasmPluginRule(id: "targetref-namespace", field: "spec.targetRefs[].namespace", verdict: .deny, fix: "remove namespace; create the WasmPlugin in the target's namespace", check: TargetingRules.refNamespace),
        WasmPluginRule(id: "targetref-kind", field: "spec.targetRefs[].kind", verdict: .deny, fix: "Gateway, GatewayClass, Service or ServiceEntry (case-sensitive)", check: TargetingRules.refKind),
        WasmPluginRule(id: "targetref-group-valid", field: "spec.targetRefs[].group", verdict: .deny, fix: "the kind's group (the mutating webhook adds a missing one)", check: TargetingRules.refGroup),
        WasmPluginRule(id: "targetref-fields", field: "spec.targetRefs[]", verdict: .warn, fix: "only group, kind, name, namespace", check: TargetingRules.refFields),
        WasmPluginRule(id: "targetref-gatewayclass", field: "spec.targetRefs[]", verdict: .warn, fix: "GatewayClass istio-waypoint, from the root namespace", check: TargetingRules.refGatewayClass),
        WasmPluginRule(id: "targetref-waypoint-only", field: "spec.targetRefs[]", verdict: .warn, fix: "Service and ServiceEntry targets act on waypoints only; target the Gateway for gateways", check: TargetingRules.refWaypointOnly),
        // validateWasmPluginURL
        WasmPluginRule(id: "url-required", field: "spec.url", verdict: .deny, fix: "set url, e.g. oci://REGISTRY/REPO:TAG", check: URLRules.required),
        WasmPluginRule(id: "url-syntax", field: "spec.url", verdict: .deny, fix: "a url Istio can parse: oci://REGISTRY/REPO:TAG, https://HOST/PATH.wasm, file:///PATH.wasm", check: URLRules.syntax),
        WasmPluginRule(id: "url-scheme-supported", field: "spec.url", verdict: .deny, fix: "oci://, https://, http:// or file://", check: URLRules.schemeSupported),
        WasmPluginRule(id: "url-scheme-missing", field: "spec.url", verdict: .warn, fix: "write oci:// (the mutating webhook adds it)", check: URLRules.schemeMissing),
        WasmPluginRule(id: "url-scheme-case", field: "spec.url", verdict: .warn, fix: "lowercase the scheme (the mutating webhook does)", check: URLRules.schemeCase),
        WasmPluginRule(id: "url-absolute-path", field: "spec.url", verdict: .warn, fix: "write file:///PATH for a local file", check: URLRules.absolutePath),
        WasmPluginRule(id: "url-file-path", field: "spec.url", verdict: .deny, fix: "file:///ABSOLUTE/PATH.wasm (three slashes)", check: URLRules.filePath),
        WasmPluginRule(id: "url-oci-reference", field: "spec.url", verdict: .deny, fix: "lowercase repository of 2+ characters, tag of [A-Za-z0-9_.-]", check: URLRules.ociReference),
        WasmPluginRule(id: "url-oci-implicit-registry", field: "spec.url", verdict: .warn, fix: "write the registry out, e.g. oci://docker.io/library/NAME:TAG", check: URLRules.ociImplicitRegistry),
        WasmPluginRule(id: "url-oci-tag", field: "spec.url", verdict: .warn, fix: "pin a version tag, a digest or sha256", check: URLRules.ociTag),
        WasmPluginRule(id: "url-insecure-http", field: "spec.url", verdict: .warn, fix: "use https:// (policy insecureHTTP)", check: URLRules.insecureHTTP),
        WasmPluginRule(id: "url-registry", field: "spec.url", verdict: .deny, fix: "use an allowed registry (policy allowedRegistries)", check: URLRules.allowedRegistry),
        // validateWasmPluginSHA
        WasmPluginRule(id: "sha256-format", field: "spec.sha256", verdict: .deny, fix: "64 lowercase hex digits, or empty", check: URLRules.sha256Format),
        WasmPluginRule(id: "sha256-digest-mismatch", field: "spec.sha256", verdict: .deny, fix: "remove sha256 or make it equal to the url's @sha256 digest", check: URLRules.sha256DigestMismatch),
        WasmPluginRule(id: "sha256-missing", field: "spec.sha256", verdict: .warn, fix: "set sha256 for http(s) modules", check: URLRules.sha256Missing),
        WasmPluginRule(id: "digest-required", field: "spec.url, spec.sha256", verdict: .off, fix: "pin with @sha256: or sha256 (on when policy requireDigest: true)", check: URLRules.digestRequired),
        WasmPluginRule(id: "file-url-ignored-fields", field: "spec.sha256, imagePullPolicy, imagePullSecret", verdict: .warn, fix: "remove them: file:// modules are not fetched", check: URLRules.fileIgnoredFields),
        // validateWasmPluginImagePullSecret, validateWasmPluginName
        WasmPluginRule(id: "image-pull-secret", field: "spec.imagePullSecret", verdict: .deny, fix: "a Secret name: 1-253 bytes, DNS-1123 subdomain", check: ScalarRules.imagePullSecret),
        WasmPluginRule(id: "image-pull-secret-namespace", field: "spec.imagePullSecret", verdict: .deny, fix: "the Secret's name alone, in the WasmPlugin's namespace", check: ScalarRules.imagePullSecretNamespace),
        WasmPluginRule(id: "plugin-name", field: "spec.pluginName", verdict: .deny, fix: "1-256 bytes", check: ScalarRules.pluginName),
        // validateWasmPluginVMConfig
        WasmPluginRule(id: "env-max", field: "spec.vmConfig.env", verdict: .deny, fix: "at most 256 entries", check: VMConfigRules.envMax),
        WasmPluginRule(id: "env-name", field: "spec.vmConfig.env[].name", verdict: .deny, fix: "a C identifier of 1-256 characters", check: VMConfigRules.envName),
        WasmPluginRule(id: "env-name-unique", field: "spec.vmConfig.env[].name", verdict: .deny, fix: "each name once", check: VMConfigRules.envNameUnique),
        WasmPluginRule(id: "env-name-reserved", field: "spec.vmConfig.env[].name", verdict: .deny, fix: "not ISTIO_META_WASM_*: Istio sets those", check: VMConfigRules.envNameReserved),
        WasmPluginRule(id: "env-value-from", field: "spec.vmConfig.env[].value", verdict: .deny, fix: "value only with valueFrom INLINE", check: VMConfigRules.envValueFrom),
        WasmPluginRule(id: "env-value-length", field: "spec.vmConfig.env[].value", verdict: .deny, fix: "at most 2048 characters", check: VMConfigRules.envValueLength),
        // validateWasmPluginMatch
        WasmPluginRule(id: "match-port", field: "spec.match[].ports[].number", verdict: .deny, fix: "a port number from 1 to 65535", check: MatchRules.port),
        WasmPluginRule(id: "match-port-unique", field: "spec.match[].ports[].number", verdict: .deny, fix: "list each port once", check: MatchRules.portUnique),
        WasmPluginRule(id: "match-unreachable-waypoint", field: "spec.match", verdict: .deny, fix: "on waypoint targets: no ports, mode SERVER or CLIENT_AND_SERVER", check: MatchRules.unreachableOnWaypoints),
        WasmPluginRule(id: "match-unreachable-gateway", field: "spec.match", verdict: .warn, fix: "on gateways: mode CLIENT or CLIENT_AND_SERVER", check: MatchRules.unreachableOnGateways),
        // Beyond istiod: the CRD's enums and ranges, and what fails at runtime.
        WasmPluginRule(id: "enum-value", field: "phase, imagePullPolicy, failStrategy, type, match[].mode, env[].valueFrom", verdict: .deny, fix: "one of the values Istio spells, case-sensitive", check: ScalarRules.enums),
        WasmPluginRule(id: "priority-range", field: "spec.priority", verdict: .deny, fix: "a 32-bit integer", check: ScalarRules.priority),
        WasmPluginRule(id: "spec-fields", field: "spec.*", verdict: .warn, fix: "remove or correct unknown fields (the API server drops them)", check: ScalarRules.unknownSpecFields),
        WasmPluginRule(id: "verification-key", field: "spec.verificationKey", verdict: .warn, fix: "remove it: Istio does not implement it", check: ScalarRules.verificationKey),
        // The basic_auth plugin (istio-ecosystem/wasm-extensions basic_auth/plugin.cc).
        WasmPluginRule(id: "basic-auth-network-type", field: "spec.type", verdict: .deny, fix: "type HTTP (or remove type): NETWORK plugins get no HTTP filter", check: BasicAuthRules.networkType),
        WasmPluginRule(id: "basic-auth-phase", field: "spec.phase", verdict: .warn, fix: "phase AUTHN", check: BasicAuthRules.phase),
        WasmPluginRule(id: "basic-auth-unconfigured", field: "spec.pluginConfig", verdict: .warn, fix: "add basic_auth_rules", check: BasicAuthRules.unconfigured),
        WasmPluginRule(id: "basic-auth-realm", field: "spec.pluginConfig.realm", verdict: .warn, fix: "a realm without spaces or quotes (sent unquoted)", check: BasicAuthRules.realm),
        WasmPluginRule(id: "basic-auth-rule-match", field: "basic_auth_rules[]", verdict: .deny, fix: "exactly one non-empty prefix, exact or suffix", check: BasicAuthRules.ruleMatch),
        WasmPluginRule(id: "basic-auth-hosts", field: "basic_auth_rules[].hosts", verdict: .deny, fix: "non-empty host strings", check: BasicAuthRules.hosts),
        WasmPluginRule(id: "basic-auth-methods", field: "basic_auth_rules[].request_methods", verdict: .deny, fix: "at least one upper-case method token: GET, POST, …", check: BasicAuthRules.methods),
        WasmPluginRule(id: "basic-auth-method-case", field: "basic_auth_rules[].request_methods", verdict: .warn, fix: "methods match case-sensitively; write them as clients send them", check: BasicAuthRules.methodCase),
        WasmPluginRule(id: "basic-auth-credentials", field: "basic_auth_rules[].credentials", verdict: .deny, fix: "user:pass, or the padded base64 of user:pass without a newline", check: BasicAuthRules.credentials),
    ]

    /// Rules that read the cluster view (check --cluster, serve --context-checks); without
    /// a view they are not run at all.
    static let contextRules: [WasmPluginRule] = [
        WasmPluginRule(id: "context-waypoint-other-namespace", field: "spec.targetRefs[]", verdict: .deny, fix: "create the plugin in the waypoint's namespace, targetRefs to the waypoint Gateway (istio#60530)", check: ContextRules.waypointInOtherNamespace),
        WasmPluginRule(id: "context-service-unbound", field: "spec.targetRefs[]", verdict: .warn, fix: "bind the Service to a waypoint (istio.io/use-waypoint), or use selector for sidecars (istio#51014)", check: ContextRules.serviceWithoutWaypoint),
        WasmPluginRule(id: "context-serviceentry-unbound", field: "spec.targetRefs[]", verdict: .warn, fix: "target the Gateway for ingress; bind the ServiceEntry to a waypoint for egress (istio#59337)", check: ContextRules.serviceEntryWithoutWaypoint),
        WasmPluginRule(id: "context-waypoint-unusable", field: "spec.targetRefs[]", verdict: .warn, fix: "use-waypoint must name an istio-waypoint Gateway that takes service traffic", check: ContextRules.waypointUnusable),
        WasmPluginRule(id: "context-target-missing", field: "spec.targetRefs[]", verdict: .warn, fix: "name an existing target in the plugin's namespace", check: ContextRules.targetMissing),
        WasmPluginRule(id: "context-gateway-class", field: "spec.targetRefs[]", verdict: .warn, fix: "target a Gateway of an Istio class", check: ContextRules.gatewayClass),
        WasmPluginRule(id: "context-selector-ambient", field: "spec.selector", verdict: .warn, fix: "in ambient namespaces attach with targetRefs to the waypoint", check: ContextRules.selectorInAmbientNamespace),
    ]

    /// Every validation rule.
    public static let all: [WasmPluginRule] = objectRules + specRules + contextRules

    /// The defaulting rules (audit annotation keys): a policy can turn each off.
    public static let defaultingIDs = [
        "targetref-to-targetrefs", "selector-to-targetrefs", "targetref-group", "url-scheme", "phase", "image-pull-policy",
        "credential-base64", "credential-padding",
    ]

    static let byID: [String: WasmPluginRule] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
}
