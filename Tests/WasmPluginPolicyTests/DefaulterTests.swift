import AdmissionKit
import Testing

@testable import WasmPluginPolicy

struct DefaultCase: CustomTestStringConvertible, Sendable {
    var name: String
    var spec: String
    /// Expected `op path` strings, in order.
    var ops: [String]
    var testDescription: String { name }
}

func defaults(_ specText: String, settings: PolicySettings = PolicySettings()) throws -> ObjectEditor {
    let object = try JSONParser.parse(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"p","namespace":"default"},"spec":\#(specText)}"#)
    var editor = ObjectEditor(object)
    _ = WasmPluginDefaulter(settings: settings).applyDefaults(&editor)
    return editor
}

@Suite struct DefaulterTests {
    static let cases: [DefaultCase] = [
        DefaultCase(name: "seed needs only the plain credential encoded", spec: spec(), ops: ["replace /spec/pluginConfig/basic_auth_rules/0/credentials/0"]),
        DefaultCase(name: "missing scheme", spec: spec(url: "ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0", config: nil), ops: ["replace /spec/url"]),
        DefaultCase(name: "registry host:port", spec: spec(url: "localhost:5000/basic_auth:1", config: nil), ops: ["replace /spec/url"]),
        DefaultCase(name: "upper-case scheme", spec: spec(url: "OCI://ghcr.io/x/basic_auth:1", config: nil), ops: ["replace /spec/url"]),
        DefaultCase(name: "Gateway without group", spec: spec(targetRefs: #"[{"kind":"Gateway","name":"g"},{"kind":"ServiceEntry","name":"s","group":""},{"kind":"Service","name":"t"}]"#, config: nil), ops: ["add /spec/targetRefs/0/group", "replace /spec/targetRefs/1/group"]),
        DefaultCase(name: "deprecated targetRef", spec: spec(targetRefs: nil, config: nil, extra: #""targetRef":{"kind":"Gateway","name":"g"}"#), ops: ["add /spec/targetRefs", "remove /spec/targetRef", "add /spec/targetRefs/0/group"]),
        DefaultCase(name: "selector naming one gateway", spec: spec(targetRefs: nil, config: nil, extra: #""selector":{"matchLabels":{"gateway.networking.k8s.io/gateway-name":"bookinfo-gateway"}}"#), ops: ["add /spec/targetRefs", "remove /spec/selector"]),
        DefaultCase(name: "selector on other labels stays", spec: spec(targetRefs: nil, config: nil, extra: #""selector":{"matchLabels":{"istio":"ingressgateway"}}"#), ops: []),
        DefaultCase(name: "phase defaulted for basic_auth", spec: spec(phase: nil, config: nil), ops: ["add /spec/phase"]),
        DefaultCase(name: "phase left for other modules", spec: spec(url: "oci://ghcr.io/x/stats:1", phase: nil, config: nil), ops: []),
        DefaultCase(name: "untagged image pulls Always", spec: spec(url: "oci://ghcr.io/x/basic_auth", config: nil), ops: ["add /spec/imagePullPolicy"]),
        DefaultCase(name: "unpadded base64 padded", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["YWRtaW4zOmFkbWluMw","YWRtaW4zOmFkbWluMw=","YWRtaW4zOmFkbWluMw=="]}"#)), ops: ["replace /spec/pluginConfig/basic_auth_rules/0/credentials/0", "replace /spec/pluginConfig/basic_auth_rules/0/credentials/1"]),
        DefaultCase(name: "broken credentials are left for the validator", spec: spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["password",5,":x"]}"#)), ops: []),
        DefaultCase(name: "wrong types everywhere: nothing to patch, no crash", spec: #"{"url":5,"targetRefs":{"kind":"Gateway"},"selector":"x","phase":1,"pluginConfig":{"basic_auth_rules":"x"}}"#, ops: []),
    ]

    @Test(arguments: cases)
    func defaulting(_ c: DefaultCase) throws {
        let editor = try defaults(c.spec)
        #expect(editor.operations.map { "\($0.op.rawValue) \($0.path.jsonPointer)" } == c.ops)
        // Idempotent: defaulting the result changes nothing.
        let fixedSpec = try #require(editor.object["spec"])
        let again = try defaults(fixedSpec.compactText)
        #expect(again.operations.isEmpty, "second pass: \(again.operations)")
    }

    @Test func keepPolicyLeavesPlainCredentials() throws {
        var settings = PolicySettings()
        settings.credentials = .keep
        #expect(try defaults(spec(), settings: settings).operations.isEmpty)
    }

    @Test func convertedSeedVariantsValidate() throws {
        for variant in [
            spec(url: "ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"),
            spec(url: "localhost:5000/basic_auth:1"),
            spec(targetRefs: #"[{"kind":"Gateway","name":"g"}]"#),
            spec(targetRefs: nil, extra: #""targetRef":{"kind":"Gateway","name":"g"}"#),
            spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"istio.io/gateway-name":"waypoint"}}"#),
            spec(config: rule(#"{"prefix":"/","request_methods":["GET"],"credentials":["YWRtaW4zOmFkbWluMw"]}"#)),
        ] {
            let fixed = try defaults(variant).object
            let result = WasmPluginValidator().validate(object: fixed, namespace: "default")
            #expect(result.isValid, "\(variant) → \(result.errors)")
        }
    }
}

@Suite struct CredentialTests {
    @Test(arguments: [
        ("ok:test", BasicAuthCredential.plain),
        ("a:b:c", .plain),
        ("YWRtaW4zOmFkbWluMw==", .canonical),
        ("dXNlcjpwYXNz", .canonical),
        ("YWRtaW4zOmFkbWluMw", .nonCanonical(canonical: "YWRtaW4zOmFkbWluMw==")),
        ("dXNlcjpwYXNz=", .nonCanonical(canonical: "dXNlcjpwYXNz")),
    ])
    func classifies(_ value: String, _ expected: BasicAuthCredential) {
        #expect(BasicAuthCredential.classify(value) == expected)
    }

    @Test(arguments: ["password", "userpass", "abc", "admin", "", "not-base64!", "Zm9v-YmFy", "YR==", " dXNlcjpwYXNz", ":x", "dXNlcgo="])
    func refusesWhatCanNeverMatch(_ value: String) {
        if case .invalid = BasicAuthCredential.classify(value) {} else {
            Issue.record("\(value) should be invalid, got \(BasicAuthCredential.classify(value))")
        }
    }
}

@Suite struct ModuleURLTests {
    @Test(arguments: [
        ("oci://ghcr.io/x/basic_auth:1.12.0", "oci", "basic_auth"),
        ("ghcr.io/x/basic_auth:1.12.0", "oci", "basic_auth"),
        ("https://example.com/filters/basic_auth.wasm?x=1", "https", "basic_auth"),
        ("file:///opt/filters/basic_auth.wasm", "file", "basic_auth"),
        ("oci://localhost:5000/basic_auth@sha256:\(String(repeating: "a", count: 64))", "oci", "basic_auth"),
    ])
    func schemesAndModuleNames(_ raw: String, _ scheme: String, _ module: String) {
        let url = ModuleURL(raw)
        #expect(url.effectiveScheme == scheme)
        #expect(url.moduleName == module)
    }

    @Test func ociParts() throws {
        let parts = try #require(ModuleURL("oci://localhost:5000/a/b:1.0@sha256:abc").ociParts)
        #expect(parts.repository == "a/b" && parts.tag == "1.0" && parts.digest == "sha256:abc")
        let untagged = try #require(ModuleURL("ghcr.io/a/b").ociParts)
        #expect(untagged.tag == nil && untagged.digest == nil && untagged.repository == "a/b")
    }
}
