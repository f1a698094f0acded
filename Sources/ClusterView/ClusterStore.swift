import AdmissionKit

/// The view as a plain value: per kind, the objects by namespace and name, and which kinds
/// are known. A `check --cluster` dump and the rule tests use it directly; the live view
/// keeps one behind a lock and applies list and watch results to it.
public struct ClusterStore: ClusterFacts {
    /// Nested by namespace so that each namespace's name is stored once, not once per object.
    private var objects: [ClusterKind: [String: [String: ClusterObject.Facts]]] = [:]
    /// Objects per kind, kept as they change: the metrics read it after every watch event,
    /// under the view's lock, and summing 10,000 namespaces each time would be O(n).
    private var counts: [ClusterKind: Int] = [:]
    /// Kinds whose contents are complete (listed, or present in a dump).
    public private(set) var knownKinds: Set<ClusterKind> = []

    public init() {}

    /// A dump's objects (documents of any kind; `kind: List` items are read too). A kind
    /// is known when the dump holds at least one object of it: a dump without Gateways is
    /// read as one that did not ask for them, not as a cluster without any.
    public init(dump documents: [JSON]) {
        for document in documents {
            if document["kind"]?.stringValue == "List", let items = document["items"]?.arrayValue {
                for item in items { if let object = ClusterObject(item) { insert(object) } }
            } else if let object = ClusterObject(document) {
                insert(object)
            }
        }
        knownKinds = Set(objects.keys)
    }

    /// Objects of `kind`.
    public func count(_ kind: ClusterKind) -> Int { counts[kind] ?? 0 }

    // MARK: Changes (list and watch)

    public mutating func insert(_ object: ClusterObject) {
        if objects[object.kind, default: [:]][object.namespace, default: [:]].updateValue(object.facts, forKey: object.name) == nil {
            counts[object.kind, default: 0] += 1
        }
    }

    public mutating func remove(_ kind: ClusterKind, namespace: String, name: String) {
        guard objects[kind]?[namespace]?.removeValue(forKey: name) != nil else { return }
        counts[kind, default: 0] -= 1
        if objects[kind]?[namespace]?.isEmpty == true { objects[kind]?[namespace] = nil }
    }

    /// A fresh list: the kind's contents replaced, and the kind known from now on.
    public mutating func replace(_ kind: ClusterKind, with list: [ClusterObject]) {
        objects[kind] = [:]
        counts[kind] = 0
        for object in list where object.kind == kind { insert(object) }
        knownKinds.insert(kind)
    }

    // MARK: ClusterFacts

    private func lookup<T>(_ kind: ClusterKind, _ namespace: String, _ name: String, _ facts: KeyPath<ClusterObject.Facts, T?>) -> Known<T> {
        guard knownKinds.contains(kind) else { return .unknown }
        return objects[kind]?[namespace]?[name]?[keyPath: facts].map { .present($0) } ?? .absent
    }

    public func namespace(_ name: String) -> Known<NamespaceFacts> { lookup(.namespace, "", name, \.namespace) }
    public func service(namespace: String, name: String) -> Known<ServiceFacts> { lookup(.service, namespace, name, \.service) }
    public func serviceEntry(namespace: String, name: String) -> Known<ServiceFacts> {
        lookup(.serviceEntry, namespace, name, \.serviceEntry)
    }
    public func gateway(namespace: String, name: String) -> Known<GatewayFacts> { lookup(.gateway, namespace, name, \.gateway) }
    public func gatewayClass(_ name: String) -> Known<GatewayClassFacts> { lookup(.gatewayClass, "", name, \.gatewayClass) }

    public func gateways(inNamespace namespace: String) -> Known<[GatewayFacts]> {
        guard knownKinds.contains(.gateway) else { return .unknown }
        return .present(objects[.gateway]?[namespace]?.values.compactMap(\.gateway) ?? [])
    }
}
