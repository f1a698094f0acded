import AdmissionKit

/// One API object reduced to what the view keeps: its kind, namespace, name and the
/// facts the rules read. Everything else (specs, status, managedFields) is dropped at
/// decode time, which is what keeps 50,000 Services in a few MiB.
public struct ClusterObject: Sendable, Equatable {
    public enum Facts: Sendable, Equatable {
        case namespace(NamespaceFacts)
        case service(ServiceFacts)
        case serviceEntry(ServiceFacts)
        case gateway(GatewayFacts)
        case gatewayClass(GatewayClassFacts)

        // The payload when the facts are of that kind.
        var namespace: NamespaceFacts? { if case .namespace(let f) = self { f } else { nil } }
        var service: ServiceFacts? { if case .service(let f) = self { f } else { nil } }
        var serviceEntry: ServiceFacts? { if case .serviceEntry(let f) = self { f } else { nil } }
        var gateway: GatewayFacts? { if case .gateway(let f) = self { f } else { nil } }
        var gatewayClass: GatewayClassFacts? { if case .gatewayClass(let f) = self { f } else { nil } }
    }

    public var kind: ClusterKind
    /// "" for cluster-scoped kinds.
    public var namespace: String
    public var name: String
    public var facts: Facts

    public init(kind: ClusterKind, namespace: String, name: String, facts: Facts) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.facts = facts
    }

    /// The parts of an object (or of each `items` element) the decoder reads; the JSON
    /// parser checks the rest for syntax and builds none of it.
    public static let readSet: JSONReadSet = .members(
        [
            ("apiVersion", .all), ("kind", .all),
            (
                "metadata",
                .members([("name", .all), ("namespace", .all), ("labels", .all), ("resourceVersion", .all)], others: .none)
            ),
            ("spec", .members([("gatewayClassName", .all), ("controllerName", .all)], others: .none)),
        ], others: .none)

    /// A list response (`{"metadata":{"resourceVersion","continue"},"items":[…]}`) or a
    /// `kind: List` dump: the items read with `readSet`.
    public static let listReadSet: JSONReadSet = .members(
        [("apiVersion", .all), ("kind", .all), ("metadata", .all), ("items", readSet)], others: .none)

    /// A dump file in JSON: one object, or a `kind: List` of them.
    public static let dumpReadSet: JSONReadSet = .members(
        [
            ("apiVersion", .all), ("kind", .all), ("metadata", readSet.member("metadata")), ("spec", readSet.member("spec")),
            ("items", readSet),
        ], others: .none)

    /// A watch event: `{"type": …, "object": …}`. The object of an ERROR event is a
    /// metav1.Status, whose `code` (410) and `message` the watcher reads.
    public static let eventReadSet: JSONReadSet = .members(
        [
            ("type", .all),
            (
                "object",
                .members(
                    [
                        ("apiVersion", .all), ("kind", .all), ("metadata", readSet.member("metadata")), ("spec", readSet.member("spec")),
                        ("code", .all), ("message", .all), ("reason", .all),
                    ], others: .none)
            ),
        ], others: .none)

    /// Decodes `object` as `kind` (list items from the API carry no kind of their own).
    /// Nil when it has no name, or a namespaced kind has no namespace.
    public init?(_ object: JSON, as kind: ClusterKind) {
        guard let metadata = object["metadata"]?.objectValue, let name = metadata["name"]?.stringValue, !name.isEmpty else {
            return nil
        }
        let namespace = kind.isNamespaced ? (metadata["namespace"]?.stringValue ?? "") : ""
        if kind.isNamespaced && namespace.isEmpty { return nil }
        let labels = metadata["labels"]?.objectValue
        func label(_ key: String) -> String? { labels?[key]?.stringValue }
        let waypoint = WaypointLabels(
            useWaypoint: label(WaypointLabels.useWaypointKey), useWaypointNamespace: label(WaypointLabels.useWaypointNamespaceKey))
        let spec = object["spec"]
        switch kind {
        case .namespace:
            let injection = label("istio-injection")
            let sidecars = injection == "enabled" || (injection != "disabled" && label("istio.io/rev") != nil)
            facts = .namespace(NamespaceFacts(waypoint: waypoint, ambient: label("istio.io/dataplane-mode") == "ambient", sidecarInjection: sidecars))
        case .service: facts = .service(ServiceFacts(waypoint: waypoint))
        case .serviceEntry: facts = .serviceEntry(ServiceFacts(waypoint: waypoint))
        case .gateway:
            facts = .gateway(
                GatewayFacts(
                    name: name, gatewayClassName: spec?["gatewayClassName"]?.stringValue ?? "", waypointFor: label(GatewayFacts.waypointForKey)))
        case .gatewayClass:
            facts = .gatewayClass(GatewayClassFacts(controllerName: spec?["controllerName"]?.stringValue ?? ""))
        }
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// Decodes a manifest object by its own `apiVersion` and `kind`; nil for kinds the view
    /// does not hold.
    public init?(_ object: JSON) {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kindName = object["kind"]?.stringValue,
            let kind = ClusterKind(apiVersion: apiVersion, kind: kindName)
        else { return nil }
        self.init(object, as: kind)
    }
}
