import AdmissionKit
import ClusterView
import Testing

@testable import WasmPluginPolicy

/// One rule case: a spec and exactly the findings it must get: errors as
/// `rule Reason field` (Reason is the API's causes[].reason without "FieldValue"),
/// warnings as `rule field`.
struct RuleCase: CustomTestStringConvertible, Sendable {
    var name: String
    var spec: String
    var errors: [String] = []
    var warnings: [String] = []
    var namespace = "default"
    var testDescription: String { name }
}

let seedURL = "oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"
let gatewayRef = #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"bookinfo-gateway"}]"#
let goodRule = #"{"prefix":"/productpage","request_methods":["GET","POST"],"credentials":["ok:test","YWRtaW4zOmFkbWluMw=="]}"#

func spec(url: String = seedURL, targetRefs: String? = gatewayRef, phase: String? = "AUTHN", config: String? = #"{"basic_auth_rules":[\#(goodRule)]}"#, extra: String = "") -> String {
    var parts = [#""url":\#(JSON.string(url).compactText)"#]
    if let targetRefs { parts.append(#""targetRefs":\#(targetRefs)"#) }
    if let phase { parts.append(#""phase":"\#(phase)""#) }
    if let config { parts.append(#""pluginConfig":\#(config)"#) }
    if !extra.isEmpty { parts.append(extra) }
    return "{" + parts.joined(separator: ",") + "}"
}

func rule(_ body: String) -> String { #"{"basic_auth_rules":[\#(body)]}"# }

func validate(
    _ specText: String, namespace: String = "default", settings: PolicySettings = PolicySettings(), cluster: ClusterStore? = nil
) throws -> ValidationResult {
    let object = try JSONParser.parse(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"p","namespace":"\#(namespace)"},"spec":\#(specText)}"#)
    return WasmPluginValidator(settings: settings, cluster: cluster).validate(object: object, namespace: namespace)
}

@Suite struct RuleTableTests {
    static let cases: [RuleCase] = [
        // The seed and plain valid shapes.
        RuleCase(name: "seed plugin is valid", spec: spec()),
        RuleCase(name: "https with sha256", spec: spec(url: "https://example.com/p.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "a", count: 64))""#)),
        RuleCase(name: "file url", spec: spec(url: "file:///opt/filters/p.wasm", config: nil)),
        // Targeting.
        RuleCase(name: "selector and targetRefs", spec: spec(extra: #""selector":{"matchLabels":{"istio":"ingressgateway"}}"#), errors: ["targeting-one-of Invalid spec"]),
        RuleCase(name: "selector and empty targetRefs (CEL counts has())", spec: spec(targetRefs: "[]", extra: #""selector":{"matchLabels":{"a":"b"}}"#), errors: ["targeting-one-of Invalid spec"]),
        RuleCase(name: "selector alone is right for sidecars and gateways: no warning", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"istio":"ingressgateway"}}"#)),
        RuleCase(name: "selector naming a Gateway API gateway warns (waypoints ignore it)", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"gateway.networking.k8s.io/gateway-name":"gw"}}"#), warnings: ["selector-gateway-pods spec.selector.matchLabels[gateway.networking.k8s.io/gateway-name]"]),
        RuleCase(name: "gateway selector in the root namespace warns about its reach", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"istio.io/gateway-name":"gw"}}"#), warnings: ["selector-gateway-pods spec.selector.matchLabels[istio.io/gateway-name]"], namespace: "istio-system"),
        RuleCase(name: "targetRef name that no Gateway can have", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"Bookinfo_Gateway"}]"#), errors: ["targetref-name Invalid spec.targetRefs[0].name"]),
        RuleCase(name: "Gateway name may start with a digit", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"1gw.example"}]"#)),
        RuleCase(name: "Service name must be a DNS-1035 label", spec: spec(targetRefs: #"[{"group":"","kind":"Service","name":"1svc"},{"group":"","kind":"Service","name":"a.b"}]"#), errors: ["targetref-name Invalid spec.targetRefs[0].name", "targetref-name Invalid spec.targetRefs[1].name"], warnings: ["targetref-waypoint-only spec.targetRefs[0]", "targetref-waypoint-only spec.targetRefs[1]"]),
        RuleCase(name: "empty selector warns", spec: spec(targetRefs: nil, extra: #""selector":{}"#), warnings: ["selector-empty spec.selector"]),
        RuleCase(name: "selector wildcard key and value", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a*":"b","c":"d*"}}"#), errors: ["selector-labels Invalid spec.selector.matchLabels.c", "selector-labels Invalid spec.selector.matchLabels[a*]"]),
        RuleCase(name: "selector empty key", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"":"b"}}"#), errors: ["selector-labels Invalid spec.selector.matchLabels[]"]),
        RuleCase(name: "selector value too long", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a":"\#(String(repeating: "x", count: 64))"}}"#), errors: ["selector-labels TooLong spec.selector.matchLabels.a"]),
        RuleCase(name: "selector value not a string", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a":1}}"#), errors: ["field-type TypeInvalid spec.selector.matchLabels.a"]),
        RuleCase(name: "deprecated targetRef warns", spec: spec(targetRefs: nil, extra: #""targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g"}"#), warnings: ["targetref-deprecated spec.targetRef"]),
        RuleCase(name: "targetRef and targetRefs", spec: spec(extra: #""targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g"}"#), errors: ["targeting-one-of Invalid spec"], warnings: ["targetref-deprecated spec.targetRef"]),
        RuleCase(name: "Gateway without group", spec: spec(targetRefs: #"[{"kind":"Gateway","name":"g"}]"#), errors: ["targetref-group-valid Required spec.targetRefs[0].group"]),
        RuleCase(name: "ServiceEntry without group", spec: spec(targetRefs: #"[{"kind":"ServiceEntry","name":"s"}]"#), errors: ["targetref-group-valid Required spec.targetRefs[0].group"], warnings: ["targetref-waypoint-only spec.targetRefs[0]"]),
        RuleCase(name: "Service with core group warns (waypoints only)", spec: spec(targetRefs: #"[{"group":"core","kind":"Service","name":"s"},{"kind":"Service","name":"t"}]"#), warnings: ["targetref-waypoint-only spec.targetRefs[0]", "targetref-waypoint-only spec.targetRefs[1]"]),
        RuleCase(name: "Service in the wrong group", spec: spec(targetRefs: #"[{"group":"apps","kind":"Service","name":"s"}]"#), errors: ["targetref-group-valid NotSupported spec.targetRefs[0].group"], warnings: ["targetref-waypoint-only spec.targetRefs[0]"]),
        RuleCase(name: "unsupported kind", spec: spec(targetRefs: #"[{"group":"foo.io","kind":"Bar","name":"x"}]"#), errors: ["targetref-kind NotSupported spec.targetRefs[0].kind"]),
        RuleCase(name: "lowercase kind", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"gateway","name":"x"}]"#), errors: ["targetref-kind NotSupported spec.targetRefs[0].kind"]),
        RuleCase(name: "missing name and kind", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io"}]"#), errors: ["targetref-kind Required spec.targetRefs[0].kind", "targetref-name Required spec.targetRefs[0].name"]),
        RuleCase(name: "empty name", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":""}]"#), errors: ["targetref-name Required spec.targetRefs[0].name"]),
        RuleCase(name: "cross-namespace ref", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g","namespace":"other"}]"#), errors: ["targetref-namespace Forbidden spec.targetRefs[0].namespace"]),
        RuleCase(name: "bad group syntax", spec: spec(targetRefs: #"[{"group":"Gateway.Networking","kind":"Gateway","name":"g"}]"#), errors: ["targetref-group-valid Invalid spec.targetRefs[0].group"]),
        RuleCase(name: "17 targetRefs", spec: spec(targetRefs: "[" + Array(repeating: #"{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g"}"#, count: 17).joined(separator: ",") + "]"), errors: ["targetrefs-max TooMany spec.targetRefs"]),
        RuleCase(name: "targetRefs an object", spec: spec(targetRefs: #"{"kind":"Gateway"}"#), errors: ["field-type TypeInvalid spec.targetRefs"]),
        RuleCase(name: "targetRefs item null", spec: spec(targetRefs: "[null]"), errors: ["field-type Required spec.targetRefs[0]"]),
        RuleCase(name: "GatewayClass outside root namespace warns", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"GatewayClass","name":"istio-waypoint"}]"#), warnings: ["targetref-gatewayclass spec.targetRefs[0]"]),
        RuleCase(name: "GatewayClass istio-waypoint in root namespace", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"GatewayClass","name":"istio-waypoint"}]"#), namespace: "istio-system"),
        // URL.
        RuleCase(name: "ftp scheme", spec: spec(url: "ftp://x/y.wasm"), errors: ["url-scheme-supported NotSupported spec.url"]),
        RuleCase(name: "registry host:port without scheme", spec: spec(url: "localhost:5000/img:1"), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "IP host:port without scheme", spec: spec(url: "192.168.1.1:5000/foo:1"), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "no scheme warns", spec: spec(url: "ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"), warnings: ["url-scheme-missing spec.url"]),
        RuleCase(name: "bare image name is Docker Hub: admitted with a warning", spec: spec(url: "test", config: nil), warnings: ["url-oci-tag spec.url", "url-scheme-missing spec.url"]),
        RuleCase(name: "oci:// bare image name is Docker Hub: admitted with a warning", spec: spec(url: "oci://test", config: nil), warnings: ["url-oci-implicit-registry spec.url", "url-oci-tag spec.url"]),
        RuleCase(name: "bare name:tag reads as a scheme", spec: spec(url: "test:1.0", config: nil), errors: ["url-scheme-supported NotSupported spec.url"]),
        RuleCase(name: "oci://name:tag reads the tag as a port", spec: spec(url: "oci://stats:1.0", config: nil), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "network-path url is OCI, not a local path", spec: spec(url: "//ghcr.io/x/basic_auth:1.0"), warnings: ["url-scheme-missing spec.url"]),
        RuleCase(name: "repository too short for the agent", spec: spec(url: "oci://ghcr.io/a:1", config: nil), errors: ["url-oci-reference Invalid spec.url"]),
        RuleCase(name: "upper-case repository", spec: spec(url: "oci://ghcr.io/Org/basic_auth:1", config: nil), errors: ["url-oci-reference Invalid spec.url"], warnings: ["basic-auth-unconfigured spec.pluginConfig"]),
        RuleCase(name: "non-ASCII repository", spec: spec(url: "oci://ghcr.io/org/bäsic:1", config: nil), errors: ["url-oci-reference Invalid spec.url"]),
        RuleCase(name: "'+' in a tag", spec: spec(url: "oci://ghcr.io/org/basic_auth:1.0+build", config: nil), errors: ["url-oci-reference Invalid spec.url"], warnings: ["basic-auth-unconfigured spec.pluginConfig"]),
        RuleCase(name: "'_' in a tag is fine", spec: spec(url: "oci://ghcr.io/org/basic_auth:1.0_build")),
        RuleCase(name: "file url with a host is a relative path", spec: spec(url: "file://host/x.wasm", config: nil), errors: ["url-file-path Invalid spec.url"]),
        RuleCase(name: "file url with one name is a relative path", spec: spec(url: "file://x.wasm", config: nil), errors: ["url-file-path Invalid spec.url"]),
        RuleCase(name: "untagged image pinned by sha256: no tag warning", spec: spec(url: "oci://ghcr.io/x/basic_auth", extra: #""sha256":"\#(String(repeating: "a", count: 64))""#)),
        RuleCase(name: "bare absolute path warns", spec: spec(url: "/opt/filters/x.wasm", config: nil), warnings: ["url-absolute-path spec.url"]),
        RuleCase(name: "empty url", spec: spec(url: ""), errors: ["url-required Required spec.url"]),
        RuleCase(name: "missing url", spec: #"{"targetRefs":\#(gatewayRef)}"#, errors: ["url-required Required spec.url"]),
        RuleCase(name: "url a number", spec: #"{"url":5}"#, errors: ["field-type TypeInvalid spec.url"]),
        RuleCase(name: "url with space", spec: spec(url: " http://test.com"), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "url invalid escape", spec: spec(url: "#%blah$#@"), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "empty host", spec: spec(url: "oci://"), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "scheme without //", spec: spec(url: "oci:ghcr.io/x:1"), errors: ["url-syntax Invalid spec.url"]),
        RuleCase(name: "upper-case scheme warns", spec: spec(url: "OCI://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"), warnings: ["url-scheme-case spec.url"]),
        RuleCase(name: "upper-case FILE is refused", spec: spec(url: "FILE:///x.wasm", config: nil), errors: ["url-scheme-supported Invalid spec.url"]),
        RuleCase(name: "http warns", spec: spec(url: "http://example.com/p.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "b", count: 64))""#), warnings: ["url-insecure-http spec.url"]),
        RuleCase(name: "https without sha256 warns", spec: spec(url: "https://example.com/p.wasm", config: nil), warnings: ["sha256-missing spec.sha256"]),
        RuleCase(name: "latest tag warns", spec: spec(url: "oci://ghcr.io/x/basic_auth:latest"), warnings: ["url-oci-tag spec.url"]),
        RuleCase(name: "untagged image warns", spec: spec(url: "oci://ghcr.io/x/basic_auth"), warnings: ["url-oci-tag spec.url"]),
        RuleCase(name: "oci without repository", spec: spec(url: "oci://ghcr.io", config: nil), errors: ["url-oci-reference Invalid spec.url"]),
        RuleCase(name: "bad digest", spec: spec(url: "oci://ghcr.io/x/basic_auth@sha256:abc"), errors: ["url-oci-reference Invalid spec.url"]),
        RuleCase(name: "digest matches sha256", spec: spec(url: "oci://ghcr.io/x/basic_auth@sha256:\(String(repeating: "c", count: 64))", extra: #""sha256":"\#(String(repeating: "c", count: 64))""#)),
        RuleCase(name: "digest disagrees with sha256", spec: spec(url: "oci://ghcr.io/x/basic_auth@sha256:\(String(repeating: "c", count: 64))", extra: #""sha256":"\#(String(repeating: "d", count: 64))""#), errors: ["sha256-digest-mismatch Invalid spec.sha256"]),
        // sha256.
        RuleCase(name: "short sha256", spec: spec(extra: #""sha256":"abc""#), errors: ["sha256-format Invalid spec.sha256"]),
        RuleCase(name: "upper-case sha256", spec: spec(extra: #""sha256":"\#(String(repeating: "A", count: 64))""#), errors: ["sha256-format Invalid spec.sha256"]),
        RuleCase(name: "sha256 on file warns", spec: spec(url: "file:///x.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "a", count: 64))","imagePullPolicy":"Always""#), warnings: ["file-url-ignored-fields spec.imagePullPolicy", "file-url-ignored-fields spec.sha256"]),
        // Enums.
        RuleCase(name: "lowercase phase", spec: spec(phase: "authn"), errors: ["enum-value NotSupported spec.phase"]),
        RuleCase(name: "phase as integer", spec: spec(phase: nil, extra: #""phase":1"#), errors: ["field-type TypeInvalid spec.phase"]),
        RuleCase(name: "every enum valid", spec: spec(extra: #""imagePullPolicy":"IfNotPresent","failStrategy":"FAIL_RELOAD","type":"HTTP","match":[{"mode":"CLIENT_AND_SERVER"}],"vmConfig":{"env":[{"name":"A","valueFrom":"HOST"}]}"#)),
        RuleCase(name: "bad enums", spec: spec(extra: #""imagePullPolicy":"always","failStrategy":"FAIL_CLOSED","type":"TCP","match":[{"mode":"INBOUND"}],"vmConfig":{"env":[{"name":"A","valueFrom":"ENV"}]}"#), errors: ["enum-value NotSupported spec.failStrategy", "enum-value NotSupported spec.imagePullPolicy", "enum-value NotSupported spec.match[0].mode", "enum-value NotSupported spec.type", "enum-value NotSupported spec.vmConfig.env[0].valueFrom"]),
        // Scalars.
        RuleCase(name: "imagePullSecret in another namespace", spec: spec(extra: #""imagePullSecret":"other-ns/pull""#), errors: ["image-pull-secret-namespace Invalid spec.imagePullSecret"]),
        RuleCase(name: "imagePullSecret no Secret can have", spec: spec(extra: #""imagePullSecret":"Pull_Secret""#), errors: ["image-pull-secret Invalid spec.imagePullSecret"]),
        RuleCase(name: "imagePullSecret name", spec: spec(extra: #""imagePullSecret":"pull-secret""#)),
        RuleCase(name: "pluginName counts bytes", spec: spec(extra: #""pluginName":"\#(String(repeating: "é", count: 129))""#), errors: ["plugin-name TooLong spec.pluginName"]),
        RuleCase(name: "pluginName of 256 bytes", spec: spec(extra: #""pluginName":"\#(String(repeating: "é", count: 128))""#)),
        RuleCase(name: "empty imagePullSecret and pluginName", spec: spec(extra: #""imagePullSecret":"","pluginName":"""#), errors: ["image-pull-secret Invalid spec.imagePullSecret", "plugin-name Invalid spec.pluginName"]),
        RuleCase(name: "too long imagePullSecret and pluginName", spec: spec(extra: #""imagePullSecret":"\#(String(repeating: "s", count: 254))","pluginName":"\#(String(repeating: "n", count: 257))""#), errors: ["image-pull-secret TooLong spec.imagePullSecret", "plugin-name TooLong spec.pluginName"]),
        RuleCase(name: "priority out of int32", spec: spec(extra: #""priority":3000000000"#), errors: ["priority-range Invalid spec.priority"]),
        RuleCase(name: "priority a string", spec: spec(extra: #""priority":"10""#), errors: ["field-type TypeInvalid spec.priority"]),
        RuleCase(name: "priority null is fine", spec: spec(extra: #""priority":null"#)),
        RuleCase(name: "unknown spec field warns", spec: spec(extra: #""phse":"AUTHN""#), warnings: ["spec-fields spec.phse"]),
        RuleCase(name: "pluginConfig a string", spec: spec(url: "oci://ghcr.io/x/other:1", config: #""x""#), errors: ["field-type TypeInvalid spec.pluginConfig"]),
        // vmConfig.env.
        RuleCase(name: "env name not a C identifier", spec: spec(extra: #""vmConfig":{"env":[{"name":"1-A","value":"x"}]}"#), errors: ["env-name Invalid spec.vmConfig.env[0].name"]),
        RuleCase(name: "env duplicate names", spec: spec(extra: #""vmConfig":{"env":[{"name":"A"},{"name":"A"}]}"#), errors: ["env-name-unique Duplicate spec.vmConfig.env[1].name"]),
        RuleCase(name: "env reserved name", spec: spec(extra: #""vmConfig":{"env":[{"name":"ISTIO_META_WASM_IMAGE_PULL_SECRET","value":"x"}]}"#), errors: ["env-name-reserved Forbidden spec.vmConfig.env[0].name"]),
        RuleCase(name: "env HOST with value (even empty)", spec: spec(extra: #""vmConfig":{"env":[{"name":"A","valueFrom":"HOST","value":""}]}"#), errors: ["env-value-from Forbidden spec.vmConfig.env[0].value"]),
        RuleCase(name: "env value too long", spec: spec(extra: #""vmConfig":{"env":[{"name":"A","value":"\#(String(repeating: "v", count: 2049))"}]}"#), errors: ["env-value-length TooLong spec.vmConfig.env[0].value"]),
        RuleCase(name: "env missing name", spec: spec(extra: #""vmConfig":{"env":[{"value":"x"}]}"#), errors: ["env-name Required spec.vmConfig.env[0].name"]),
        RuleCase(name: "env an object", spec: spec(extra: #""vmConfig":{"env":{"name":"A"}}"#), errors: ["field-type TypeInvalid spec.vmConfig.env"]),
        // match.
        RuleCase(name: "port out of range and missing", spec: spec(extra: #""match":[{"ports":[{"number":0},{"number":70000},{}]}]"#), errors: ["match-port Invalid spec.match[0].ports[0].number", "match-port Invalid spec.match[0].ports[1].number", "match-port Required spec.match[0].ports[2].number"]),
        RuleCase(name: "port a string", spec: spec(extra: #""match":[{"ports":[{"number":"80"}]}]"#), errors: ["field-type TypeInvalid spec.match[0].ports[0].number"]),
        RuleCase(name: "duplicate ports", spec: spec(extra: #""match":[{"ports":[{"number":80},{"number":80}]}]"#), errors: ["match-port-unique Duplicate spec.match[0].ports[1].number"]),
        RuleCase(name: "ports on a Service target never fire (waypoints match port 0)", spec: spec(targetRefs: #"[{"group":"","kind":"Service","name":"s"}]"#, extra: #""match":[{"ports":[{"number":8080}]}]"#), errors: ["match-unreachable-waypoint Invalid spec.match"], warnings: ["targetref-waypoint-only spec.targetRefs[0]"]),
        RuleCase(name: "mode CLIENT on a waypoint GatewayClass never fires", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"GatewayClass","name":"istio-waypoint"}]"#, extra: #""match":[{"mode":"CLIENT"}]"#), errors: ["match-unreachable-waypoint Invalid spec.match"], namespace: "istio-system"),
        RuleCase(name: "mode SERVER on a Service target fires", spec: spec(targetRefs: #"[{"group":"networking.istio.io","kind":"ServiceEntry","name":"s"}]"#, extra: #""match":[{"mode":"SERVER"},{"ports":[{"number":80}]}]"#), warnings: ["targetref-waypoint-only spec.targetRefs[0]"]),
        RuleCase(name: "mode SERVER on a Gateway warns", spec: spec(extra: #""match":[{"mode":"SERVER"}]"#), warnings: ["match-unreachable-gateway spec.match"]),
        RuleCase(name: "mode CLIENT on a Gateway fires", spec: spec(extra: #""match":[{"mode":"CLIENT","ports":[{"number":443}]}]"#)),
        RuleCase(name: "257 env entries", spec: spec(extra: #""vmConfig":{"env":[\#((0..<257).map { #"{"name":"E\#($0)","value":"x"}"# }.joined(separator: ","))]}"#), errors: ["env-max TooMany spec.vmConfig.env"]),
        RuleCase(name: "verificationKey does nothing", spec: spec(extra: #""verificationKey":"k""#), warnings: ["verification-key spec.verificationKey"]),
        RuleCase(name: "unknown selector and targetRef fields warn", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g","sectionName":"http"}]"#), warnings: ["targetref-fields spec.targetRefs[0].sectionName"]),
        RuleCase(name: "selector with matchExpressions", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"app":"a"},"matchExpressions":[]}"#), warnings: ["selector-fields spec.selector.matchExpressions"]),
        RuleCase(name: "null match item", spec: spec(extra: #""match":[null]"#), errors: ["field-type Required spec.match[0]"]),
        // basic_auth.
        RuleCase(name: "forgotten colon", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["password"]}"#)), errors: ["basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "unpadded base64", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["YWRtaW4zOmFkbWluMw"]}"#)), errors: ["basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "not base64 at all", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["not base64!!","admin",""]}"#)), errors: ["basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[0]", "basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[1]", "basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[2]"]),
        RuleCase(name: "empty user", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":[":s3cr3t"]}"#)), errors: ["basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "credentials numbers", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":[1,2]}"#)), errors: ["field-type TypeInvalid spec.pluginConfig.basic_auth_rules[0].credentials[0]", "field-type TypeInvalid spec.pluginConfig.basic_auth_rules[0].credentials[1]"]),
        RuleCase(name: "no credentials", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":[]}"#)), errors: ["basic-auth-credentials Required spec.pluginConfig.basic_auth_rules[0].credentials"]),
        RuleCase(name: "two match keys", spec: spec(config: rule(#"{"prefix":"/","exact":"/a","request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["basic-auth-rule-match Invalid spec.pluginConfig.basic_auth_rules[0]"]),
        RuleCase(name: "no match key", spec: spec(config: rule(#"{"request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["basic-auth-rule-match Invalid spec.pluginConfig.basic_auth_rules[0]"]),
        RuleCase(name: "empty prefix", spec: spec(config: rule(#"{"prefix":"","request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["basic-auth-rule-match Invalid spec.pluginConfig.basic_auth_rules[0].prefix"]),
        RuleCase(name: "prefix a number", spec: spec(config: rule(#"{"prefix":5,"request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["field-type TypeInvalid spec.pluginConfig.basic_auth_rules[0].prefix"]),
        RuleCase(name: "no methods", spec: spec(config: rule(#"{"suffix":".x","credentials":["a:b"]}"#)), errors: ["basic-auth-methods Required spec.pluginConfig.basic_auth_rules[0].request_methods"]),
        RuleCase(name: "method not a token", spec: spec(config: rule(#"{"exact":"/","request_methods":["GE T"],"credentials":["a:b"]}"#)), errors: ["basic-auth-methods Invalid spec.pluginConfig.basic_auth_rules[0].request_methods[0]"]),
        RuleCase(name: "lowercase standard method is refused (GET goes unauthenticated)", spec: spec(config: rule(#"{"exact":"/","request_methods":["get","Post"],"credentials":["a:b"]}"#)), errors: ["basic-auth-methods Invalid spec.pluginConfig.basic_auth_rules[0].request_methods[0]", "basic-auth-methods Invalid spec.pluginConfig.basic_auth_rules[0].request_methods[1]"]),
        RuleCase(name: "lowercase custom method warns", spec: spec(config: rule(#"{"exact":"/","request_methods":["purge"],"credentials":["a:b"]}"#)), warnings: ["basic-auth-method-case spec.pluginConfig.basic_auth_rules[0].request_methods[0]"]),
        RuleCase(name: "base64 with echo's newline", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["dXNlcjpwYXNzCg=="]}"#)), errors: ["basic-auth-credentials Invalid spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "basic_auth as a NETWORK plugin", spec: spec(extra: #""type":"NETWORK""#), errors: ["basic-auth-network-type Invalid spec.type"]),
        RuleCase(name: "basic_auth as an HTTP plugin", spec: spec(extra: #""type":"HTTP""#)),
        RuleCase(name: "rules not a list", spec: spec(config: #"{"basic_auth_rules":{"prefix":"/"}}"#), errors: ["field-type TypeInvalid spec.pluginConfig.basic_auth_rules"]),
        RuleCase(name: "realm a number", spec: spec(config: #"{"realm":5,"basic_auth_rules":[\#(goodRule)]}"#), errors: ["field-type TypeInvalid spec.pluginConfig.realm"]),
        RuleCase(name: "realm with space warns", spec: spec(config: #"{"realm":"my realm","basic_auth_rules":[\#(goodRule)]}"#), warnings: ["basic-auth-realm spec.pluginConfig.realm"]),
        RuleCase(name: "empty rules warn", spec: spec(config: #"{"basic_auth_rules":[]}"#), warnings: ["basic-auth-unconfigured spec.pluginConfig.basic_auth_rules"]),
        RuleCase(name: "basic_auth in STATS warns", spec: spec(phase: "STATS"), warnings: ["basic-auth-phase spec.phase"]),
        RuleCase(name: "hosts must be strings", spec: spec(config: rule(#"{"prefix":"/","hosts":["a.com",5,""],"request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["basic-auth-hosts Invalid spec.pluginConfig.basic_auth_rules[0].hosts[2]", "field-type TypeInvalid spec.pluginConfig.basic_auth_rules[0].hosts[1]"]),
        RuleCase(name: "other modules' config is not judged as basic_auth", spec: spec(url: "oci://ghcr.io/x/local_rate_limit:1", config: #"{"credentials":["password"]}"#)),
        // Whole-object shapes.
        RuleCase(name: "spec a string", spec: #""x""#, errors: ["spec-required TypeInvalid spec"]),
        RuleCase(name: "spec null", spec: "null", errors: ["spec-required Required spec"]),
    ]

    @Test(arguments: cases)
    func checksRule(_ c: RuleCase) throws {
        let result = try validate(c.spec, namespace: c.namespace)
        // Errors as the API reports them: causes[].reason (the kind) and field, plus the rule.
        let errors = result.errors.map { "\($0.rule) \($0.kind.rawValue.dropFirst("FieldValue".count)) \($0.path)" }
        let warnings = result.warnings.map { "\($0.rule) \($0.path)" }
        #expect(errors.sorted() == c.errors.sorted(), "errors: \(result.errors)")
        #expect(warnings.sorted() == c.warnings.sorted(), "warnings: \(result.warnings)")
        // Messages must explain and never echo a credential.
        for e in result.errors {
            #expect(!e.detail.isEmpty)
            for secret in ["password", "YWRtaW4zOmFkbWluMw", "not base64!!", ":s3cr3t", "dXNlcjpwYXNzCg=="] where c.spec.contains(secret) {
                #expect(!e.description.contains(secret), "message echoes a credential: \(e)")
            }
        }
    }

    @Test func unknownTopLevelFieldIsRefused() throws {
        let object = try JSONParser.parse(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{},"specs":{},"spec":\#(spec())}"#)
        let result = WasmPluginValidator().validate(object: object, namespace: "default")
        #expect(result.errors.map(\.path.description) == ["specs"])
    }

    @Test func policySettingsChangeVerdicts() throws {
        var strict = PolicySettings()
        strict.selector = .deny
        strict.insecureHTTP = .deny
        strict.requireDigest = true
        strict.allowedRegistries = ["ghcr.io/istio-ecosystem/"]
        #expect(try validate(spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a":"b"}}"#), settings: strict).errors.map(\.path.description).contains("spec.selector"))
        #expect(try validate(spec(url: "http://example.com/p.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "a", count: 64))""#), settings: strict).errors.map(\.path.description).contains("spec.url"))
        // Allowed registry, but not pinned.
        #expect(try validate(spec(), settings: strict).errors.map(\.path.description) == ["spec.url"])
        // Pinned by digest, allowed registry.
        #expect(try validate(spec(url: "oci://ghcr.io/istio-ecosystem/basic_auth@sha256:\(String(repeating: "a", count: 64))"), settings: strict).isValid)
        // Not an allowed registry.
        #expect(try validate(spec(url: "oci://docker.io/x/basic_auth@sha256:\(String(repeating: "a", count: 64))"), settings: strict).errors.map(\.path.description) == ["spec.url"])
    }

    /// `#expect(throws:)` fails when nothing is thrown (a `do { try } catch { #expect }`
    /// passed silently when the bad key was accepted).
    @Test(arguments: [
        (["selectr": "deny"], "selectr"),
        (["insecureHTTP": "maybe"], "insecureHTTP"),
        (["phaseDefaults": ["basic_auth": "authn"]], "phaseDefaults.basic_auth"),
        (["enforcement": "audit"], "enforcement"),
        (["rules": ["url-sytnax": "warn"]], "rules.url-sytnax"),
        (["rules": ["url-syntax": "maybe"]], "rules.url-syntax"),
        (["rules": ["url-scheme": "deny"]], "rules.url-scheme"),
        (["rules": "url-syntax"], "rules"),
        (["rules": ["url-syntax": true]], "rules.url-syntax"),
    ] as [(JSON, String)])
    func policyFileErrorsNameTheKey(_ policy: JSON, _ key: String) {
        let error = #expect(throws: PolicyError.self) { try PolicySettings(json: policy) }
        #expect(error?.description.contains("policy key \(key)") == true, "\(String(describing: error))")
    }

    @Test func policyFileReadsEveryKey() throws {
        let ok = try PolicySettings(json: [
            "selector": "warn", "credentials": "keep", "allowedRegistries": ["ghcr.io/"], "requireDigest": true, "rootNamespace": "mesh",
            "enforcement": "warn", "rules": ["url-oci-tag": "off", "selector-empty": "deny", "phase": false],
        ])
        #expect(ok.selector == .warn && ok.credentials == .keep && ok.rootNamespace == "mesh" && ok.enforcement == .warn)
        // `phase: false` is how YAML 1.1 reads a bare `phase: off`.
        #expect(ok.ruleVerdicts == ["url-oci-tag": .off, "selector-empty": .deny] && ok.disabledDefaults == ["phase"])
    }

    /// `rules:` moves a rule between deny, warn and off; the findings follow.
    @Test func policyRulesChangeOneRule() throws {
        let lowercase = spec(config: rule(#"{"exact":"/","request_methods":["get"],"credentials":["a:b"]}"#))
        let path = "spec.pluginConfig.basic_auth_rules[0].request_methods[0]"
        #expect(try validate(lowercase).errors.map(\.path.description) == [path])
        let warn = try validate(lowercase, settings: PolicySettings(json: ["rules": ["basic-auth-methods": "warn"]]))
        #expect(warn.isValid && warn.warnings.map(\.path.description) == [path] && warn.warnings[0].rule == "basic-auth-methods")
        let off = try validate(lowercase, settings: PolicySettings(json: ["rules": ["basic-auth-methods": "off"]]))
        #expect(off.isValid && off.warnings.isEmpty)
        // A warning rule set to deny: an error, with the API reason Invalid.
        let untagged = spec(url: "oci://ghcr.io/x/basic_auth")
        let denied = try validate(untagged, settings: PolicySettings(json: ["rules": ["url-oci-tag": "deny"]]))
        #expect(denied.errors.map { "\($0.rule) \($0.kind.rawValue) \($0.path)" } == ["url-oci-tag FieldValueInvalid spec.url"])
        // Type errors are their own rule: off means not reported, by any rule that reads the field.
        let mistyped = try validate(spec(extra: #""priority":"10","phase":1"#), settings: PolicySettings(json: ["rules": ["field-type": "warn"]]))
        #expect(mistyped.isValid && Set(mistyped.warnings.map(\.rule)) == ["field-type"] && mistyped.warnings.count == 2)
    }

    /// `//host/path` is what pilot fetches as `oci://host/path`: the registry policies apply.
    @Test func networkPathURLsCannotBypassRegistryPolicies() throws {
        let registries = try PolicySettings(json: ["allowedRegistries": ["ghcr.io/istio-ecosystem/"]])
        #expect(try validate(spec(url: "//evil.example.com/basic_auth:1"), settings: registries).errors.map(\.rule) == ["url-registry"])
        #expect(try validate(spec(url: "//ghcr.io/istio-ecosystem/basic_auth:1"), settings: registries).isValid)
        let pinned = try PolicySettings(json: ["requireDigest": true])
        #expect(try validate(spec(url: "//ghcr.io/istio-ecosystem/basic_auth:1"), settings: pinned).errors.map(\.rule) == ["digest-required"])
    }

    /// The messages the issue found wrong, as users read them.
    @Test(arguments: [
        (spec(url: "oci://stats:1.0", config: nil), "\":1.0\" after host \"stats\" is read as a port"),
        (spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["dXNlcjrkc3M="]}"#)), "decodes to user:pass that is not UTF-8"),
        (spec(extra: #""match":[{"ports":[{"number":80},{"number":80}]}]"#), "duplicate port 80, also in ports[0]; list each port once"),
        (spec(url: "///opt/filters/x.wasm", config: nil), "write file:///opt/filters/x.wasm for a local file"),
        (spec(url: "test:1.0", config: nil), "for an image write oci://REGISTRY/test:1.0"),
    ] as [(String, String)])
    func messagesSayWhatIsWrong(_ specText: String, _ expected: String) throws {
        let result = try validate(specText)
        let messages = result.errors.map(\.message) + result.warnings.map(\.message)
        #expect(messages.contains { $0.contains(expected) }, "\(messages)")
    }

    /// Rollout mode: every denial is a warning that says so, and is counted.
    @Test func enforcementWarnAdmitsAndCounts() throws {
        let settings = try PolicySettings(json: ["enforcement": "warn"])
        let broken = spec(url: "ftp://x/y.wasm", extra: #""phase":"authn""#)
        let denied = try validate(broken)
        #expect(denied.errorCount == 2)
        let rollout = try validate(broken, settings: settings)
        #expect(rollout.isValid && rollout.wouldDeny == 2)
        #expect(rollout.warnings.filter { $0.message.hasPrefix("would be denied: ") }.map(\.path.description).sorted() == ["spec.phase", "spec.url"])
        #expect(try validate(spec(), settings: settings).wouldDeny == 0)
    }
}
