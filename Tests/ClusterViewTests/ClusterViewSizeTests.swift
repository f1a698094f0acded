import AdmissionKit
import CSystem
import ClusterView
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The view's size target: 50,000 Services and 10,000 Namespaces in at most 32 MiB, built
/// through the same path as a live list (pages of JSON decoded with the view's read set).
@Suite struct ClusterViewSizeTests {
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
            let page = try JSONParser.parse(Array(#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[\#(items)]}"#.utf8), reading: ClusterObject.listReadSet)
            out += page["items"]!.arrayValue!.compactMap { ClusterObject($0, as: kind) }
        }
        return out
    }

    static func fill(_ view: LiveClusterView) throws {
        let services = try listed(.service, count: 50_000, service)
        let namespaces = try listed(.namespace, count: 10_000, namespace)
        view.update { store in
            store.replace(.service, with: services)
            store.replace(.namespace, with: namespaces)
        }
    }

    static func heapInUse() -> Int { Int(mallinfo2().uordblks) }

    /// Under ThreadSanitizer or AddressSanitizer malloc is the sanitizer's, and glibc's
    /// counters read 0: there is nothing to measure then.
    static let heapIsMeasurable = heapInUse() > 0

    @Test(.enabled(if: heapIsMeasurable, "glibc malloc counters are not available under a sanitizer"))
    func fiftyThousandServicesAndTenThousandNamespacesFitIn32MiB() throws {
        let view = LiveClusterView()
        let before = Self.heapInUse()
        // In a function of its own, so that the pages and decoded lists are freed before
        // the heap is measured: what stays is the view.
        try Self.fill(view)
        let bytes = Self.heapInUse() - before
        print("cluster view: 50,000 Services + 10,000 Namespaces hold \(bytes) bytes (\(bytes / 1024) KiB) of heap")
        #expect(view.count(.service) == 50_000 && view.count(.namespace) == 10_000)
        #expect(view.service(namespace: "team-10-production", name: "service-10-backend-api").value?.waypoint.useWaypoint == "waypoint")
        #expect(view.namespace("team-9999-production").value?.ambient == true)
        #expect(bytes <= 32 << 20, "\(bytes) bytes")
        // The measurement must see the view at all: more than a few bytes per object.
        #expect(bytes > 60_000 * 16)
    }
}
