import AdmissionKit
import ClusterView
import Testing

@testable import WasmPluginPolicy

/// A context rule case: a plugin spec in a namespace, a snapshot of the cluster around
/// it, and exactly the findings it must get (as in `RuleTableTests`).
struct ContextCase: CustomTestStringConvertible, Sendable {
    var name: String
    var view: ClusterStore
    var spec: String
    var namespace = "app-ns"
    var errors: [String] = []
    var warnings: [String] = []
    var testDescription: String { name }
}

/// Snapshot views, written as the API objects a dump would hold.
enum Snapshot {
    static func labels(_ labels: [String: String]) -> String {
        labels.isEmpty ? "" : #","labels":"# + JSON.object(JSONObject(labels.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })).compactText
    }
    static func namespace(_ name: String, _ l: [String: String] = [:]) -> String {
        #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(name)"\#(labels(l))}}"#
    }
    static func service(_ ns: String, _ name: String, _ l: [String: String] = [:]) -> String {
        #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)","namespace":"\#(ns)"\#(labels(l))},"spec":{"ports":[{"port":80}]}}"#
    }
    static func serviceEntry(_ ns: String, _ name: String, _ l: [String: String] = [:]) -> String {
        #"{"apiVersion":"networking.istio.io/v1","kind":"ServiceEntry","metadata":{"name":"\#(name)","namespace":"\#(ns)"\#(labels(l))},"spec":{"hosts":["example.com"]}}"#
    }
    static func gateway(_ ns: String, _ name: String, className: String, _ l: [String: String] = [:]) -> String {
        #"{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"\#(name)","namespace":"\#(ns)"\#(labels(l))},"spec":{"gatewayClassName":"\#(className)","listeners":[]}}"#
    }
    static func gatewayClass(_ name: String, controller: String) -> String {
        #"{"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayClass","metadata":{"name":"\#(name)"},"spec":{"controllerName":"\#(controller)"}}"#
    }
    static func view(_ objects: [String]) -> ClusterStore {
        ClusterStore(dump: objects.map { try! JSONParser.parse($0) })
    }

    static let ambient = ["istio.io/dataplane-mode": "ambient"]
    static let classes = [
        gatewayClass("istio", controller: "istio.io/gateway-controller"), gatewayClass("istio-waypoint", controller: "istio.io/mesh-controller"),
        gatewayClass("nginx", controller: "gateway.nginx.org/nginx-gateway-controller"),
    ]
    /// The cluster of istio#60530, and of its fix: app-ns and gw-ns are ambient, each with
    /// a waypoint; services bind to one by label.
    static func cluster(service: [String: String] = [:], appNamespace: [String: String] = [:], more: [String] = []) -> ClusterStore {
        view(
            classes + [
                namespace("app-ns", ambient.merging(appNamespace) { $1 }), namespace("gw-ns", ambient), namespace("istio-system"),
                gateway("gw-ns", "waypoint", className: "istio-waypoint", ["istio.io/waypoint-for": "service"]),
                gateway("app-ns", "waypoint", className: "istio-waypoint"),
                Snapshot.service("app-ns", "my-app", service),
            ] + more)
    }
}

func serviceRef(_ name: String, kind: String = "Service", group: String = "") -> String {
    #"[{"group":"\#(group)","kind":"\#(kind)","name":"\#(name)"}]"#
}

@Suite struct ContextRuleTests {
    static let crossNamespace = ["istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "gw-ns"]
    static let sameNamespace = ["istio.io/use-waypoint": "waypoint"]
    static let myApp = spec(targetRefs: serviceRef("my-app"))

    static let cases: [ContextCase] = [
        // istio#60530 and its fixes.
        ContextCase(name: "seed: Service bound to the waypoint of its own namespace: admitted, no warnings", view: Snapshot.cluster(service: sameNamespace), spec: myApp),
        ContextCase(name: "seed via the Namespace's labels: no warnings", view: Snapshot.cluster(appNamespace: sameNamespace), spec: myApp),
        ContextCase(name: "fix of #60530: plugin in the waypoint's namespace targets the waypoint Gateway", view: Snapshot.cluster(service: crossNamespace), spec: spec(targetRefs: serviceRef("waypoint", kind: "Gateway", group: "gateway.networking.k8s.io")), namespace: "gw-ns"),
        ContextCase(name: "#60530: Service bound to a waypoint in another namespace is denied", view: Snapshot.cluster(service: crossNamespace), spec: myApp, errors: ["context-waypoint-other-namespace Forbidden spec.targetRefs[0]"]),
        ContextCase(name: "#60530 through the Namespace's labels is denied", view: Snapshot.cluster(appNamespace: crossNamespace), spec: myApp, errors: ["context-waypoint-other-namespace Forbidden spec.targetRefs[0]"]),
        ContextCase(name: "the Service's own label wins over its Namespace's", view: Snapshot.cluster(service: sameNamespace, appNamespace: crossNamespace), spec: myApp),
        ContextCase(name: "ServiceEntry bound across namespaces is denied too", view: Snapshot.cluster(more: [Snapshot.serviceEntry("app-ns", "ext", crossNamespace)]), spec: spec(targetRefs: serviceRef("ext", kind: "ServiceEntry", group: "networking.istio.io")), errors: ["context-waypoint-other-namespace Forbidden spec.targetRefs[0]"]),
        // istio#51014.
        ContextCase(name: "#51014: Service bound to no waypoint warns", view: Snapshot.cluster(), spec: myApp, warnings: ["context-service-unbound spec.targetRefs[0]"]),
        ContextCase(name: "use-waypoint: none on the Service opts out, even of its Namespace's cross-namespace waypoint", view: Snapshot.cluster(service: ["istio.io/use-waypoint": "none"], appNamespace: crossNamespace), spec: myApp, warnings: ["context-service-unbound spec.targetRefs[0]"]),
        // istio#59337.
        ContextCase(name: "#59337: ServiceEntry target meant for the ingress gateway warns", view: Snapshot.cluster(more: [Snapshot.serviceEntry("istio-system", "external-domain")]), spec: spec(targetRefs: serviceRef("external-domain", kind: "ServiceEntry", group: "networking.istio.io")), namespace: "istio-system", warnings: ["context-serviceentry-unbound spec.targetRefs[0]"]),
        ContextCase(name: "ServiceEntry bound to a waypoint of its namespace: no warnings", view: Snapshot.cluster(more: [Snapshot.serviceEntry("app-ns", "ext", sameNamespace)]), spec: spec(targetRefs: serviceRef("ext", kind: "ServiceEntry", group: "networking.istio.io"))),
        // The waypoint a binding names.
        ContextCase(name: "binding to a waypoint that does not exist warns", view: Snapshot.cluster(service: ["istio.io/use-waypoint": "gone"]), spec: myApp, warnings: ["context-waypoint-unusable spec.targetRefs[0]"]),
        ContextCase(name: "binding to a Gateway that is no waypoint warns", view: Snapshot.cluster(service: ["istio.io/use-waypoint": "ingress"], more: [Snapshot.gateway("app-ns", "ingress", className: "istio")]), spec: myApp, warnings: ["context-waypoint-unusable spec.targetRefs[0]"]),
        ContextCase(name: "binding to a workload-only waypoint warns", view: Snapshot.cluster(service: ["istio.io/use-waypoint": "wl"], more: [Snapshot.gateway("app-ns", "wl", className: "istio-waypoint", ["istio.io/waypoint-for": "workload"])]), spec: myApp, warnings: ["context-waypoint-unusable spec.targetRefs[0]"]),
        ContextCase(name: "binding to a waypoint for all traffic: no warnings", view: Snapshot.cluster(service: ["istio.io/use-waypoint": "all"], more: [Snapshot.gateway("app-ns", "all", className: "istio-waypoint", ["istio.io/waypoint-for": "all"])]), spec: myApp),
        // Targets that are not there.
        ContextCase(name: "Service that does not exist warns (and no waypoint-only guess)", view: Snapshot.cluster(), spec: spec(targetRefs: serviceRef("ghost")), warnings: ["context-target-missing spec.targetRefs[0]"]),
        ContextCase(name: "Gateway that does not exist warns", view: Snapshot.cluster(), spec: spec(targetRefs: serviceRef("bookinfo-gateway", kind: "Gateway", group: "gateway.networking.k8s.io")), warnings: ["context-target-missing spec.targetRefs[0]"]),
        ContextCase(name: "Gateway of Istio's class: no warnings", view: Snapshot.cluster(more: [Snapshot.gateway("app-ns", "bookinfo-gateway", className: "istio")]), spec: spec(targetRefs: serviceRef("bookinfo-gateway", kind: "Gateway", group: "gateway.networking.k8s.io"))),
        ContextCase(name: "Gateway of another controller's class warns", view: Snapshot.cluster(more: [Snapshot.gateway("app-ns", "edge", className: "nginx")]), spec: spec(targetRefs: serviceRef("edge", kind: "Gateway", group: "gateway.networking.k8s.io")), warnings: ["context-gateway-class spec.targetRefs[0]"]),
        ContextCase(name: "Gateway of a class that does not exist warns", view: Snapshot.cluster(more: [Snapshot.gateway("app-ns", "edge", className: "typo")]), spec: spec(targetRefs: serviceRef("edge", kind: "Gateway", group: "gateway.networking.k8s.io")), warnings: ["context-gateway-class spec.targetRefs[0]"]),
        ContextCase(name: "GatewayClass istio-waypoint from the root namespace, present: no warnings", view: Snapshot.cluster(), spec: spec(targetRefs: serviceRef("istio-waypoint", kind: "GatewayClass", group: "gateway.networking.k8s.io")), namespace: "istio-system"),
        ContextCase(name: "GatewayClass that does not exist warns", view: Snapshot.view([Snapshot.gatewayClass("istio", controller: "istio.io/gateway-controller")]), spec: spec(targetRefs: serviceRef("istio-waypoint", kind: "GatewayClass", group: "gateway.networking.k8s.io")), namespace: "istio-system", warnings: ["context-target-missing spec.targetRefs[0]"]),
        // Selectors in ambient namespaces.
        ContextCase(name: "selector in an ambient namespace without sidecars warns", view: Snapshot.cluster(), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"app":"my-app"}}"#), warnings: ["context-selector-ambient spec.selector"]),
        ContextCase(name: "no targeting in an ambient namespace warns on spec", view: Snapshot.cluster(), spec: spec(targetRefs: nil), warnings: ["context-selector-ambient spec"]),
        ContextCase(name: "selector where sidecars are injected: no warnings", view: Snapshot.cluster(appNamespace: ["istio-injection": "enabled"]), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"app":"my-app"}}"#)),
        ContextCase(name: "selector in an ambient namespace with a gateway's pods: no warnings", view: Snapshot.cluster(more: [Snapshot.gateway("app-ns", "ingress", className: "istio")]), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"istio.io/gateway-name":"ingress"}}"#)),
        ContextCase(name: "selector in a sidecar namespace: no warnings", view: Snapshot.cluster(more: [Snapshot.namespace("legacy", ["istio-injection": "enabled"])]), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"app":"x"}}"#), namespace: "legacy"),
        // The view confirms or drops the static guesses.
        ContextCase(name: "selector naming a gateway that is no waypoint: the static warning is dropped", view: Snapshot.cluster(appNamespace: ["istio-injection": "enabled"], more: [Snapshot.gateway("app-ns", "gw", className: "istio")]), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"gateway.networking.k8s.io/gateway-name":"gw"}}"#)),
        ContextCase(name: "selector naming a waypoint keeps the static warning", view: Snapshot.cluster(appNamespace: ["istio-injection": "enabled"]), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"gateway.networking.k8s.io/gateway-name":"waypoint"}}"#), warnings: ["selector-gateway-pods spec.selector.matchLabels[gateway.networking.k8s.io/gateway-name]"]),
        // Unknown facts: silence, and the static rules as without a view.
        ContextCase(name: "a view without Services keeps the static waypoint-only warning and adds nothing", view: Snapshot.view(Snapshot.classes), spec: myApp, warnings: ["targetref-waypoint-only spec.targetRefs[0]"]),
        ContextCase(name: "a view without Gateways says nothing of a Gateway target", view: Snapshot.view([Snapshot.namespace("app-ns")]), spec: spec(targetRefs: serviceRef("nope", kind: "Gateway", group: "gateway.networking.k8s.io"))),
        ContextCase(name: "a view without the Service's Namespace cannot tell its binding", view: Snapshot.view([Snapshot.service("app-ns", "my-app")]), spec: myApp, warnings: ["targetref-waypoint-only spec.targetRefs[0]"]),
        ContextCase(name: "a view without Gateways says nothing of selectors in ambient namespaces", view: Snapshot.view([Snapshot.namespace("app-ns", Snapshot.ambient)]), spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"app":"x"}}"#)),
    ]

    @Test(arguments: cases)
    func checksContextRule(_ c: ContextCase) throws {
        let result = try validate(c.spec, namespace: c.namespace, cluster: c.view)
        let errors = result.errors.map { "\($0.rule) \($0.kind.rawValue.dropFirst("FieldValue".count)) \($0.path)" }
        let warnings = result.warnings.map { "\($0.rule) \($0.path)" }
        #expect(errors.sorted() == c.errors.sorted(), "errors: \(result.errors)")
        #expect(warnings.sorted() == c.warnings.sorted(), "warnings: \(result.warnings)")
        // Without a view the same spec gets none of the context findings.
        let plain = try validate(c.spec, namespace: c.namespace)
        #expect((plain.errors.map(\.rule) + plain.warnings.map(\.rule)).allSatisfy { !$0.hasPrefix("context-") })
    }

    /// Every message says what to write instead.
    @Test func messagesSayWhatToWrite() throws {
        let result = try validate(Self.myApp, namespace: "app-ns", cluster: Snapshot.cluster(service: Self.crossNamespace))
        let error = try #require(result.errors.first)
        #expect(error.description.contains("gw-ns/waypoint"))
        #expect(error.description.contains("create the WasmPlugin in namespace gw-ns with targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]"))
    }

    /// The policy moves context rules like any other: #60530 to warn, #51014 to deny.
    @Test func policySetsContextVerdicts() throws {
        let settings = try PolicySettings(json: ["rules": ["context-waypoint-other-namespace": "warn", "context-service-unbound": "deny"]])
        let cross = try validate(Self.myApp, namespace: "app-ns", settings: settings, cluster: Snapshot.cluster(service: Self.crossNamespace))
        #expect(cross.errors.isEmpty)
        #expect(cross.warnings.map(\.rule) == ["context-waypoint-other-namespace"])
        let unbound = try validate(Self.myApp, namespace: "app-ns", settings: settings, cluster: Snapshot.cluster())
        #expect(unbound.errors.map(\.rule) == ["context-service-unbound"])
    }

    /// Istio's Gateway (networking.istio.io) is not the Gateway API's: a dump holding only
    /// the former knows no Gateway API Gateways.
    @Test func istioGatewayIsNotAGatewayAPIGateway() throws {
        let view = Snapshot.view([#"{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"gw","namespace":"app-ns"},"spec":{}}"#])
        #expect(!view.gateway(namespace: "app-ns", name: "gw").isKnown)
    }
}
