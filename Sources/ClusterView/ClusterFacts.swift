/// What the context rules may ask about the cluster: a few facts about the objects a
/// WasmPlugin can attach to, and nothing else. Two things answer it: `ClusterStore`, a
/// plain value (a `check --cluster` dump, a test's snapshot), and the live view that
/// `serve --context-checks` keeps current by list + watch.
///
/// Every answer says whether it is known: a kind the view has not synced (or that a dump
/// does not hold) is `.unknown`, and the rules stay silent on it rather than guess.
public protocol ClusterFacts: Sendable {
    func namespace(_ name: String) -> Known<NamespaceFacts>
    func service(namespace: String, name: String) -> Known<ServiceFacts>
    func serviceEntry(namespace: String, name: String) -> Known<ServiceFacts>
    func gateway(namespace: String, name: String) -> Known<GatewayFacts>
    func gatewayClass(_ name: String) -> Known<GatewayClassFacts>
    /// Every Gateway in `namespace` (empty when there are none; `.unknown` when Gateways
    /// are not known).
    func gateways(inNamespace namespace: String) -> Known<[GatewayFacts]>
}

/// An answer from a view that may not know.
public enum Known<Value: Sendable>: Sendable {
    /// The view does not hold this kind (not synced, or not in the dump).
    case unknown
    /// The kind is known and there is no such object.
    case absent
    case present(Value)

    public var value: Value? {
        if case .present(let v) = self { return v }
        return nil
    }

    public var isKnown: Bool {
        if case .unknown = self { return false }
        return true
    }
}

/// The kinds the view holds, with where the API serves them (newest version first).
public enum ClusterKind: String, CaseIterable, Sendable, Hashable {
    case namespace = "Namespace"
    case service = "Service"
    case serviceEntry = "ServiceEntry"
    case gateway = "Gateway"
    case gatewayClass = "GatewayClass"

    /// API group ("" is the core group).
    public var group: String {
        switch self {
        case .namespace, .service: return ""
        case .serviceEntry: return "networking.istio.io"
        case .gateway, .gatewayClass: return "gateway.networking.k8s.io"
        }
    }

    /// Versions to try, newest first (Gateway API v1 since 1.0; ServiceEntry v1 since Istio 1.22).
    public var versions: [String] {
        switch self {
        case .namespace, .service: return ["v1"]
        case .serviceEntry: return ["v1", "v1beta1"]
        case .gateway, .gatewayClass: return ["v1", "v1beta1"]
        }
    }

    /// The lowercase plural of the REST path.
    public var resource: String {
        switch self {
        case .namespace: return "namespaces"
        case .service: return "services"
        case .serviceEntry: return "serviceentries"
        case .gateway: return "gateways"
        case .gatewayClass: return "gatewayclasses"
        }
    }

    /// The cluster-wide collection path, e.g. `/apis/gateway.networking.k8s.io/v1/gateways`.
    public func collectionPath(version: String) -> String {
        group.isEmpty ? "/api/\(version)/\(resource)" : "/apis/\(group)/\(version)/\(resource)"
    }

    public var isNamespaced: Bool { self != .namespace && self != .gatewayClass }

    /// The kind an object's `apiVersion` and `kind` name, if the view holds it. Istio's own
    /// `networking.istio.io` Gateway is a different kind from the Gateway API's.
    public init?(apiVersion: String, kind: String) {
        let group = apiVersion.split(separator: "/", maxSplits: 1).count == 2 ? String(apiVersion.split(separator: "/")[0]) : ""
        guard let match = ClusterKind(rawValue: kind), match.group == group else { return nil }
        self = match
    }
}

/// `istio.io/use-waypoint` and `istio.io/use-waypoint-namespace`, as set on a Service,
/// ServiceEntry or Namespace.
public struct WaypointLabels: Sendable, Equatable {
    public var useWaypoint: String?
    public var useWaypointNamespace: String?

    public init(useWaypoint: String? = nil, useWaypointNamespace: String? = nil) {
        self.useWaypoint = useWaypoint
        self.useWaypointNamespace = useWaypointNamespace
    }

    public static let useWaypointKey = "istio.io/use-waypoint"
    public static let useWaypointNamespaceKey = "istio.io/use-waypoint-namespace"
}

public struct NamespaceFacts: Sendable, Equatable {
    public var waypoint: WaypointLabels
    /// `istio.io/dataplane-mode: ambient`.
    public var ambient: Bool
    /// `istio-injection: enabled`, or an `istio.io/rev` revision label (without
    /// `istio-injection: disabled`): pods here get sidecars.
    public var sidecarInjection: Bool

    public init(waypoint: WaypointLabels = WaypointLabels(), ambient: Bool = false, sidecarInjection: Bool = false) {
        self.waypoint = waypoint
        self.ambient = ambient
        self.sidecarInjection = sidecarInjection
    }
}

/// A Service or a ServiceEntry: what binds it to a waypoint.
public struct ServiceFacts: Sendable, Equatable {
    public var waypoint: WaypointLabels

    public init(waypoint: WaypointLabels = WaypointLabels()) { self.waypoint = waypoint }
}

public struct GatewayFacts: Sendable, Equatable {
    public var name: String
    public var gatewayClassName: String
    /// `istio.io/waypoint-for` (service, workload, all, none); unset means service.
    public var waypointFor: String?

    public init(name: String, gatewayClassName: String, waypointFor: String? = nil) {
        self.name = name
        self.gatewayClassName = gatewayClassName
        self.waypointFor = waypointFor
    }

    public static let waypointForKey = "istio.io/waypoint-for"
}

public struct GatewayClassFacts: Sendable, Equatable {
    public var controllerName: String

    public init(controllerName: String) { self.controllerName = controllerName }
}
