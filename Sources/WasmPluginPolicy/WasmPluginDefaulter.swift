import AdmissionKit

/// The mutating rules: fix what can be fixed without changing what the user meant. Each
/// rule is idempotent (its own output triggers nothing) and edits only well-typed fields,
/// leaving anything malformed for the validator to explain.
public struct WasmPluginDefaulter: Defaulter {
    public var settings: PolicySettings

    public init(settings: PolicySettings = PolicySettings()) { self.settings = settings }

    public func handles(_ request: AdmissionRequest) -> Bool {
        WasmPluginKind.matches((request.kind.group, request.kind.kind))
    }

    public func applyDefaults(_ editor: inout ObjectEditor, request: AdmissionRequest) -> [AppliedDefault] {
        let namespace = request.namespace.isEmpty ? (editor.object["metadata"]?["namespace"]?.stringValue ?? "") : request.namespace
        return applyDefaults(&editor, namespace: namespace)
    }

    /// `namespace` is the object's: selectors in the root namespace are not converted.
    public func applyDefaults(_ editor: inout ObjectEditor, namespace: String) -> [AppliedDefault] {
        guard editor.object["spec"]?.objectValue != nil else { return [] }
        var applied: [AppliedDefault] = []
        if settings.defaults("targetref-to-targetrefs") { convertTargetRef(&editor, &applied) }
        if settings.defaults("selector-to-targetrefs") { convertSelector(namespace, &editor, &applied) }
        if settings.defaults("targetref-group") { defaultGroups(&editor, &applied) }
        // The rules below read the (normalised) url: parsed once, again only when normalised.
        var url = spec(editor)["url"]?.stringValue.map(ModuleURL.init)
        if settings.defaults("url-scheme") { normalizeURL(&url, &editor, &applied) }
        if settings.defaults("phase") { defaultPhase(url, &editor, &applied) }
        if settings.defaults("image-pull-policy") { defaultPullPolicy(url, &editor, &applied) }
        normalizeCredentials(url, &editor, &applied)
        return applied
    }

    private let spec$ = FieldPath("spec")
    // Built once: each `child` allocates, and a mutation writes each path twice (edit and annotation).
    private static let targetRefs$ = FieldPath("spec", "targetRefs")
    private static let url$ = FieldPath("spec", "url")
    private static let phase$ = FieldPath("spec", "phase")
    private static let pullPolicy$ = FieldPath("spec", "imagePullPolicy")

    private func spec(_ editor: ObjectEditor) -> JSONObject {
        editor.object["spec"]?.objectValue ?? JSONObject()
    }

    /// Deprecated `targetRef` → `targetRefs: [it]`, when nothing else targets.
    private func convertTargetRef(_ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        let spec = spec(editor)
        guard let ref = spec["targetRef"]?.objectValue, !TargetingRules.isSet(spec["selector"]), !TargetingRules.isSet(spec["targetRefs"]) else { return }
        editor.set(Self.targetRefs$, .array([.object(ref)]))
        editor.remove(spec$.child("targetRef"))
        applied.append(AppliedDefault(rule: "targetref-to-targetrefs", path: Self.targetRefs$))
    }

    /// A selector naming one Gateway API gateway → a Gateway targetRef. Not in the root
    /// namespace: there the selector reaches gateway X in every namespace, a targetRef only
    /// `istio-system/X` (the validator warns instead).
    private func convertSelector(_ namespace: String, _ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        let spec = spec(editor)
        guard settings.selector == .convert, namespace != settings.rootNamespace, !TargetingRules.isSet(spec["targetRefs"]),
            spec["targetRef"] == nil,
            let labels = spec["selector"]?["matchLabels"]?.objectValue, labels.count == 1,
            let label = labels.members.first, TargetingRules.gatewayNameLabels.contains(label.key),
            let gateway = label.value.stringValue, DNSNames.isSubdomain(gateway),
            spec["selector"]?.objectValue?.count == 1
        else { return }
        let ref: JSON = ["group": .string(TargetingRules.gatewayGroup), "kind": "Gateway", "name": .string(gateway)]
        editor.set(Self.targetRefs$, [ref])
        editor.remove(spec$.child("selector"))
        applied.append(AppliedDefault(rule: "selector-to-targetrefs", path: Self.targetRefs$))
    }

    /// Gateway/GatewayClass/ServiceEntry refs without a group get theirs.
    private func defaultGroups(_ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        guard let refs = spec(editor)["targetRefs"]?.arrayValue else { return }
        for (i, item) in refs.enumerated() {
            guard let ref = item.objectValue, let kind = ref["kind"]?.stringValue,
                let group = TargetingRules.group(forKind: kind), !group.isEmpty
            else { continue }
            let current = ref["group"]
            guard current == nil || current == .string("") || current == .null else { continue }
            let path = FieldPath([.key("spec"), .key("targetRefs"), .index(i), .key("group")])
            editor.set(path, .string(group))
            applied.append(AppliedDefault(rule: "targetref-group", path: path))
        }
    }

    /// Scheme-less registry references get `oci://`; an upper-case scheme is lowercased.
    private func normalizeURL(_ url: inout ModuleURL?, _ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        guard let fixed = url?.normalizedURL else { return }
        editor.set(Self.url$, .string(fixed.raw))
        applied.append(AppliedDefault(rule: "url-scheme", path: Self.url$))
        url = fixed
    }

    private func defaultPhase(_ url: ModuleURL?, _ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        let spec = spec(editor)
        // A NETWORK plugin has no HTTP phase; basic_auth there is denied, not repaired.
        guard spec["phase"] == nil || spec["phase"] == .null, spec["type"]?.stringValue != "NETWORK", let url,
            let phase = settings.phaseDefaults[url.moduleName]
        else { return }
        editor.set(Self.phase$, .string(phase))
        applied.append(AppliedDefault(rule: "phase", path: Self.phase$))
    }

    /// Istio re-pulls only an explicit `:latest`; an untagged image is just as mutable.
    private func defaultPullPolicy(_ url: ModuleURL?, _ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        let spec = spec(editor)
        // Pinned by sha256, an untagged image cannot change unnoticed (the fetch checks it).
        guard spec["imagePullPolicy"] == nil || spec["imagePullPolicy"] == .null, (spec["sha256"]?.stringValue ?? "").isEmpty,
            let oci = url?.oci, oci.tag == nil, oci.digest == nil, !oci.repository.isEmpty
        else { return }
        editor.set(Self.pullPolicy$, "Always")
        applied.append(AppliedDefault(rule: "image-pull-policy", path: Self.pullPolicy$))
    }

    /// Plain `user:pass` → base64 (policy `credentials: base64`); non-canonical base64 →
    /// canonical. The plugin treats both forms identically, so meaning is unchanged.
    private func normalizeCredentials(_ url: ModuleURL?, _ editor: inout ObjectEditor, _ applied: inout [AppliedDefault]) {
        // Plan first, edit after: holding the credential arrays while editing would make
        // every edit copy them (quadratic in the number of credentials).
        var changes: [(FieldPath, String, String)] = []
        do {
            let spec = spec(editor)
            guard let config = spec["pluginConfig"]?.objectValue, BasicAuthRules.applies(url: url, pluginConfig: config),
                let rules = config["basic_auth_rules"]?.arrayValue
            else { return }
            // One array per path (child() copies the steps at every level).
            func path(_ i: Int, _ j: Int) -> FieldPath {
                FieldPath([.key("spec"), .key("pluginConfig"), .key("basic_auth_rules"), .index(i), .key("credentials"), .index(j)])
            }
            for (i, rule) in rules.enumerated() {
                guard let credentials = rule["credentials"]?.arrayValue else { continue }
                for (j, item) in credentials.enumerated() {
                    guard let credential = item.stringValue else { continue }
                    switch BasicAuthCredential.classify(credential) {
                    case .plain where settings.credentials == .base64 && settings.defaults("credential-base64"):
                        changes.append((path(i, j), Base64.encode(credential.utf8), "credential-base64"))
                    case .nonCanonical(let canonical) where settings.defaults("credential-padding"):
                        changes.append((path(i, j), canonical, "credential-padding"))
                    default: break
                    }
                }
            }
        }
        for (path, value, rule) in changes {
            editor.set(path, .string(value))
            applied.append(AppliedDefault(rule: rule, path: path))
        }
    }
}
