import AdmissionKit
import Testing

@testable import WasmPluginPolicy

struct DefaultCase: CustomTestStringConvertible, Sendable {
    var name: String
    var spec: String
    /// Expected `op path` strings, in order.
    var ops: [String]
    var namespace = "default"
    var testDescription: String { name }
}

func defaults(_ specText: String, namespace: String = "default", settings: PolicySettings = PolicySettings()) throws -> ObjectEditor {
    let object = try JSONParser.parse(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"p","namespace":"\#(namespace)"},"spec":\#(specText)}"#)
    var editor = ObjectEditor(object)
    _ = WasmPluginDefaulter(settings: settings).applyDefaults(&editor, namespace: namespace)
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
        DefaultCase(name: "selector naming a gateway in the root namespace stays", spec: spec(targetRefs: nil, config: nil, extra: #""selector":{"matchLabels":{"gateway.networking.k8s.io/gateway-name":"bookinfo-gateway"}}"#), ops: [], namespace: "istio-system"),
        DefaultCase(name: "network-path url gets oci:", spec: spec(url: "//ghcr.io/x/basic_auth:1", config: nil), ops: ["replace /spec/url"]),
        DefaultCase(name: "no phase for a NETWORK plugin", spec: spec(phase: nil, config: nil, extra: #""type":"NETWORK""#), ops: []),
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
        let editor = try defaults(c.spec, namespace: c.namespace)
        #expect(editor.operations.map { "\($0.op.rawValue) \($0.path.jsonPointer)" } == c.ops)
        // Idempotent: defaulting the result changes nothing.
        let fixedSpec = try #require(editor.object["spec"])
        let again = try defaults(fixedSpec.compactText, namespace: c.namespace)
        #expect(again.operations.isEmpty, "second pass: \(again.operations)")
    }

    @Test func policyTurnsDefaultingRulesOff() throws {
        let settings = try PolicySettings(json: ["rules": ["selector-to-targetrefs": "off", "credential-base64": "off"]])
        #expect(try defaults(spec(targetRefs: nil, extra: #""selector":{"matchLabels":{"istio.io/gateway-name":"g"}}"#), settings: settings).operations.isEmpty)
        #expect(throws: PolicyError.self) { try PolicySettings(json: ["rules": ["phase": "warn"]]) }
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

    // "dXNlcjpwYXNzCg==" is `echo user:pass | base64` (with the newline); "dXNlcjpw5HNz" is
    // user:päss in Latin-1; "OnBhc3M=" is ":pass".
    @Test(arguments: ["password", "userpass", "abc", "admin", "", "not-base64!", "Zm9v-YmFy", "YR==", " dXNlcjpwYXNz", ":x", "dXNlcgo=", "dXNlcjpwYXNzCg==", "dXNlcjrkc3M=", "OnBhc3M="])
    func refusesWhatCanNeverMatch(_ value: String) {
        if case .invalid = BasicAuthCredential.classify(value) {} else {
            Issue.record("\(value) should be invalid, got \(BasicAuthCredential.classify(value))")
        }
    }
}

@Suite struct ModuleURLTests {
    /// The check that lets `classify` skip its byte loop finds every byte that loop looks
    /// at (<= 0x20, 0x7F, non-ASCII, '%'), of every value, at every position of plain urls
    /// of every length up to 40, in buffers allocated to their exact length (it reads the
    /// last block back from the end: ASan sees a read past it).
    @Test func specialBytesAreFoundAnywhere() {
        func special(_ b: UInt8) -> Bool { b <= 0x20 || b >= 0x7F || b == UInt8(ascii: "%") }
        let plain = Array("oci://ghcr.io/istio-ecosystem/basic_auth:1.12.0@sha256-x".utf8)
        var checked = 0
        for length in 0...40 {
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: length)
            defer { buffer.deallocate() }
            for i in 0..<length { buffer[i] = plain[i % plain.count] }
            #expect(!ModuleURL.hasSpecialBytes(UnsafeBufferPointer(buffer)), "plain, \(length) bytes")
            for position in 0..<length {
                for value in 0...255 {
                    let kept = buffer[position]
                    buffer[position] = UInt8(value)
                    let found = ModuleURL.hasSpecialBytes(UnsafeBufferPointer(buffer))
                    buffer[position] = kept
                    if found != special(UInt8(value)) {
                        Issue.record("byte \(value) at \(position) of \(length): found \(found)")
                        return
                    }
                    checked += 1
                }
            }
        }
        #expect(checked == 256 * (0...40).reduce(0, +))
    }

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

    /// go-containerregistry's split: a registry only when the first component has '.' or ':'.
    @Test(arguments: [
        ("oci://localhost:5000/a/b:1.0@sha256:abc", "localhost:5000", "a/b", "1.0", "sha256:abc", "localhost:5000/a/b@sha256:abc"),
        ("ghcr.io/a/b", "ghcr.io", "a/b", nil, nil, "ghcr.io/a/b:latest"),
        ("oci://test", nil, "test", nil, nil, "index.docker.io/library/test:latest"),
        ("test/x:1.0", nil, "test/x", "1.0", nil, "index.docker.io/test/x:1.0"),
        ("library/bar:latest", nil, "library/bar", "latest", nil, "index.docker.io/library/bar:latest"),
        ("//registry.example.com/x:2", "registry.example.com", "x", "2", nil, "registry.example.com/x:2"),
    ] as [(String, String?, String, String?, String?, String)])
    func ociReferences(_ raw: String, _ registry: String?, _ repository: String, _ tag: String?, _ digest: String?, _ resolved: String) throws {
        let oci = try #require(ModuleURL(raw).oci)
        #expect(oci.registry.map(String.init) == registry)
        #expect(oci.repository == repository[...])
        #expect(oci.tag.map(String.init) == tag)
        #expect(oci.digest.map(String.init) == digest)
        #expect(oci.resolved == resolved)
    }

    /// The defaulter carries the normalised url on without parsing it again: it must be the
    /// url a parse of the normalised text gives.
    @Test(arguments: [
        "ghcr.io/x/basic_auth:1.12.0", "localhost:5000/img", "192.168.1.1:5000/x@sha256:abc", "//ghcr.io/x/basic_auth:1",
        "OCI://ghcr.io/x/y.wasm", "HTTPS://example.com/filters/f.wasm?x=1#f", "Http://u:p@h:8080/a/", "docker.io/library/nginx",
        "img", "FILE:///opt/x.wasm", "HTTPS:example.com/f.wasm",
    ])
    func normalizedURLIsTheParseOfTheNormalizedText(_ raw: String) throws {
        let url = ModuleURL(raw)
        let text = try #require(url.normalized)
        let carried = try #require(url.normalizedURL)
        #expect(carried == ModuleURL(text))
        #expect(carried.normalized == nil)
    }

    @Test func networkPathIsOCI() {
        let url = ModuleURL("//ghcr.io/x/basic_auth:1")
        #expect(url.shape == .networkPath && url.effectiveScheme == "oci" && url.normalized == "oci://ghcr.io/x/basic_auth:1")
        #expect(ModuleURL("///opt/x.wasm").shape == .absolutePath)
    }
}
