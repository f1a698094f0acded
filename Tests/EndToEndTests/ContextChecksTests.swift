import Foundation
import Testing

extension LiveServers {
    /// `serve --context-checks` against the stand-in API server, as a pod would run it:
    /// in-cluster credentials from the environment and the service-account directory.
    @Suite struct ContextChecksTests {
        static var plugin60530: [String: Any] {
            [
            "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
            "metadata": ["name": "my-plugin", "namespace": "app-ns"],
            "spec": [
                "url": "oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0", "phase": "AUTHN", "failStrategy": "FAIL_OPEN",
                "pluginConfig": ["basic_auth_rules": [["prefix": "/", "request_methods": ["GET"], "credentials": ["ok:test"]]]],
                "targetRefs": [["group": "", "kind": "Service", "name": "my-app"]],
            ],
            ]
        }

        /// The AdmissionReview kube-apiserver would send for creating `object`.
        static func review(_ object: [String: Any]) throws -> Data {
            try JSONSerialization.data(withJSONObject: [
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": [
                    "uid": "e2e", "kind": ["group": "extensions.istio.io", "version": "v1alpha1", "kind": "WasmPlugin"],
                    "resource": ["group": "extensions.istio.io", "version": "v1alpha1", "resource": "wasmplugins"],
                    "name": "my-plugin", "namespace": "app-ns", "operation": "CREATE", "userInfo": ["username": "e2e"], "object": object,
                ],
            ])
        }

        struct Running {
            let api: FakeAPIServer
            let server: WebhookServer
            let serviceAccount: TempDir
            let reviewFile: String

            /// (allowed, message) of a validation of the #60530 plugin.
            func validate() throws -> (Bool, String) {
                let out = try server.curl(["-H", "Content-Type: application/json", "--data-binary", "@" + reviewFile], path: "/validate")
                let answer = response(out.stdout)
                let status = answer["status"] as? [String: Any]
                return (answer["allowed"] as? Bool ?? false, status?["message"] as? String ?? "")
            }
        }

        func start(listDelay: Double = 0) throws -> Running {
            let api = try FakeAPIServer(seed: APIObjects.scenario60530, listDelay: listDelay)
            let serviceAccount = try TempDir()
            try api.token.write(toFile: serviceAccount.path("token"), atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: api.pki.caCert, toPath: serviceAccount.path("ca.crt"))
            let server = try WebhookServer(
                ["--context-checks", "--service-account-dir", serviceAccount.url.path],
                environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(api.port)])
            let reviewFile = serviceAccount.path("review.json")
            try Self.review(Self.plugin60530).write(to: URL(fileURLWithPath: reviewFile))
            return Running(api: api, server: server, serviceAccount: serviceAccount, reviewFile: reviewFile)
        }

        /// /readyz waits for the first sync; then the #60530 plugin is denied; a label change
        /// through the watch flips the verdict within a second, and back.
        @Test func deniesIstio60530AndFollowsTheWatch() throws {
            let r = try start(listDelay: 1.5)
            defer { r.server.stop() }
            let early = try r.server.probe("/readyz", ["-w", "\n%{http_code}"])
            #expect(early.stdout.hasSuffix("503"), "readyz before the first sync: \(early.stdout)")
            #expect(early.stdout.contains("cluster view not synced"))
            #expect(try eventually(10) { try r.server.probe("/readyz", ["-w", "%{http_code}"]).stdout.hasSuffix("200") })

            let (allowed, message) = try r.validate()
            #expect(!allowed)
            #expect(message.contains("Service my-app uses waypoint gw-ns/waypoint in another namespace"), "\(message)")
            #expect(message.contains("create the WasmPlugin in namespace gw-ns"))

            // Bind my-app to the waypoint of its own namespace: admitted within a second.
            let changed = Date()
            try r.api.apply([APIObjects.service("app-ns", "my-app", labels: APIObjects.ownWaypoint)])
            #expect(try eventually(1) { try r.validate().0 }, "verdict did not change within 1 s of the watch event")
            let seconds = Date().timeIntervalSince(changed)
            #expect(seconds < 1)
            // And back to the cross-namespace waypoint: denied again.
            try r.api.apply([APIObjects.service("app-ns", "my-app", labels: APIObjects.crossNamespaceWaypoint)])
            #expect(try eventually(1) { try !r.validate().0 })

            let metrics = try r.server.probe("/metrics").stdout
            #expect(metrics.contains(#"webhook_cluster_view_synced{kind="Service"} 1"#))
            #expect(metrics.contains(#"webhook_cluster_view_objects{kind="Namespace"} 2"#))
            let lines = r.server.logLines().filter { $0["msg"] as? String == "cluster view synced" }
            #expect(lines.count == 5, "one sync line per kind: \(lines)")
        }

        /// The projected token rotates: the webhook reads the file again and keeps watching.
        @Test func followsARotatedServiceAccountToken() throws {
            let r = try start()
            defer { r.server.stop() }
            #expect(try eventually(10) { try r.server.probe("/readyz", ["-w", "%{http_code}"]).stdout.hasSuffix("200") })
            #expect(try !r.validate().0)
            try r.api.rotate(to: "rotated-token")
            try "rotated-token".write(toFile: r.serviceAccount.path("token"), atomically: true, encoding: .utf8)
            try r.api.drop()
            try r.api.apply([APIObjects.service("app-ns", "my-app", labels: APIObjects.ownWaypoint)])
            #expect(try eventually(5) { try r.validate().0 })
            // Reviews never waited on the watch: a broken watch shows in the log once.
            let failing = r.server.logLines().filter { $0["msg"] as? String == "cluster view watch failing; reviews read the last known state, retrying with backoff" }
            #expect(failing.count <= 5, "at most one line per kind: \(failing.count)")
            #expect(!((try? String(contentsOfFile: r.server.log, encoding: .utf8)) ?? "").contains("rotated-token"), "the token must never be logged")
        }

        /// Without the credentials a pod has, --context-checks refuses to start with a clear message.
        @Test func refusesToStartWithoutCredentials() throws {
            let dir = try TempDir()
            let out = try run(Package.binary, ["serve", "--listen", "127.0.0.1:0", "--probe-listen", "off", "--context-checks", "--service-account-dir", dir.url.path], timeout: 20)
            #expect(out.status == 2)
            #expect(out.stderr.contains("KUBERNETES_SERVICE_HOST") || out.stderr.contains("cannot read"), "\(out.stderr)")
        }
    }
}
