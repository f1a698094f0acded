import AdmissionKit

/// selector / targetRef / targetRefs (rules doc §2, §6, §10.5; istiod
/// `validateOneOfSelectorType`, `validateWorkloadSelector`, `validatePolicyTargetReference(s)`).
enum TargetingRules {
    static let maxTargetRefs = 16
    static let gatewayGroup = "gateway.networking.k8s.io"
    static let istioNetworkingGroup = "networking.istio.io"
    static let waypointClass = "istio-waypoint"

    /// The supported kinds, and the group each lives in ("" is the core group).
    static let supportedKinds: NameList = ["Gateway", "GatewayClass", "ServiceEntry", "Service"]
    private static let kindGroups = [gatewayGroup, gatewayGroup, istioNetworkingGroup, ""]
    static func group(forKind kind: String) -> String? { supportedKinds.firstIndex(of: kind).map { kindGroups[$0] } }
    /// Kinds whose plugins only waypoints apply (pilot `listener_waypoint.go`).
    static let waypointOnlyKinds: NameList = ["Service", "ServiceEntry", "GatewayClass"]

    /// Labels that name a Gateway API gateway's pods; a selector on exactly one of them can
    /// be turned into a targetRef without changing what it selects (outside the root namespace).
    static let gatewayNameLabels: NameList = ["gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name"]

    private static let spec$ = FieldPath("spec")
    private static let selector$ = FieldPath("spec", "selector")

    /// The targetRef objects with their paths: the deprecated `targetRef` and `targetRefs`.
    static func collectRefs(_ spec: SpecFields) -> [(FieldPath, JSONObject)] {
        // The usual spec has targetRefs alone: that list as it is, no concatenation.
        let refs = JSONObject.objectItems(of: spec.targetRefs, at: targetRefs$)
        guard let ref = spec.targetRef?.objectValue else { return refs }
        return [(spec$.child("targetRef"), ref)] + refs
    }

    private static let targetRefs$ = FieldPath("spec", "targetRefs")

    static func isSet(_ value: JSON?) -> Bool { value.map { !$0.isNull } ?? false }

    /// CRD CEL: `has()` counts an empty list or object as set.
    static func oneOf(_ input: RuleInput, _ r: inout ValidationResult) {
        let spec = input.fields
        let set = (selector: isSet(spec.selector), targetRef: isSet(spec.targetRef), targetRefs: isSet(spec.targetRefs))
        let present: FindingText =
            switch set {
            case (true, true, true): "selector and targetRef and targetRefs"
            case (true, true, false): "selector and targetRef"
            case (true, false, true): "selector and targetRefs"
            case (false, true, true): "targetRef and targetRefs"
            default: ""
            }
        guard !present.string.isEmpty else { return }
        r.report(
            spec$, "only one of selector, targetRef and targetRefs may be set, but \(present) are",
            hint: "keep targetRefs for gateways and waypoints, or selector for sidecars")
    }

    static func selectorLabels(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let labels = input.fields.selector?["matchLabels"]?.objectValue else { return }
        let labels$ = selector$.child("matchLabels")
        if labels.count > 4096 {
            r.report(FieldError(.tooMany, labels$, "has \(labels.count) labels, at most 4096 are allowed"))
        }
        for member in labels.members {
            let (key, value) = (member.key, member.value)
            // Paths only for findings; '*' found in the bytes (`String.contains(Character)`
            // walks grapheme clusters).
            func keyPath() -> FieldPath { labels$.child(key) }
            if key.isEmpty { r.report(keyPath(), "label key must not be empty") }
            if key.utf8.contains(UInt8(ascii: "*")) { r.report(keyPath(), "wildcard not allowed in a label key", hint: "selectors match exact labels") }
            guard let v = value.stringValue else { continue }
            if v.utf8.contains(UInt8(ascii: "*")) { r.report(keyPath(), "wildcard not allowed in a label value", hint: "selectors match exact labels") }
            if v.utf8.count > 63 { r.report(FieldError(.tooLong, keyPath(), "label value is \(v.utf8.count) characters, at most 63 are allowed")) }
        }
    }

    /// istiod: "workload selector specified without labels" (a warning there too).
    static func selectorEmpty(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let selector = input.fields.selector?.objectValue, selector["matchLabels"]?.objectValue?.isEmpty ?? true else { return }
        r.report(selector$, "selector without labels selects every workload in the namespace")
    }

    static func selectorFields(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let selector = input.fields.selector?.objectValue else { return }
        for key in selector.keys where key != "matchLabels" {
            r.report(selector$.child(key), "unknown field; a WasmPlugin selector has only matchLabels")
        }
    }

    /// A selector is right for sidecars and gateway pods; only waypoints ignore it. It is
    /// worth a word when it names a Gateway API gateway's pods and was not converted.
    static func selectorGatewayPods(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let labels = input.fields.selector?["matchLabels"]?.objectValue,
            let label = labels.members.first(where: { gatewayNameLabels.contains($0.key) }),
            let gateway = label.value.stringValue, !gateway.isEmpty
        else { return }
        // The view can confirm that the gateway is no waypoint: then the selector does reach it.
        if input.namespace != input.settings.rootNamespace,
            let facts = input.cluster?.gateway(namespace: input.namespace, name: gateway).value, facts.gatewayClassName != waypointClass
        {
            return
        }
        if input.namespace == input.settings.rootNamespace {
            r.report(
                selector$.child("matchLabels").child(label.key),
                "in the root namespace: gateway \(gateway)'s pods in every namespace (a waypoint ignores selectors)",
                hint: "for one gateway, create the WasmPlugin in its namespace with targetRefs")
        } else {
            r.report(
                selector$.child("matchLabels").child(label.key),
                "selects gateway \(gateway)'s pods, which a waypoint ignores; for a waypoint use targetRefs to Gateway \(gateway)")
        }
    }

    static func selectorNotAllowed(_ input: RuleInput, _ r: inout ValidationResult) {
        guard isSet(input.fields.selector) else { return }
        r.report(
            FieldError(
                .forbidden, selector$, "selector is not allowed by this cluster's policy",
                hint: "attach with targetRefs to a Gateway, GatewayClass, Service or ServiceEntry"))
    }

    static func targetRefDeprecated(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.fields.targetRef?.objectValue != nil else { return }
        r.report(spec$.child("targetRef"), "targetRef is deprecated; use targetRefs (the mutating webhook converts it)")
    }

    static func targetRefsMax(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let refs = input.fields.targetRefs?.arrayValue, refs.count > maxTargetRefs else { return }
        r.report(
            FieldError(
                .tooMany, spec$.child("targetRefs"), "has \(refs.count) items, at most \(maxTargetRefs) are allowed",
                hint: "split the plugin into several WasmPlugins"))
    }

    /// Required (istiod), 1..253 (CRD), and a name the target kind can have: a name no
    /// object can have attaches to nothing. Services are DNS-1035 labels (core validation
    /// `ValidateServiceName`); the CRD kinds are DNS-1123 subdomains.
    static func refName(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs {
            func namePath() -> FieldPath { path.child("name") }
            guard let name = ref.string("name"), !name.isEmpty else {
                if ref["name"]?.isNull ?? true || ref.string("name") == "" {
                    r.report(.required(namePath(), "name must be set", hint: "name the target resource"))
                }
                continue
            }
            if name.utf8.count > 253 {
                r.report(FieldError(.tooLong, namePath(), "is \(name.utf8.count) characters, at most 253 are allowed"))
            } else if ref.string("kind") == "Service" {
                if !DNSNames.isLabel1035(name) {
                    r.report(
                        namePath(), "no Service can be named \(quoted: String(name.prefix(63))), so this attaches to nothing",
                        hint: "a Service name is a DNS-1035 label: at most 63 of a-z, 0-9 and '-', starting with a letter")
                }
            } else if !DNSNames.isSubdomain(name) {
                r.report(
                    namePath(), "no object can be named \(quoted: String(name.prefix(63))), so this attaches to nothing",
                    hint: "a name is a DNS-1123 subdomain: lowercase a-z, 0-9, '-' and '.'")
            }
        }
    }

    static func refNamespace(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs {
            guard let namespace = ref.string("namespace"), !namespace.isEmpty else { continue }
            r.report(
                FieldError(
                    .forbidden, path.child("namespace"), "cross-namespace references are not supported",
                    hint: "remove namespace and create the WasmPlugin in the target's namespace"))
        }
    }

    static func refKind(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs {
            guard let kind = ref.string("kind") else {
                if ref["kind"]?.isNull ?? true {
                    r.report(.required(path.child("kind"), "kind must be set", hint: "use Gateway, GatewayClass, Service or ServiceEntry"))
                }
                continue
            }
            guard !supportedKinds.contains(kind) else { continue }
            let suggestion = supportedKinds.names.first { $0.lowercased() == kind.lowercased() }
            let hint: FindingText = suggestion.map { "did you mean \($0)? kind is case-sensitive" } ?? "use Gateway, GatewayClass, Service or ServiceEntry"
            r.report(FieldError(.notSupported, path.child("kind"), "unsupported kind \(quoted: String(kind.prefix(63)))", hint: hint))
        }
    }

    static func refGroup(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs {
            let group = ref.string("group") ?? ""
            let kind = ref.string("kind")
            let expected = kind.flatMap(Self.group(forKind:))
            // The kind's own group (the usual case) is a valid subdomain: no need to check it.
            if let expected, group == expected { continue }
            if !group.isEmpty, group.utf8.count > 253 || !DNSNames.isSubdomain(group) {
                r.report(path.child("group"), "must be a DNS subdomain such as gateway.networking.k8s.io")
                continue
            }
            guard let kind, let expected else { continue }
            // Group matching is canonical: "" and "core" are the same group.
            if expected.isEmpty && group == "core" { continue }
            if group.isEmpty {
                r.report(.required(path.child("group"), "\(kind) needs group \(expected)", hint: "add group: \(expected) (the mutating webhook adds it)"))
            } else {
                r.report(
                    FieldError(
                        .notSupported, path.child("group"), "\(kind) is not in group \(quoted: String(group.prefix(253)))",
                        hint: expected.isEmpty ? "use group \"\" (core) for Service" : "use group \(expected)"))
            }
        }
    }

    private static let refKeys: NameList = ["kind", "name", "group", "namespace"]

    static func refFields(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs {
            for key in ref.members.lazy.map(\.key) where !refKeys.contains(key) {
                r.report(path.child(key), "unknown field; the API server drops it")
            }
        }
    }

    /// Pilot `policyattachment.go`: a GatewayClass target matches waypoints only, and only
    /// `istio-waypoint` from the root namespace.
    static func refGatewayClass(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs where ref.string("kind") == "GatewayClass" {
            guard input.namespace != input.settings.rootNamespace || ref.string("name") != waypointClass else { continue }
            r.report(
                path, "GatewayClass targets only take effect for GatewayClass \(waypointClass) from the root namespace \(input.settings.rootNamespace)",
                hint: "target the Gateway instead, or move the plugin")
        }
    }

    static func refWaypointOnly(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, ref) in input.targetRefs {
            guard let kind = ref.string("kind"), kind == "Service" || kind == "ServiceEntry", !input.viewKnowsWaypoint(of: path) else { continue }
            r.report(path, "\(kind) targets only take effect on waypoints, not on sidecars or gateways", hint: "use selector for sidecars, targetRefs to the Gateway for gateways")
        }
    }
}

/// Kubernetes name syntax, on bytes.
enum DNSNames {
    private static func isAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }

    /// RFC 1123 subdomain: dot-separated labels of [a-z0-9-], not starting or ending in '-'.
    static func isSubdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        var s = s
        return s.withUTF8(isSubdomain)
    }

    /// On the bytes in place (a String's UTF8View walks index by index).
    private static func isSubdomain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // One pass, no split: labels of 1-63 bytes, alphanumeric at both ends.
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard labelLength > 0, isAlnum(previous) else { return false }
                labelLength = 0
            } else {
                guard isAlnum(b) || (b == UInt8(ascii: "-") && labelLength > 0) else { return false }
                labelLength += 1
                guard labelLength <= 63 else { return false }
            }
            previous = b
        }
        return labelLength > 0 && isAlnum(previous)
    }

    /// RFC 1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63.
    static func isLabel1035(_ s: String) -> Bool {
        let u = s.utf8
        guard let first = u.first, let last = u.last, u.count <= 63 else { return false }
        return first >= 0x61 && first <= 0x7A && isAlnum(last) && u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }
}
