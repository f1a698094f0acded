import AdmissionKit
import ClusterView
import FuzzSupport

@testable import KubernetesClient

/// What the API server sends the cluster view, on arbitrary bytes: the first byte picks
/// the kind; the rest is a list page (first byte even) or watch-event lines (odd), applied
/// to a live view as the reflector does. Oracles: no crash; an ADDED event that decodes is
/// then found in the view, a DELETED one no longer is.
struct NoObserver: ClusterWatchObserver {
    func listed(_ kind: ClusterKind, objects: Int, relist: Bool, reason: String?) {}
    func progressed(_ kind: ClusterKind) {}
    func watchFailed(_ kind: ClusterKind, _ message: String, retryIn: Double) {}
    func healthChanged(_ kind: ClusterKind, healthy: Bool, message: String) {}
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWatch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let kind = ClusterKind.allCases[Int(bytes[0] >> 1) % ClusterKind.allCases.count]
    let view = LiveClusterView()
    view.update { $0.replace(kind, with: []) }
    if bytes[0] & 1 == 0 {
        guard let page = try? JSONParser.parse(Array(bytes.dropFirst()), reading: ClusterObject.listReadSet, maxValues: 50_000) else { return 0 }
        let objects = page["items"]?.arrayValue?.compactMap { ClusterObject($0, as: kind) } ?? []
        view.update { $0.replace(kind, with: objects) }
        require(view.count(kind) <= objects.count, "a list stored more objects than it held")
        return 0
    }
    let reflector = Reflector(
        kind: kind, client: APIClient(credentials: .inCluster(directory: "/nonexistent")), view: view, observer: NoObserver(),
        settings: WatchSettings(), stop: StopSignal())
    for line in bytes.dropFirst().split(separator: 0x0A) {
        let outcome = reflector.apply(Array(line))
        guard case .applied = outcome,
            let event = try? JSONParser.parse(Array(line), reading: ClusterObject.eventReadSet),
            let object = event["object"].flatMap({ ClusterObject($0, as: kind) })
        else { continue }
        let found = present(view, object)
        switch event["type"]?.stringValue {
        case "ADDED", "MODIFIED": require(found, "an applied \(kind) event is not in the view")
        case "DELETED": require(!found, "a deleted \(kind) is still in the view")
        default: break
        }
    }
    return 0
}

private func present(_ view: LiveClusterView, _ o: ClusterObject) -> Bool {
    switch o.kind {
    case .namespace: return view.namespace(o.name).value != nil
    case .service: return view.service(namespace: o.namespace, name: o.name).value != nil
    case .serviceEntry: return view.serviceEntry(namespace: o.namespace, name: o.name).value != nil
    case .gateway: return view.gateway(namespace: o.namespace, name: o.name).value != nil
    case .gatewayClass: return view.gatewayClass(o.name).value != nil
    }
}

@_cdecl("FuzzWatch_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzWatch)
}
