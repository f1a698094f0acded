import AdmissionKit
import ClusterView

/// A targetRef as the cluster view sees it (worked out once per review, only with a view).
struct ContextTarget {
    enum Binding: Equatable {
        /// No `istio.io/use-waypoint` on the object or its Namespace.
        case unbound
        /// `istio.io/use-waypoint: none`.
        case optedOut
        case waypoint(namespace: String, name: String)
    }

    let path: FieldPath
    let kind: String
    let name: String
    /// Whether the target exists (`.unknown`: the view does not hold its kind).
    let exists: Known<Bool>
    /// For a Service or ServiceEntry that exists: the waypoint it uses, when the view can tell.
    let binding: Binding?
}

/// Rules that need the cluster around the plugin (rules doc §6; DESIGN "Validation").
/// Each stays silent when the view does not know a fact it needs: it never guesses.
enum ContextRules {
    /// Istio's own GatewayClasses (pilot `gateway/deploymentcontroller`'s builtin classes).
    static let istioClassNames: Set<String> = ["istio", "istio-waypoint", "istio-remote", "istio-east-west"]

    /// A targetRef to Gateway `name`, as a user would write it.
    static func ref(_ name: String) -> String { "{group: gateway.networking.k8s.io, kind: Gateway, name: \(name)}" }

    /// Istio's waypoint lookup (pilot `ambient/waypoints.go` `getUseWaypoint`): the object's
    /// own `istio.io/use-waypoint` wins (`none` opts out), else its Namespace's; the
    /// waypoint's namespace is `istio.io/use-waypoint-namespace` on the same object, else
    /// that object's namespace.
    static func binding(_ facts: ServiceFacts, namespace: String, cluster: any ClusterFacts) -> ContextTarget.Binding? {
        func read(_ labels: WaypointLabels, defaultNamespace: String) -> ContextTarget.Binding? {
            guard let use = labels.useWaypoint else { return nil }
            if use == "none" { return .optedOut }
            return .waypoint(namespace: labels.useWaypointNamespace ?? defaultNamespace, name: use)
        }
        if let own = read(facts.waypoint, defaultNamespace: namespace) { return own }
        guard let ns = cluster.namespace(namespace).value else { return nil }
        return read(ns.waypoint, defaultNamespace: namespace) ?? .unbound
    }

    static func targets(_ refs: [(FieldPath, JSONObject)], namespace: String, cluster: any ClusterFacts) -> [ContextTarget] {
        var out: [ContextTarget] = []
        for (path, ref) in refs {
            guard let kind = ref.string("kind"), let name = ref.string("name"), !name.isEmpty else { continue }
            let service: Known<ServiceFacts>
            switch kind {
            case "Service": service = cluster.service(namespace: namespace, name: name)
            case "ServiceEntry": service = cluster.serviceEntry(namespace: namespace, name: name)
            case "Gateway":
                out.append(ContextTarget(path: path, kind: kind, name: name, exists: exists(cluster.gateway(namespace: namespace, name: name)), binding: nil))
                continue
            case "GatewayClass":
                out.append(ContextTarget(path: path, kind: kind, name: name, exists: exists(cluster.gatewayClass(name)), binding: nil))
                continue
            default: continue
            }
            var waypoint: ContextTarget.Binding? = nil
            if let facts = service.value { waypoint = binding(facts, namespace: namespace, cluster: cluster) }
            out.append(ContextTarget(path: path, kind: kind, name: name, exists: exists(service), binding: waypoint))
        }
        return out
    }

    private static func exists<T>(_ known: Known<T>) -> Known<Bool> {
        switch known {
        case .unknown: return .unknown
        case .absent: return .present(false)
        case .present: return .present(true)
        }
    }

    // MARK: Rules

    /// istio#60530: a Service (or ServiceEntry) target bound to a waypoint in another
    /// namespace. Pilot puts the plugin in the waypoint's listeners (LDS) but its ECDS
    /// lookup (`TrafficExtensionsByName`) drops a policy from another namespace, so new
    /// waypoint pods wait for the extension forever and never become ready.
    static func waypointInOtherNamespace(_ input: RuleInput, _ r: inout ValidationResult) {
        for target in input.contextTargets {
            guard case .waypoint(let ns, let name) = target.binding, ns != input.namespace else { continue }
            r.report(
                FieldError(
                    .forbidden, target.path,
                    "\(target.kind) \(target.name) uses waypoint \(ns)/\(name) in another namespace: the waypoint would get this plugin's listener but never its config, and its new pods would never become ready (istio#60530)",
                    hint: "create the WasmPlugin in namespace \(ns) with targetRefs: [\(ref(name))] (it then applies to every service behind that waypoint), or bind \(target.name) to a waypoint in namespace \(input.namespace)"))
        }
    }

    /// istio#51014: Service targets act only in the waypoint the Service is bound to; an
    /// unbound Service has none, so the plugin runs nowhere.
    static func serviceWithoutWaypoint(_ input: RuleInput, _ r: inout ValidationResult) {
        for target in input.contextTargets where target.kind == "Service" {
            guard let binding = target.binding, binding == .unbound || binding == .optedOut else { continue }
            let why = binding == .optedOut ? "opts out of waypoints (istio.io/use-waypoint: none)" : "is not bound to a waypoint"
            r.report(
                target.path, "Service \(target.name) \(why), so this plugin runs nowhere (Service targets act only at the Service's waypoint; istio#51014)",
                hint: "label the Service or its Namespace istio.io/use-waypoint=WAYPOINT, or use selector for sidecars")
        }
    }

    /// istio#59337: ServiceEntry targets apply only at waypoints, never at an ingress
    /// gateway; an unbound ServiceEntry makes the plugin run nowhere.
    static func serviceEntryWithoutWaypoint(_ input: RuleInput, _ r: inout ValidationResult) {
        for target in input.contextTargets where target.kind == "ServiceEntry" {
            guard let binding = target.binding, binding == .unbound || binding == .optedOut else { continue }
            r.report(
                target.path,
                "ServiceEntry \(target.name) is not bound to a waypoint, and ServiceEntry targets apply only at waypoints (not at ingress gateways): this plugin runs nowhere (istio#59337)",
                hint: "for an ingress gateway, use targetRefs: [\(ref("GATEWAY"))] or selector {matchLabels: {istio: ingressgateway}}; for a waypoint, label the ServiceEntry istio.io/use-waypoint=WAYPOINT")
        }
    }

    /// The waypoint a bound target names must be a Gateway of class `istio-waypoint` that
    /// serves service traffic (`istio.io/waypoint-for` service or all; pilot
    /// `fetchWaypointForService`), or the binding is dropped and the plugin runs nowhere.
    static func waypointUnusable(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let cluster = input.cluster else { return }
        for target in input.contextTargets {
            guard case .waypoint(let ns, let name) = target.binding else { continue }
            let problem: String
            switch cluster.gateway(namespace: ns, name: name) {
            case .unknown: continue
            case .absent: problem = "does not exist"
            case .present(let gateway):
                if gateway.gatewayClassName != TargetingRules.waypointClass {
                    problem = "is a Gateway of class \(gateway.gatewayClassName), not \(TargetingRules.waypointClass)"
                } else if let traffic = gateway.waypointFor, traffic != "service", traffic != "all" {
                    problem = "carries istio.io/waypoint-for: \(traffic), so it takes no service traffic"
                } else {
                    continue
                }
            }
            r.report(
                target.path, "\(target.kind) \(target.name) uses waypoint \(ns)/\(name), which \(problem): this plugin runs nowhere",
                hint: "point istio.io/use-waypoint at an istio-waypoint Gateway for service traffic (istioctl waypoint apply -n \(ns) --name \(name))")
        }
    }

    /// A target the view knows does not exist attaches to nothing (until it is created).
    static func targetMissing(_ input: RuleInput, _ r: inout ValidationResult) {
        for target in input.contextTargets where target.exists.value == false {
            let place = target.kind == "GatewayClass" ? "in the cluster" : "in namespace \(input.namespace)"
            r.report(
                target.path, "there is no \(target.kind) \(target.name) \(place), so this plugin attaches to nothing",
                hint: "check the name (kubectl get \(target.kind.lowercased()) -n \(input.namespace)), or create the WasmPlugin in the target's namespace")
        }
    }

    /// A Gateway target whose class no Istio controller implements is never an Istio proxy:
    /// the plugin attaches to nothing (pilot only programs classes of `istio.io/` controllers).
    static func gatewayClass(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let cluster = input.cluster else { return }
        for target in input.contextTargets where target.kind == "Gateway" {
            guard let gateway = cluster.gateway(namespace: input.namespace, name: target.name).value else { continue }
            let className = gateway.gatewayClassName
            switch cluster.gatewayClass(className) {
            case .unknown: continue
            case .absent:
                guard !istioClassNames.contains(className) else { continue }
                r.report(
                    target.path, "Gateway \(target.name) has gatewayClassName \(className), a class that does not exist: no Istio proxy serves it",
                    hint: "target a Gateway of an Istio class (istio, istio-waypoint)")
            case .present(let cls):
                guard !cls.controllerName.hasPrefix("istio.io/") else { continue }
                r.report(
                    target.path, "Gateway \(target.name) is of class \(className), run by \(cls.controllerName), not by Istio: the plugin attaches to nothing",
                    hint: "target a Gateway of an Istio class (istio, istio-waypoint), or configure that gateway's own extensions")
            }
        }
    }

    /// A selector (or no targeting: the whole namespace) in an ambient namespace without
    /// sidecars: ztunnel runs no Wasm, waypoints ignore selectors ("Waypoint proxies are
    /// required to use targetRefs"), and with no gateway pods in the namespace nothing
    /// is selected.
    static func selectorInAmbientNamespace(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let cluster = input.cluster, input.namespace != input.settings.rootNamespace,
            input.targetRefs.isEmpty, !TargetingRules.isSet(input.fields.targetRefs),
            let ns = cluster.namespace(input.namespace).value, ns.ambient, !ns.sidecarInjection,
            let gateways = cluster.gateways(inNamespace: input.namespace).value,
            gateways.allSatisfy({ $0.gatewayClassName == TargetingRules.waypointClass })
        else { return }
        let hasSelector = TargetingRules.isSet(input.fields.selector)
        let path = hasSelector ? FieldPath("spec", "selector") : FieldPath("spec")
        let waypoint = ns.waypoint.useWaypoint.flatMap { $0 != "none" && (ns.waypoint.useWaypointNamespace ?? input.namespace) == input.namespace ? $0 : nil }
        r.report(
            path,
            "namespace \(input.namespace) is ambient (istio.io/dataplane-mode: ambient) without sidecars or gateways: \(hasSelector ? "this selector" : "a plugin without targetRefs") reaches no proxy (waypoints ignore selectors)",
            hint: "attach to the waypoint with targetRefs: [\(ref(waypoint ?? "WAYPOINT"))]")
    }
}
