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
        #expect(lines.contains { $0.hasPrefix("\(file):17: spec.url: note: the mutating webhook changes this [url-scheme]") })
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

    /// Scalars whose plain spelling would read back as another type, comments, odd
    /// spacing, flow and block styles, and fields the defaulter edits and removes.
    static let tricky = """
        # Team A's plugins: this comment and every untouched line must survive --fix.
        apiVersion: extensions.istio.io/v1alpha1
        kind: WasmPlugin
        metadata:
          name: basic-auth-at-gateway   # the gateway one
          namespace: bookinfo
        spec:
          targetRef:
            kind: Gateway
            name: bookinfo-gateway
          url: ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0
          pluginConfig:
            enabled: "true"
            version: "1.10"
            empty: ""
            octal: "010"
            answer: "yes"
            tilde: "~"
            date: "2001-12-14"
            big: 12345678901234567890
            realm:    'bookinfo'
            basic_auth_rules:
              - prefix: /productpage
                request_methods: [GET, POST]
                credentials: ["ok:test", 'YWRtaW4zOmFkbWluMw']
        ---
        apiVersion: extensions.istio.io/v1alpha1
        kind: WasmPlugin
        metadata: {name: flow, namespace: bookinfo}
        spec: {selector: {matchLabels: {istio.io/gateway-name: gw}}, url: "oci://ghcr.io/x/basic_auth:1", phase: AUTHN}

        """

    @Test func checkFixEditsTheTextInPlaceAndKeepsTypes() throws {
        let dir = try TempDir()
        let file = dir.path("plugins.yaml")
        try Self.tricky.write(toFile: file, atomically: true, encoding: .utf8)
        let printed = try run(Package.binary, ["check", "--fix", file])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == Self.tricky, "--fix without --write must not touch the file")
        let fixed = printed.stdout
        // Untouched lines byte for byte (the comment, the odd spacing, the quoted scalars).
        let kept = Self.tricky.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.contains("targetRef:") && !$0.contains("kind: Gateway") && !$0.contains("name: bookinfo-gateway") && !$0.contains("url:")
                && !$0.contains("credentials:") && !$0.hasPrefix("spec: {")
        }
        let fixedLines = Set(fixed.split(separator: "\n", omittingEmptySubsequences: false))
        for line in kept { #expect(fixedLines.contains(line), "line lost or changed: \(line)") }
        #expect(fixed.contains("  url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0\n"))
        #expect(fixed.contains(#"credentials: ["b2s6dGVzdA==", 'YWRtaW4zOmFkbWluMw==']"#))
        // An independent YAML reader sees the same values, with the same types, and the
        // defaulter's changes.
        let compare = try run(
            "/usr/bin/python3",
            [
                "-c",
                """
                import sys, yaml
                before = list(yaml.safe_load_all(open(sys.argv[1])))
                after = list(yaml.safe_load_all(sys.stdin))
                assert after[0]["spec"]["pluginConfig"] | {"basic_auth_rules": None} == before[0]["spec"]["pluginConfig"] | {"basic_auth_rules": None}, after[0]
                assert after[0]["spec"]["targetRefs"] == [{"kind": "Gateway", "name": "bookinfo-gateway", "group": "gateway.networking.k8s.io"}]
                assert "targetRef" not in after[0]["spec"] and after[0]["spec"]["phase"] == "AUTHN"
                assert after[1]["spec"] == {"url": "oci://ghcr.io/x/basic_auth:1", "phase": "AUTHN", "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}]}, after[1]
                print("same")
                """, file,
            ], stdin: Data(fixed.utf8))
        #expect(compare.stdout == "same\n", "\(compare.stderr)")
        // The fixed file is clean, and --write twice changes nothing the second time.
        try fixed.write(toFile: dir.path("fixed.yaml"), atomically: true, encoding: .utf8)
        let again = try run(Package.binary, ["check", dir.path("fixed.yaml")])
        #expect(again.status == 0 && !again.stdout.contains("note:"), "\(again.stdout)")
        #expect(try run(Package.binary, ["check", "--fix", "--write", file]).status == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == fixed)
        let second = try run(Package.binary, ["check", "--fix", "--write", file])
        #expect(second.status == 0 && second.stderr.contains("0 fixed in place"), "\(second.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == fixed)
    }

    /// `kubectl get wasmplugins -A -o json|yaml` prints a List: its items are checked, and
    /// findings name the item.
    @Test func checkReadsKubectlLists() throws {
        let item = #"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"name":"a","namespace":"ns"},"spec":{"url":"ftp://x/y.wasm"}}"#
        let list = #"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":[\#(item),{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]}"#
        let out = try run(Package.binary, ["check", "-"], stdin: Data(list.utf8))
        #expect(out.status == 1)
        #expect(out.stdout.hasPrefix("-:1: items[0].spec.url: error: unsupported url scheme \"ftp\""), "\(out.stdout)")
        #expect(out.stdout.contains("[url-scheme-supported]"))
        #expect(out.stderr == "check: 1 WasmPlugin in 1 file: 1 denied (1 error), 0 warnings\n")
        let yamlList = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: extensions.istio.io/v1alpha1\n  kind: WasmPlugin\n  metadata: {name: b}\n  spec:\n    url: oci://ghcr.io/x/y:latest\n"
        let yamlOut = try run(Package.binary, ["check", "-"], stdin: Data(yamlList.utf8))
        #expect(yamlOut.status == 0)
        #expect(yamlOut.stdout.contains("-:8: items[0].spec.url: warning: image tag :latest moves"), "\(yamlOut.stdout)")
        // An empty audit says so instead of printing nothing.
        let empty = try run(Package.binary, ["check", "-"], stdin: Data(#"{"apiVersion":"v1","kind":"List","items":[]}"#.utf8))
        #expect(empty.status == 0 && empty.stdout.isEmpty)
        #expect(empty.stderr == "check: no WasmPlugin found in 1 file\n")
    }

    /// `kubectl get wasmplugins -A -o yaml | check --cluster dump -`: an audit of a live
    /// cluster, with the dump as YAML (multi-document) or as kubectl's JSON List.
    @Test func checkAuditsAgainstAClusterDump() throws {
        let dir = try TempDir()
        let objects = APIObjects.scenario60530 + [APIObjects.service("app-ns", "plain")]
        let list = try JSONSerialization.data(withJSONObject: ["apiVersion": "v1", "kind": "List", "items": objects])
        try list.write(to: URL(fileURLWithPath: dir.path("dump.json")))
        let yaml = objects.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.joined(separator: "\n---\n")
        try yaml.write(toFile: dir.path("dump.yaml"), atomically: true, encoding: .utf8)
        let plugins = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: extensions.istio.io/v1alpha1
              kind: WasmPlugin
              metadata: {name: my-plugin, namespace: app-ns}
              spec:
                url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0
                phase: AUTHN
                pluginConfig: {basic_auth_rules: [{prefix: /, request_methods: [GET], credentials: ["ok:test"]}]}
                targetRefs:
                - {group: "", kind: Service, name: my-app}
                - {group: "", kind: Service, name: plain}
            """
        for dump in ["dump.json", "dump.yaml"] {
            let out = try run(Package.binary, ["check", "--cluster", dir.path(dump), "-"], stdin: Data(plugins.utf8))
            #expect(out.status == 1, "\(dump): \(out.stderr)")
            #expect(out.stdout.contains("-:12: items[0].spec.targetRefs[0]: error: Service my-app uses waypoint gw-ns/waypoint in another namespace"), "\(dump): \(out.stdout)")
            #expect(out.stdout.contains("[context-waypoint-other-namespace]"))
            #expect(out.stdout.contains("-:13: items[0].spec.targetRefs[1]: warning: Service plain is not bound to a waypoint"), "\(out.stdout)")
            // The view knows both Services: no static "waypoints only" guess beside them.
            #expect(!out.stdout.contains("targetref-waypoint-only"))
        }
        // Without --cluster the same plugins get only the static rules.
        let plain = try run(Package.binary, ["check", "-"], stdin: Data(plugins.utf8))
        #expect(plain.status == 0)
        #expect(!plain.stdout.contains("context-") && plain.stdout.contains("targetref-waypoint-only"))
        // A dump holding none of the view's kinds is a usage error, not a silent no-op.
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".write(toFile: dir.path("empty.yaml"), atomically: true, encoding: .utf8)
        let empty = try run(Package.binary, ["check", "--cluster", dir.path("empty.yaml"), "-"], stdin: Data(plugins.utf8))
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("no Namespace, Service, ServiceEntry, Gateway or GatewayClass found"))
    }

    @Test func checkFormatsForToolsAndWorkflows() throws {
        let dir = try TempDir()
        try Self.manifests.write(toFile: dir.path("plugins.yaml"), atomically: true, encoding: .utf8)
        let json = try run(Package.binary, ["check", "--format", "json", dir.path("plugins.yaml")])
        #expect(json.status == 1)
        let findings = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let ftp = try #require(findings.first { $0["rule"] as? String == "url-scheme-supported" })
        #expect(ftp["file"] as? String == dir.path("plugins.yaml") && ftp["line"] as? Int == 31 && ftp["column"] as? Int == 3)
        #expect(ftp["field"] as? String == "spec.url" && ftp["severity"] as? String == "error")
        #expect((ftp["message"] as? String)?.hasPrefix("unsupported url scheme") == true)
        #expect(!json.stdout.contains("s3cr3tpassword"))
        let github = try run(Package.binary, ["check", "--format", "github", dir.path("plugins.yaml")])
        let lines = github.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("::error file=\(dir.path("plugins.yaml")),line=31,col=3,title=url-scheme-supported::spec.url: unsupported url scheme") }, "\(github.stdout)")
        #expect(lines.allSatisfy { $0.hasPrefix("::error ") || $0.hasPrefix("::warning ") || $0.hasPrefix("::notice ") })
        #expect(try run(Package.binary, ["check", "--write", dir.path("plugins.yaml")]).status == 64)
        #expect(try run(Package.binary, ["check", "--fix", "--write", "-"]).status == 64)
    }

    /// Every patch of the golden mutate fixtures, applied by Python's jsonpatch (an
    /// independent RFC 6902 implementation): applies, is idempotent, and validates.
    @Test func patchesApplyWithAnIndependentImplementation() throws {
        let out = try python("check_patches.py", [Package.binary, Package.fixtures.path], timeout: 120)
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains(", 0 failed"))
    }
}
