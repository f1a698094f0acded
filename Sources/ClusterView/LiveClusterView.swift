import Platform

/// The view `serve --context-checks` keeps: a `ClusterStore` behind a lock, written by
/// the watch threads, read by every review. A review never waits for the network: it
/// reads whatever the store holds (a kind not yet synced answers `.unknown`).
///
/// Reads lock per lookup (a review makes a handful) instead of copying snapshots: with
/// 50,000 Services a copy per watch event would cost more than all the lookups.
public final class LiveClusterView: ClusterFacts, Sendable {
    private let store = Locked(ClusterStore())

    public init() {}

    /// Applies a change (list result, watch event) under the lock.
    public func update<T>(_ body: (inout ClusterStore) -> T) -> T {
        store.withLock { body(&$0) }
    }

    public var knownKinds: Set<ClusterKind> { store.withLock { $0.knownKinds } }

    public func count(_ kind: ClusterKind) -> Int { store.withLock { $0.count(kind) } }

    public func namespace(_ name: String) -> Known<NamespaceFacts> { store.withLock { $0.namespace(name) } }
    public func service(namespace: String, name: String) -> Known<ServiceFacts> {
        store.withLock { $0.service(namespace: namespace, name: name) }
    }
    public func serviceEntry(namespace: String, name: String) -> Known<ServiceFacts> {
        store.withLock { $0.serviceEntry(namespace: namespace, name: name) }
    }
    public func gateway(namespace: String, name: String) -> Known<GatewayFacts> {
        store.withLock { $0.gateway(namespace: namespace, name: name) }
    }
    public func gatewayClass(_ name: String) -> Known<GatewayClassFacts> { store.withLock { $0.gatewayClass(name) } }
    public func gateways(inNamespace namespace: String) -> Known<[GatewayFacts]> {
        store.withLock { $0.gateways(inNamespace: namespace) }
    }
}
