import AdmissionKit
import CSystem
import ClusterView

/// `admission-bench --view-size`: the heap a live cluster view holds for 50,000 Services
/// and 10,000 Namespaces, built through the same path as a list (pages of 500 decoded with
/// the view's read set). A process of its own, because glibc's counters are process-wide.
enum ViewSize {
    /// A Service as the API returns it in a list: labels, annotations, managedFields, spec
    /// and status, of which the view keeps only the name, namespace and waypoint labels.
    static func service(_ i: Int) -> String {
        let waypoint = i % 10 == 0 ? #","istio.io/use-waypoint":"waypoint""# : ""
        return #"""
            {"metadata":{"name":"service-\#(i)-backend-api","namespace":"team-\#(i % 10_000)-production","uid":"6f1c2a9e-\#(i)","resourceVersion":"\#(1_000_000 + i)","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"service-\#(i)","version":"v1"\#(waypoint)},"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Service\"}"},"managedFields":[{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{}}}}]},"spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"service-\#(i)"},"clusterIP":"10.96.\#(i / 256 % 256).\#(i % 256)","type":"ClusterIP"},"status":{"loadBalancer":{}}}
            """#
    }

    static func namespace(_ i: Int) -> String {
        #"{"metadata":{"name":"team-\#(i)-production","uid":"ns-\#(i)","resourceVersion":"\#(i)","labels":{"kubernetes.io/metadata.name":"team-\#(i)-production","istio.io/dataplane-mode":"ambient"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#
    }

    /// Decodes `count` objects in pages of 500, as the reflector does.
    static func listed(_ kind: ClusterKind, count: Int, _ object: (Int) -> String) throws -> [ClusterObject] {
        var out: [ClusterObject] = []
        out.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: 500) {
            let items = (start..<min(start + 500, count)).map(object).joined(separator: ",")
            let page = try JSONParser.parse(
                Array(#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[\#(items)]}"#.utf8),
                reading: ClusterObject.listReadSet)
            out += page["items"]?.arrayValue?.compactMap { ClusterObject($0, as: kind) } ?? []
        }
        return out
    }

    /// In a function of its own, so that the pages and decoded lists are freed before the
    /// heap is measured: what stays is the view.
    static func fill(_ view: LiveClusterView, services: Int, namespaces: Int) throws {
        let s = try listed(.service, count: services, service)
        let n = try listed(.namespace, count: namespaces, namespace)
        view.update { store in
            store.replace(.service, with: s)
            store.replace(.namespace, with: n)
        }
    }

    static func heapInUse() -> Int { Int(mallinfo2().uordblks) }

    /// Prints `view-size BYTES services=N namespaces=M` (BYTES is 0 under a sanitizer,
    /// whose malloc glibc's counters do not see).
    static func run() throws {
        let view = LiveClusterView()
        let before = heapInUse()
        try fill(view, services: 50_000, namespaces: 10_000)
        let bytes = heapInUse() - before
        print("view-size \(bytes) services=\(view.count(.service)) namespaces=\(view.count(.namespace))")
        // The view must be alive when measured.
        if view.service(namespace: "team-10-production", name: "service-10-backend-api").value?.waypoint.useWaypoint != "waypoint" {
            print("view-size: the view lost a Service")
        }
    }
}
