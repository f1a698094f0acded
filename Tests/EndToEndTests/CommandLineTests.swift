import Foundation
import Testing

/// `review` and `check` through the built binary, as CI pipelines and other tools call them.
@Suite struct CommandLineTests {
    @Test func reviewAnswersExactlyAndExitsZero() throws {
        let out = try run(Package.binary, ["review", "--endpoint", "validate", Package.fixture("validate-ftp-scheme")])
        #expect(out.status == 0)
        #expect(response(out.stdout)["allowed"] as? Bool == false)
        let fromStdin = try run(Package.binary, ["review", "--endpoint", "mutate", "-"], stdin: try Data(contentsOf: URL(fileURLWithPath: Package.fixture("mutate-no-scheme"))))
        #expect(fromStdin.status == 0)
        #expect(response(fromStdin.stdout)["patchType"] as? String == "JSONPatch")
    }

    @Test(arguments: [
        ("{", "not valid JSON"),
        ("[]", "body is a JSON array"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "request: missing"),
        ("", "empty body"),
    ])
    func reviewRefusesUnusableInputWithOneLine(_ input: String, _ message: String) throws {
        let out = try run(Package.binary, ["review", "--endpoint", "validate", "-"], stdin: Data(input.utf8))
        #expect(out.status == 2)
        #expect(out.stdout.isEmpty)
        #expect(out.stderr.contains(message))
        #expect(out.stderr.split(separator: "\n").count == 1)
    }

    @Test func reviewSurvivesHostileBodies() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let deepOut = try run(Package.binary, ["review", "--endpoint", "validate", "-"], stdin: Data(deep.utf8))
        #expect(deepOut.status == 2)
        #expect(deepOut.stderr.contains("nesting deeper than"))
        var invalidUTF8 = Data(#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""#.utf8)
        invalidUTF8.append(contentsOf: [0xFF, 0xFE])
        invalidUTF8.append(Data(#""}}"#.utf8))
        let utf8Out = try run(Package.binary, ["review", "--endpoint", "validate", "-"], stdin: invalidUTF8)
        #expect(utf8Out.status == 2)
        #expect(utf8Out.stderr.contains("UTF-8"))
        // A WasmPlugin with 200,000 credentials: answered, in well under the apiserver's timeout.
        let fixture = try String(contentsOfFile: Package.fixture("validate-seed-gateway"), encoding: .utf8)
        let many = (0..<200_000).map { "\"u\($0):p\"" }.joined(separator: ",")
        let huge = fixture.replacingOccurrences(of: #""ok:test","#, with: many + ",")
        let started = Date()
        let hugeOut = try run(Package.binary, ["review", "--endpoint", "validate", "-"], stdin: Data(huge.utf8))
        #expect(hugeOut.status == 0)
        #expect(response(hugeOut.stdout)["allowed"] as? Bool == true)
        #expect(Date().timeIntervalSince(started) < 10)
    }

    static let manifests = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: unrelated
        data:
          credentials: "password"
        ---
        apiVersion: extensions.istio.io/v1alpha1
        kind: WasmPlugin
        metadata:
          name: basic-auth-at-gateway
          namespace: bookinfo
        spec:
          targetRefs:
            - kind: Gateway
              name: bookinfo-gateway
          url: ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0
          phase: AUTHN
          pluginConfig:
            basic_auth_rules:
              - prefix: /productpage
                request_methods: [GET, POST]
                credentials: ["ok:test", "YWRtaW4zOmFkbWluMw=="]
        ---
        apiVersion: extensions.istio.io/v1alpha1
        kind: WasmPlugin
        metadata:
          name: broken
          namespace: bookinfo
        spec:
          url: ftp://registry.example.com/basic_auth.wasm
          phase: authn
          pluginConfig:
            basic_auth_rules:
              - prefix: /
                request_methods: [GET]
                credentials: ["s3cr3tpassword"]
        """

    @Test func checkReportsFileLineFieldAndExitsOneOnDenial() throws {
        let dir = try TempDir()
        try Self.manifests.write(toFile: dir.path("plugins.yaml"), atomically: true, encoding: .utf8)
        let out = try run(Package.binary, ["check", dir.path("plugins.yaml")])
        #expect(out.status == 1)
        let lines = out.stdout.split(separator: "\n").map(String.init)
        let file = dir.path("plugins.yaml")
        #expect(lines.contains { $0.hasPrefix("\(file):31: spec.url: error: unsupported url scheme \"ftp\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("\(file):32: spec.phase: error: unsupported value \"authn\"") })
        #expect(lines.contains { $0.hasPrefix("\(file):37: spec.pluginConfig.basic_auth_rules[0].credentials[0]: error:") })
        #expect(lines.contains { $0.hasPrefix("\(file):17: spec.url: note: the mutating webhook changes this (url-scheme)") })
        #expect(!out.stdout.contains("s3cr3tpassword") && !out.stdout.contains("ok:test"))
        #expect(!out.stdout.contains("unrelated"))
    }

    @Test func checkFixPrintsTheDefaultedDocuments() throws {
        let dir = try TempDir()
        let good = Self.manifests.components(separatedBy: "---\n").prefix(2).joined(separator: "---\n")
        try good.write(toFile: dir.path("good.yaml"), atomically: true, encoding: .utf8)
        let out = try run(Package.binary, ["check", "--fix", dir.path("good.yaml")])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"))
        #expect(out.stdout.contains("group: gateway.networking.k8s.io"))
        #expect(out.stdout.contains("b2s6dGVzdA=="))
        #expect(out.stdout.contains("kind: ConfigMap"))
        // The fixed output is clean: checking it again finds nothing to change.
        try out.stdout.write(toFile: dir.path("fixed.yaml"), atomically: true, encoding: .utf8)
        let again = try run(Package.binary, ["check", dir.path("fixed.yaml")])
        #expect(again.status == 0)
        #expect(!again.stdout.contains("note:"), "\(again.stdout)")
    }

    @Test func checkHonoursThePolicyAndRefusesABadOne() throws {
        let dir = try TempDir()
        try "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: x, namespace: y}\nspec:\n  url: http://example.com/x.wasm\n  sha256: \(String(repeating: "a", count: 64))\n"
            .write(toFile: dir.path("p.yaml"), atomically: true, encoding: .utf8)
        #expect(try run(Package.binary, ["check", dir.path("p.yaml")]).status == 0)
        try "insecureHTTP: deny\n".write(toFile: dir.path("policy.yaml"), atomically: true, encoding: .utf8)
        let strict = try run(Package.binary, ["check", "--policy", dir.path("policy.yaml"), dir.path("p.yaml")])
        #expect(strict.status == 1)
        #expect(strict.stdout.contains("spec.url: error: http:// downloads the module without TLS"))
        try "insecureHTTP: deny\nunknownKey: 1\n".write(toFile: dir.path("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try run(Package.binary, ["check", "--policy", dir.path("bad.yaml"), dir.path("p.yaml")])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("policy key unknownKey"))
        let missing = try run(Package.binary, ["check", dir.path("nope.yaml")])
        #expect(missing.status == 2)
        try "a: [\n".write(toFile: dir.path("broken.yaml"), atomically: true, encoding: .utf8)
        #expect(try run(Package.binary, ["check", dir.path("broken.yaml")]).status == 1)
    }

    /// Every patch of the golden mutate fixtures, applied by Python's jsonpatch (an
    /// independent RFC 6902 implementation): applies, is idempotent, and validates.
    @Test func patchesApplyWithAnIndependentImplementation() throws {
        let out = try python("check_patches.py", [Package.binary, Package.fixtures.path], timeout: 120)
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains(", 0 failed"))
    }
}
