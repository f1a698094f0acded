import Foundation
import Testing

extension LiveServers {
    /// manifests/ and certs/: rendered with kubectl kustomize, validated against the
    /// Kubernetes API schemas, and the certs script's output served and verified the way
    /// kube-apiserver connects (SNI <service>.<namespace>.svc, the produced CA).
    @Suite(.serialized) struct DeploymentTests {
        func copyManifests(into dir: TempDir) throws -> String {
            let target = dir.path("manifests")
            try FileManager.default.copyItem(atPath: Package.root.appendingPathComponent("manifests").path, toPath: target)
            try? FileManager.default.removeItem(atPath: target + "/overlays/static-ca/generated")
            return target
        }

        @Test func everyOverlayRendersAndValidates() throws {
            let dir = try TempDir()
            let manifests = try copyManifests(into: dir)
            let certs = try run(Package.root.appendingPathComponent("certs/make-certs.sh").path, ["--out", manifests + "/overlays/static-ca/generated"])
            #expect(certs.status == 0, "\(certs.stderr)")
            let out = try python("check_manifests.py", [manifests], timeout: 120)
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            #expect(out.stdout.contains("manifests: 0 problems"))
        }

        @Test func theManifestCheckCatchesBrokenManifests() throws {
            let dir = try TempDir()
            let manifests = try copyManifests(into: dir)
            _ = try run(Package.root.appendingPathComponent("certs/make-certs.sh").path, ["--out", manifests + "/overlays/static-ca/generated"])
            let deployment = manifests + "/base/deployment.yaml"
            let text = try String(contentsOfFile: deployment, encoding: .utf8)
            try text.replacingOccurrences(of: "replicas: 2", with: "replicas: 1").replacingOccurrences(of: "path: /readyz", with: "path: /ready")
                .write(toFile: deployment, atomically: true, encoding: .utf8)
            let webhooks = manifests + "/base/webhooks.yaml"
            try (try String(contentsOfFile: webhooks, encoding: .utf8)).replacingOccurrences(of: "sideEffects: None", with: "sideEffect: None")
                .write(toFile: webhooks, atomically: true, encoding: .utf8)
            let rbac = manifests + "/components/context-checks/rbac.yaml"
            try (try String(contentsOfFile: rbac, encoding: .utf8)).replacingOccurrences(of: "resources: [namespaces, services]\n    verbs: [get, list, watch]", with: "resources: [namespaces, services, secrets]\n    verbs: [get, list, watch, create]")
                .write(toFile: rbac, atomically: true, encoding: .utf8)
            let out = try python("check_manifests.py", [manifests], timeout: 120)
            #expect(out.status == 1)
            #expect(out.stdout.contains("context-checks: read-only verbs"))
            #expect(out.stdout.contains("context-checks: RBAC on exactly the view's kinds"))
            #expect(out.stdout.contains("at least 2 replicas"))
            #expect(out.stdout.contains("readinessProbe /readyz"))
            #expect(out.stdout.contains("sideEffect"))  // unknown field caught by the strict schema
        }

        @Test func certsScriptOutputIsServedAsTheApiserverConnects() throws {
            let dir = try TempDir()
            let out = dir.path("certs")
            let script = Package.root.appendingPathComponent("certs/make-certs.sh").path
            let made = try run(script, ["--service", "wasm-hook", "--namespace", "mesh-tools", "--out", out])
            #expect(made.status == 0, "\(made.stderr)")
            // Never overwrites keys without --force.
            let again = try run(script, ["--service", "wasm-hook", "--namespace", "mesh-tools", "--out", out])
            #expect(again.status == 1 && again.stderr.contains("--force"))
            let attributes = try FileManager.default.attributesOfItem(atPath: out + "/tls.key")
            #expect((attributes[.posixPermissions] as? Int ?? 0o777) & 0o077 == 0)
            let secret = try String(contentsOfFile: out + "/secret.yaml", encoding: .utf8)
            #expect(secret.contains("type: kubernetes.io/tls") && secret.contains("namespace: mesh-tools"))

            let server = try WebhookServer(["--tls-cert", out + "/tls.crt", "--tls-key", out + "/tls.key"])
            for host in ["wasm-hook.mesh-tools.svc", "wasm-hook.mesh-tools.svc.cluster.local"] {
                let response = try run("curl", [
                    "-sS", "--max-time", "10", "--http1.1", "--resolve", "\(host):\(server.port):127.0.0.1", "--cacert", out + "/ca.crt",
                    "-H", "Content-Type: application/json", "-H", "User-Agent: kube-apiserver-admission",
                    "--data-binary", "@" + Package.fixture("validate-seed-waypoint"), "https://\(host):\(server.port)/validate?timeout=10s",
                ])
                #expect(response.status == 0, "\(response.stderr)")
                #expect(WasmPluginResponse.allowed(response.stdout) == true)
            }
            // The name the certificate is not for is refused by a verifying client.
            let wrong = try run("curl", ["-sS", "--max-time", "10", "--resolve", "other.mesh-tools.svc:\(server.port):127.0.0.1", "--cacert", out + "/ca.crt", "https://other.mesh-tools.svc:\(server.port)/healthz"])
            #expect(wrong.status != 0)
        }
    }
}

enum WasmPluginResponse {
    static func allowed(_ text: String) -> Bool? { response(text)["allowed"] as? Bool }
}
