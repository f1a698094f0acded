import ClusterView
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// Keeps a `LiveClusterView` current: one reflector thread per kind (five blocking
/// libcurl transfers; the event loops never touch the network).
public final class ClusterWatcher: Sendable {
    public let view: LiveClusterView
    private let reflectors: [Reflector]
    private let stopSignal = StopSignal()
    private let threads = Locked<[pthread_t]>([])

    public init(
        credentials: CredentialSource, view: LiveClusterView, observer: any ClusterWatchObserver,
        settings: WatchSettings = WatchSettings(), kinds: [ClusterKind] = ClusterKind.allCases
    ) {
        self.view = view
        let client = APIClient(credentials: credentials)
        let stop = stopSignal
        reflectors = kinds.map { Reflector(kind: $0, client: client, view: view, observer: observer, settings: settings, stop: stop) }
    }

    public func start() {
        for reflector in reflectors {
            if let thread = startThread({ reflector.run() }) {
                threads.withLock { $0.append(thread) }
            }
        }
    }

    /// Ends every transfer and waits for the threads (within a transfer's progress tick).
    public func stop() {
        stopSignal.stop()
        for thread in threads.withLock({ list in defer { list.removeAll() }; return list }) { pthread_join(thread, nil) }
    }

    /// Every watched kind has been listed at least once.
    public var isSynced: Bool { view.knownKinds.isSuperset(of: reflectors.map(\.kind)) }

    /// The kinds not listed yet.
    public var unsyncedKinds: [ClusterKind] {
        let known = view.knownKinds
        return reflectors.map(\.kind).filter { !known.contains($0) }
    }
}
