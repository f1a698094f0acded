import AdmissionKit

/// selector / targetRef / targetRefs (rules doc §2, §6, §10.5).
enum TargetingRules {
    static let maxTargetRefs = 16
    static let gatewayGroup = "gateway.networking.k8s.io"
    static let istioNetworkingGroup = "networking.istio.io"
    static let waypointClass = "istio-waypoint"

    /// The group each supported kind lives in ("" is the core group).
    static let groupForKind: [String: String] = [
        "Gateway": gatewayGroup, "GatewayClass": gatewayGroup, "ServiceEntry": istioNetworkingGroup, "Service": "",
    ]

    /// Labels that name a Gateway API gateway's pods; a selector on exactly one of them can
    /// be turned into a targetRef without changing what it selects.
    static let gatewayNameLabels = ["gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name"]

    static func check(_ spec: JSONObject, namespace: String, settings: PolicySettings, into r: inout ValidationResult) {
        let spec$ = FieldPath("spec")
        // Like the CRD's CEL (has()), an empty list or object still counts as set.
        let present = ["selector", "targetRef", "targetRefs"].filter { key in spec[key].map { !$0.isNull } ?? false }
        if present.count > 1 {
            r.error(
                .invalid(
                    spec$, "only one of selector, targetRef and targetRefs may be set, but \(present.joined(separator: " and ")) are",
                    hint: "keep targetRefs for gateways and waypoints, or selector for sidecars"))
        }
        checkSelector(spec["selector"], settings: settings, into: &r)
        if let ref = r.object(spec["targetRef"], at: spec$.child("targetRef")) {
            r.warn(spec$.child("targetRef"), "targetRef is deprecated; use targetRefs (the mutating webhook converts it)")
            checkRef(ref, at: spec$.child("targetRef"), namespace: namespace, settings: settings, into: &r)
        }
        if let refs = r.array(spec["targetRefs"], at: spec$.child("targetRefs")) {
            if refs.count > maxTargetRefs {
                r.error(FieldError(.tooMany, spec$.child("targetRefs"), "has \(refs.count) items, at most \(maxTargetRefs) are allowed", hint: "split the plugin into several WasmPlugins"))
            }
            for (i, item) in refs.enumerated() {
                let path = spec$.child("targetRefs").index(i)
                if let ref = r.object(item, at: path) {
                    checkRef(ref, at: path, namespace: namespace, settings: settings, into: &r)
                } else if item.isNull {
                    r.error(.required(path, "must be an object {group, kind, name}"))
                }
            }
        }
    }

    static func checkSelector(_ value: JSON?, settings: PolicySettings, into r: inout ValidationResult) {
        let path = FieldPath("spec", "selector")
        guard let selector = r.object(value, at: path) else { return }
        let labelsPath = path.child("matchLabels")
        let labels = r.object(selector["matchLabels"], at: labelsPath) ?? JSONObject()
        for key in selector.keys where key != "matchLabels" {
            r.warn(path.child(key), "unknown field; a WasmPlugin selector has only matchLabels")
        }
        if labels.isEmpty {
            r.warn(path, "workload selector specified without labels: it selects every workload in the namespace")
        }
        if labels.count > 4096 {
            r.error(FieldError(.tooMany, labelsPath, "has \(labels.count) labels, at most 4096 are allowed"))
        }
        for (key, value) in labels.members {
            let keyPath = labelsPath.child(key)
            if key.isEmpty { r.error(.invalid(keyPath, "label key must not be empty")) }
            if key.contains("*") { r.error(.invalid(keyPath, "wildcard not allowed in a label key", hint: "selectors match exact labels")) }
            guard let v = r.string(value, at: keyPath) else { continue }
            if v.contains("*") { r.error(.invalid(keyPath, "wildcard not allowed in a label value", hint: "selectors match exact labels")) }
            if v.count > 63 { r.error(FieldError(.tooLong, keyPath, "label value is \(v.count) characters, at most 63 are allowed")) }
        }
        switch settings.selector {
        case .deny:
            r.error(
                FieldError(
                    .forbidden, path, "selector is not allowed by this cluster's policy",
                    hint: "attach with targetRefs to a Gateway, GatewayClass, Service or ServiceEntry"))
        case .warn, .convert:
            r.warn(path, "selector is ignored by waypoints and Gateway API gateways; use targetRefs to attach to those")
        }
    }

    static func checkRef(_ ref: JSONObject, at path: FieldPath, namespace: String, settings: PolicySettings, into r: inout ValidationResult) {
        let kind = r.string(ref["kind"], at: path.child("kind"))
        let name = r.string(ref["name"], at: path.child("name"))
        let group = r.string(ref["group"], at: path.child("group"))
        let targetNamespace = r.string(ref["namespace"], at: path.child("namespace"))
        for key in ref.keys where !["kind", "name", "group", "namespace"].contains(key) {
            r.warn(path.child(key), "unknown field; the API server drops it")
        }

        if let name {
            if name.isEmpty {
                r.error(.required(path.child("name"), "name must be set", hint: "name the target resource"))
            } else if name.count > 253 {
                r.error(FieldError(.tooLong, path.child("name"), "is \(name.count) characters, at most 253 are allowed"))
            }
        } else if ref["name"]?.isNull ?? true {
            r.error(.required(path.child("name"), "name must be set", hint: "name the target resource"))
        }
        if let targetNamespace, !targetNamespace.isEmpty {
            r.error(
                FieldError(
                    .forbidden, path.child("namespace"), "cross-namespace references are not supported",
                    hint: "remove namespace and create the WasmPlugin in the target's namespace"))
        }
        if let group, !group.isEmpty, group.count > 253 || !isDNSSubdomain(group) {
            r.error(.invalid(path.child("group"), "must be a DNS subdomain such as gateway.networking.k8s.io"))
        }
        guard let kind else {
            if ref["kind"]?.isNull ?? true {
                r.error(.required(path.child("kind"), "kind must be set", hint: "use Gateway, GatewayClass, Service or ServiceEntry"))
            }
            return
        }
        guard let expectedGroup = groupForKind[kind] else {
            let suggestion = groupForKind.keys.first { $0.lowercased() == kind.lowercased() }
            let hint = suggestion.map { "did you mean \($0)? kind is case-sensitive" } ?? "use Gateway, GatewayClass, Service or ServiceEntry"
            r.error(FieldError(.notSupported, path.child("kind"), "unsupported kind \(JSON.string(String(kind.prefix(63))).compactText)", hint: hint))
            return
        }
        let actualGroup = group ?? ""
        let groupMatches = actualGroup == expectedGroup || (expectedGroup.isEmpty && actualGroup == "core")
        if !groupMatches {
            if actualGroup.isEmpty {
                r.error(
                    .required(
                        path.child("group"), "\(kind) needs group \(expectedGroup)",
                        hint: "add group: \(expectedGroup) (the mutating webhook adds it)"))
            } else {
                r.error(
                    FieldError(
                        .notSupported, path.child("group"), "\(kind) is not in group \(JSON.string(String(actualGroup.prefix(253))).compactText)",
                        hint: expectedGroup.isEmpty ? "use group \"\" (core) for Service" : "use group \(expectedGroup)"))
            }
        }
        switch kind {
        case "GatewayClass":
            if namespace != settings.rootNamespace || name != waypointClass {
                r.warn(
                    path,
                    "GatewayClass targets only take effect for GatewayClass \(waypointClass) from the root namespace \(settings.rootNamespace)")
            }
        case "Service", "ServiceEntry":
            r.warn(path, "\(kind) targets only take effect on waypoints, not on sidecars or gateways")
        default: break
        }
    }

    /// RFC 1123 subdomain: dot-separated labels of [a-z0-9-], not starting or ending in '-'.
    static func isDNSSubdomain(_ s: String) -> Bool {
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for b in s.utf8 {
            if b == UInt8(ascii: ".") {
                if labelLength == 0 || previous == UInt8(ascii: "-") { return false }
                labelLength = 0
            } else {
                let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-")
                if !ok || (labelLength == 0 && b == UInt8(ascii: "-")) { return false }
                labelLength += 1
            }
            previous = b
        }
        return labelLength > 0 && previous != UInt8(ascii: "-")
    }
}
