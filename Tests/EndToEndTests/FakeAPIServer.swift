import Foundation
import Testing

/// `Tests/scripts/fake_apiserver.py` on a free loopback port: TLS with a bearer token,
/// list and watch as the Kubernetes API documents them, and an admin port to change
/// objects, expire versions (410), drop watch connections and rotate the token.
final class FakeAPIServer {
    let process = Process()
    let dir: TempDir
    let pki: TestPKI
    private(set) var port = 0
    private(set) var adminPort = 0
    private(set) var token: String

    init(
        seed: [[String: Any]], token: String = "token-1", missing: [String] = [], bookmarkInterval: Double = 0.5, listDelay: Double = 0,
        continueGone: Int = 0, alwaysGone: Bool = false
    ) throws {
        dir = try TempDir()
        pki = try TestPKI(dir, name: "apiserver")
        self.token = token
        let seedPath = dir.path("seed.json")
        try JSONSerialization.data(withJSONObject: seed).write(to: URL(fileURLWithPath: seedPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", Package.scripts.appendingPathComponent("fake_apiserver.py").path, "--cert", pki.serverCert, "--key", pki.serverKey, "--token", token, "--seed", seedPath, "--bookmark-interval", String(bookmarkInterval), "--list-delay", String(listDelay)]
            + missing.flatMap { ["--missing", $0] } + ["--continue-gone", String(continueGone)] + (alwaysGone ? ["--always-gone"] : [])
        let out = dir.path("stdout")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, port == 0, process.isRunning {
            if let line = try? String(contentsOfFile: out, encoding: .utf8), line.hasSuffix("\n") {
                let ports = json(line)
                port = ports["port"] as? Int ?? 0
                adminPort = ports["admin"] as? Int ?? 0
            }
            usleep(20_000)
        }
        if port == 0 {
            stop()
            throw TestFailure("fake API server did not start")
        }
    }

    var url: String { "https://127.0.0.1:\(port)" }

    /// A kubeconfig for this server whose user reads its token from `tokenFile`.
    func kubeconfig(tokenFile: String) throws -> String {
        let path = dir.path("kubeconfig-\(UUID().uuidString)")
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let text = """
            apiVersion: v1
            kind: Config
            current-context: test
            clusters:
            - name: fake
              cluster:
                server: \(url)
                certificate-authority: \(pki.caCert)
            contexts:
            - name: test
              context: {cluster: fake, user: webhook}
            users:
            - name: webhook
              user: {tokenFile: \(tokenFile)}
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @discardableResult
    func admin(_ path: String, _ body: Any = [String: Any]()) throws -> [String: Any] {
        let file = dir.path("admin-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let out = try run("curl", ["-sS", "--max-time", "10", "-X", "POST", "--data-binary", "@" + file, "http://127.0.0.1:\(adminPort)\(path)"])
        guard out.status == 0 else { throw TestFailure("admin \(path): \(out.stderr)") }
        return json(out.stdout)
    }

    func apply(_ objects: [[String: Any]]) throws { try admin("/apply", objects) }
    func delete(kind: String, namespace: String = "", name: String) throws {
        try admin("/delete", ["kind": kind, "namespace": namespace, "name": name])
    }
    /// Sends ERROR 410 to every open watch and compacts: their versions are gone.
    func expire() throws { try admin("/expire") }
    /// Cuts every watch connection mid-stream.
    func drop() throws { try admin("/drop") }
    /// From now on only `token` is accepted.
    func rotate(to token: String) throws {
        self.token = token
        try admin("/token", ["token": token])
    }

    func stats() throws -> [String: Any] {
        let out = try run("curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(adminPort)/stats"])
        return json(out.stdout)
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// API objects for the tests, as a cluster would hold them.
enum APIObjects {
    static func namespace(_ name: String, labels: [String: String] = [:]) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name, "labels": labels]]
    }
    static func service(_ namespace: String, _ name: String, labels: [String: String] = [:]) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Service", "metadata": ["name": name, "namespace": namespace, "labels": labels], "spec": ["ports": [["port": 80]]]]
    }
    static func gateway(_ namespace: String, _ name: String, className: String) -> [String: Any] {
        ["apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": ["name": name, "namespace": namespace], "spec": ["gatewayClassName": className, "listeners": []]]
    }
    static func gatewayClass(_ name: String, controller: String) -> [String: Any] {
        ["apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": ["name": name], "spec": ["controllerName": controller]]
    }

    static let crossNamespaceWaypoint = ["istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "gw-ns"]
    static let ownWaypoint = ["istio.io/use-waypoint": "waypoint"]

    /// istio#60530's cluster: my-app in app-ns bound to the waypoint in gw-ns.
    static var scenario60530: [[String: Any]] {
        [
        namespace("app-ns", labels: ["istio.io/dataplane-mode": "ambient"]), namespace("gw-ns", labels: ["istio.io/dataplane-mode": "ambient"]),
        service("app-ns", "my-app", labels: crossNamespaceWaypoint),
        gateway("gw-ns", "waypoint", className: "istio-waypoint"), gateway("app-ns", "waypoint", className: "istio-waypoint"),
        gatewayClass("istio-waypoint", controller: "istio.io/mesh-controller"),
        ]
    }
}
