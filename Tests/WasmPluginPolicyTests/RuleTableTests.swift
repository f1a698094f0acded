import AdmissionKit
import Testing

@testable import WasmPluginPolicy

/// One rule case: a spec, the fields that must get an error (exactly), and fields that
/// must get a warning (at least).
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

func validate(_ specText: String, namespace: String = "default", settings: PolicySettings = PolicySettings()) throws -> ValidationResult {
    let object = try JSONParser.parse(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"p","namespace":"\#(namespace)"},"spec":\#(specText)}"#)
    return WasmPluginValidator(settings: settings).validate(object: object, namespace: namespace)
}

@Suite struct RuleTableTests {
    static let cases: [RuleCase] = [
        // The seed and plain valid shapes.
        RuleCase(name: "seed plugin is valid", spec: spec()),
        RuleCase(name: "https with sha256", spec: spec(url: "https://example.com/p.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "a", count: 64))""#)),
        RuleCase(name: "file url", spec: spec(url: "file:///opt/filters/p.wasm", config: nil)),
        // Targeting.
        RuleCase(name: "selector and targetRefs", spec: spec(extra: #""selector":{"matchLabels":{"istio":"ingressgateway"}}"#), errors: ["spec"], warnings: ["spec.selector"]),
        RuleCase(name: "selector and empty targetRefs (CEL counts has())", spec: spec(targetRefs: "[]", extra: #""selector":{"matchLabels":{"a":"b"}}"#), errors: ["spec"]),
        RuleCase(name: "selector alone warns", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"istio":"ingressgateway"}}"#), warnings: ["spec.selector"]),
        RuleCase(name: "empty selector warns", spec: spec(targetRefs: nil, extra: #""selector":{}"#), warnings: ["spec.selector"]),
        RuleCase(name: "selector wildcard key and value", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a*":"b","c":"d*"}}"#), errors: ["spec.selector.matchLabels[a*]", "spec.selector.matchLabels.c"]),
        RuleCase(name: "selector empty key", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"":"b"}}"#), errors: ["spec.selector.matchLabels[]"]),
        RuleCase(name: "selector value too long", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a":"\#(String(repeating: "x", count: 64))"}}"#), errors: ["spec.selector.matchLabels.a"]),
        RuleCase(name: "selector value not a string", spec: spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"a":1}}"#), errors: ["spec.selector.matchLabels.a"]),
        RuleCase(name: "deprecated targetRef warns", spec: spec(targetRefs: nil, extra: #""targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g"}"#), warnings: ["spec.targetRef"]),
        RuleCase(name: "targetRef and targetRefs", spec: spec(extra: #""targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g"}"#), errors: ["spec"]),
        RuleCase(name: "Gateway without group", spec: spec(targetRefs: #"[{"kind":"Gateway","name":"g"}]"#), errors: ["spec.targetRefs[0].group"]),
        RuleCase(name: "ServiceEntry without group", spec: spec(targetRefs: #"[{"kind":"ServiceEntry","name":"s"}]"#), errors: ["spec.targetRefs[0].group"], warnings: ["spec.targetRefs[0]"]),
        RuleCase(name: "Service with core group warns (waypoints only)", spec: spec(targetRefs: #"[{"group":"core","kind":"Service","name":"s"},{"kind":"Service","name":"t"}]"#), warnings: ["spec.targetRefs[0]", "spec.targetRefs[1]"]),
        RuleCase(name: "Service in the wrong group", spec: spec(targetRefs: #"[{"group":"apps","kind":"Service","name":"s"}]"#), errors: ["spec.targetRefs[0].group"]),
        RuleCase(name: "unsupported kind", spec: spec(targetRefs: #"[{"group":"foo.io","kind":"Bar","name":"x"}]"#), errors: ["spec.targetRefs[0].kind"]),
        RuleCase(name: "lowercase kind", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"gateway","name":"x"}]"#), errors: ["spec.targetRefs[0].kind"]),
        RuleCase(name: "missing name and kind", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io"}]"#), errors: ["spec.targetRefs[0].name", "spec.targetRefs[0].kind"]),
        RuleCase(name: "empty name", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":""}]"#), errors: ["spec.targetRefs[0].name"]),
        RuleCase(name: "cross-namespace ref", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g","namespace":"other"}]"#), errors: ["spec.targetRefs[0].namespace"]),
        RuleCase(name: "bad group syntax", spec: spec(targetRefs: #"[{"group":"Gateway.Networking","kind":"Gateway","name":"g"}]"#), errors: ["spec.targetRefs[0].group"]),
        RuleCase(name: "17 targetRefs", spec: spec(targetRefs: "[" + Array(repeating: #"{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"g"}"#, count: 17).joined(separator: ",") + "]"), errors: ["spec.targetRefs"]),
        RuleCase(name: "targetRefs an object", spec: spec(targetRefs: #"{"kind":"Gateway"}"#), errors: ["spec.targetRefs"]),
        RuleCase(name: "targetRefs item null", spec: spec(targetRefs: "[null]"), errors: ["spec.targetRefs[0]"]),
        RuleCase(name: "GatewayClass outside root namespace warns", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"GatewayClass","name":"istio-waypoint"}]"#), warnings: ["spec.targetRefs[0]"]),
        RuleCase(name: "GatewayClass istio-waypoint in root namespace", spec: spec(targetRefs: #"[{"group":"gateway.networking.k8s.io","kind":"GatewayClass","name":"istio-waypoint"}]"#), namespace: "istio-system"),
        // URL.
        RuleCase(name: "ftp scheme", spec: spec(url: "ftp://x/y.wasm"), errors: ["spec.url"]),
        RuleCase(name: "registry host:port without scheme", spec: spec(url: "localhost:5000/img:1"), errors: ["spec.url"]),
        RuleCase(name: "IP host:port without scheme", spec: spec(url: "192.168.1.1:5000/foo:1"), errors: ["spec.url"]),
        RuleCase(name: "no scheme warns", spec: spec(url: "ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"), warnings: ["spec.url"]),
        RuleCase(name: "bare absolute path warns", spec: spec(url: "/opt/filters/x.wasm", config: nil), warnings: ["spec.url"]),
        RuleCase(name: "empty url", spec: spec(url: ""), errors: ["spec.url"]),
        RuleCase(name: "missing url", spec: #"{"targetRefs":\#(gatewayRef)}"#, errors: ["spec.url"]),
        RuleCase(name: "url a number", spec: #"{"url":5}"#, errors: ["spec.url"]),
        RuleCase(name: "url with space", spec: spec(url: " http://test.com"), errors: ["spec.url"]),
        RuleCase(name: "url invalid escape", spec: spec(url: "#%blah$#@"), errors: ["spec.url"]),
        RuleCase(name: "empty host", spec: spec(url: "oci://"), errors: ["spec.url"]),
        RuleCase(name: "scheme without //", spec: spec(url: "oci:ghcr.io/x:1"), errors: ["spec.url"]),
        RuleCase(name: "upper-case scheme warns", spec: spec(url: "OCI://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"), warnings: ["spec.url"]),
        RuleCase(name: "upper-case FILE is refused", spec: spec(url: "FILE:///x.wasm", config: nil), errors: ["spec.url"]),
        RuleCase(name: "http warns", spec: spec(url: "http://example.com/p.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "b", count: 64))""#), warnings: ["spec.url"]),
        RuleCase(name: "https without sha256 warns", spec: spec(url: "https://example.com/p.wasm", config: nil), warnings: ["spec.sha256"]),
        RuleCase(name: "latest tag warns", spec: spec(url: "oci://ghcr.io/x/basic_auth:latest"), warnings: ["spec.url"]),
        RuleCase(name: "untagged image warns", spec: spec(url: "oci://ghcr.io/x/basic_auth"), warnings: ["spec.url"]),
        RuleCase(name: "oci without repository", spec: spec(url: "oci://ghcr.io", config: nil), errors: ["spec.url"]),
        RuleCase(name: "bad digest", spec: spec(url: "oci://ghcr.io/x/basic_auth@sha256:abc"), errors: ["spec.url"]),
        RuleCase(name: "digest matches sha256", spec: spec(url: "oci://ghcr.io/x/basic_auth@sha256:\(String(repeating: "c", count: 64))", extra: #""sha256":"\#(String(repeating: "c", count: 64))""#)),
        RuleCase(name: "digest disagrees with sha256", spec: spec(url: "oci://ghcr.io/x/basic_auth@sha256:\(String(repeating: "c", count: 64))", extra: #""sha256":"\#(String(repeating: "d", count: 64))""#), errors: ["spec.sha256"]),
        // sha256.
        RuleCase(name: "short sha256", spec: spec(extra: #""sha256":"abc""#), errors: ["spec.sha256"]),
        RuleCase(name: "upper-case sha256", spec: spec(extra: #""sha256":"\#(String(repeating: "A", count: 64))""#), errors: ["spec.sha256"]),
        RuleCase(name: "sha256 on file warns", spec: spec(url: "file:///x.wasm", config: nil, extra: #""sha256":"\#(String(repeating: "a", count: 64))","imagePullPolicy":"Always""#), warnings: ["spec.sha256", "spec.imagePullPolicy"]),
        // Enums.
        RuleCase(name: "lowercase phase", spec: spec(phase: "authn"), errors: ["spec.phase"]),
        RuleCase(name: "phase as integer", spec: spec(phase: nil, extra: #""phase":1"#), errors: ["spec.phase"]),
        RuleCase(name: "every enum valid", spec: spec(extra: #""imagePullPolicy":"IfNotPresent","failStrategy":"FAIL_RELOAD","type":"HTTP","match":[{"mode":"CLIENT_AND_SERVER"}],"vmConfig":{"env":[{"name":"A","valueFrom":"HOST"}]}"#)),
        RuleCase(name: "bad enums", spec: spec(extra: #""imagePullPolicy":"always","failStrategy":"FAIL_CLOSED","type":"TCP","match":[{"mode":"INBOUND"}],"vmConfig":{"env":[{"name":"A","valueFrom":"ENV"}]}"#), errors: ["spec.imagePullPolicy", "spec.failStrategy", "spec.type", "spec.match[0].mode", "spec.vmConfig.env[0].valueFrom"]),
        // Scalars.
        RuleCase(name: "empty imagePullSecret and pluginName", spec: spec(extra: #""imagePullSecret":"","pluginName":"""#), errors: ["spec.imagePullSecret", "spec.pluginName"]),
        RuleCase(name: "too long imagePullSecret and pluginName", spec: spec(extra: #""imagePullSecret":"\#(String(repeating: "s", count: 254))","pluginName":"\#(String(repeating: "n", count: 257))""#), errors: ["spec.imagePullSecret", "spec.pluginName"]),
        RuleCase(name: "priority out of int32", spec: spec(extra: #""priority":3000000000"#), errors: ["spec.priority"]),
        RuleCase(name: "priority a string", spec: spec(extra: #""priority":"10""#), errors: ["spec.priority"]),
        RuleCase(name: "priority null is fine", spec: spec(extra: #""priority":null"#)),
        RuleCase(name: "unknown spec field warns", spec: spec(extra: #""phse":"AUTHN""#), warnings: ["spec.phse"]),
        RuleCase(name: "pluginConfig a string", spec: spec(url: "oci://ghcr.io/x/other:1", config: #""x""#), errors: ["spec.pluginConfig"]),
        // vmConfig.env.
        RuleCase(name: "env name not a C identifier", spec: spec(extra: #""vmConfig":{"env":[{"name":"1-A","value":"x"}]}"#), errors: ["spec.vmConfig.env[0].name"]),
        RuleCase(name: "env duplicate names", spec: spec(extra: #""vmConfig":{"env":[{"name":"A"},{"name":"A"}]}"#), errors: ["spec.vmConfig.env[1].name"]),
        RuleCase(name: "env reserved name", spec: spec(extra: #""vmConfig":{"env":[{"name":"ISTIO_META_WASM_IMAGE_PULL_SECRET","value":"x"}]}"#), errors: ["spec.vmConfig.env[0].name"]),
        RuleCase(name: "env HOST with value (even empty)", spec: spec(extra: #""vmConfig":{"env":[{"name":"A","valueFrom":"HOST","value":""}]}"#), errors: ["spec.vmConfig.env[0].value"]),
        RuleCase(name: "env value too long", spec: spec(extra: #""vmConfig":{"env":[{"name":"A","value":"\#(String(repeating: "v", count: 2049))"}]}"#), errors: ["spec.vmConfig.env[0].value"]),
        RuleCase(name: "env missing name", spec: spec(extra: #""vmConfig":{"env":[{"value":"x"}]}"#), errors: ["spec.vmConfig.env[0].name"]),
        RuleCase(name: "env an object", spec: spec(extra: #""vmConfig":{"env":{"name":"A"}}"#), errors: ["spec.vmConfig.env"]),
        // match.
        RuleCase(name: "port out of range and missing", spec: spec(extra: #""match":[{"ports":[{"number":0},{"number":70000},{}]}]"#), errors: ["spec.match[0].ports[0].number", "spec.match[0].ports[1].number", "spec.match[0].ports[2].number"]),
        RuleCase(name: "port a string", spec: spec(extra: #""match":[{"ports":[{"number":"80"}]}]"#), errors: ["spec.match[0].ports[0].number"]),
        RuleCase(name: "duplicate ports", spec: spec(extra: #""match":[{"ports":[{"number":80},{"number":80}]}]"#), errors: ["spec.match[0].ports[1].number"]),
        RuleCase(name: "null match item", spec: spec(extra: #""match":[null]"#), errors: ["spec.match[0]"]),
        // basic_auth.
        RuleCase(name: "forgotten colon", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["password"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "unpadded base64", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["YWRtaW4zOmFkbWluMw"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "not base64 at all", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["not base64!!","admin",""]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].credentials[0]", "spec.pluginConfig.basic_auth_rules[0].credentials[1]", "spec.pluginConfig.basic_auth_rules[0].credentials[2]"]),
        RuleCase(name: "empty user", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":[":s3cr3t"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].credentials[0]"]),
        RuleCase(name: "credentials numbers", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":[1,2]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].credentials[0]", "spec.pluginConfig.basic_auth_rules[0].credentials[1]"]),
        RuleCase(name: "no credentials", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":[]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].credentials"]),
        RuleCase(name: "two match keys", spec: spec(config: rule(#"{"prefix":"/","exact":"/a","request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0]"]),
        RuleCase(name: "no match key", spec: spec(config: rule(#"{"request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0]"]),
        RuleCase(name: "empty prefix", spec: spec(config: rule(#"{"prefix":"","request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].prefix"]),
        RuleCase(name: "prefix a number", spec: spec(config: rule(#"{"prefix":5,"request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].prefix"]),
        RuleCase(name: "no methods", spec: spec(config: rule(#"{"suffix":".x","credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].request_methods"]),
        RuleCase(name: "method not a token", spec: spec(config: rule(#"{"exact":"/","request_methods":["GE T"],"credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].request_methods[0]"]),
        RuleCase(name: "lowercase method warns", spec: spec(config: rule(#"{"exact":"/","request_methods":["get"],"credentials":["a:b"]}"#)), warnings: ["spec.pluginConfig.basic_auth_rules[0].request_methods[0]"]),
        RuleCase(name: "rules not a list", spec: spec(config: #"{"basic_auth_rules":{"prefix":"/"}}"#), errors: ["spec.pluginConfig.basic_auth_rules"]),
        RuleCase(name: "realm a number", spec: spec(config: #"{"realm":5,"basic_auth_rules":[\#(goodRule)]}"#), errors: ["spec.pluginConfig.realm"]),
        RuleCase(name: "realm with space warns", spec: spec(config: #"{"realm":"my realm","basic_auth_rules":[\#(goodRule)]}"#), warnings: ["spec.pluginConfig.realm"]),
        RuleCase(name: "empty rules warn", spec: spec(config: #"{"basic_auth_rules":[]}"#), warnings: ["spec.pluginConfig.basic_auth_rules"]),
        RuleCase(name: "basic_auth in STATS warns", spec: spec(phase: "STATS"), warnings: ["spec.phase"]),
        RuleCase(name: "hosts must be strings", spec: spec(config: rule(#"{"prefix":"/","hosts":["a.com",5,""],"request_methods":["GET"],"credentials":["a:b"]}"#)), errors: ["spec.pluginConfig.basic_auth_rules[0].hosts[1]", "spec.pluginConfig.basic_auth_rules[0].hosts[2]"]),
        RuleCase(name: "other modules' config is not judged as basic_auth", spec: spec(url: "oci://ghcr.io/x/local_rate_limit:1", config: #"{"credentials":["password"]}"#)),
        // Whole-object shapes.
        RuleCase(name: "spec a string", spec: #""x""#, errors: ["spec"]),
        RuleCase(name: "spec null", spec: "null", errors: ["spec"]),
    ]

    @Test(arguments: cases)
    func checksRule(_ c: RuleCase) throws {
        let result = try validate(c.spec, namespace: c.namespace)
        let errorFields = result.errors.map(\.path.description)
        #expect(Set(errorFields) == Set(c.errors), "errors: \(result.errors)")
        let warningFields = Set(result.warnings.map(\.path.description))
        for w in c.warnings {
            #expect(warningFields.contains(w), "missing warning on \(w); got \(result.warnings)")
        }
        // Messages must explain and never echo a credential.
        for e in result.errors {
            #expect(!e.detail.isEmpty)
            for secret in ["password", "YWRtaW4zOmFkbWluMw", "not base64!!", ":s3cr3t"] where c.spec.contains(secret) {
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

    @Test func policyFileErrorsNameTheKey() {
        #expect(throws: PolicyError.self) { try PolicySettings(json: ["selectr": "deny"]) }
        do {
            _ = try PolicySettings(json: ["insecureHTTP": "maybe"])
        } catch {
            #expect(error.description.contains("insecureHTTP"))
        }
        do {
            _ = try PolicySettings(json: ["phaseDefaults": ["basic_auth": "authn"]])
        } catch {
            #expect(error.description.contains("phaseDefaults.basic_auth"))
        }
        let ok = try? PolicySettings(json: ["selector": "warn", "credentials": "keep", "allowedRegistries": ["ghcr.io/"], "requireDigest": true, "rootNamespace": "mesh"])
        #expect(ok?.selector == .warn && ok?.credentials == .keep && ok?.rootNamespace == "mesh")
    }
}
