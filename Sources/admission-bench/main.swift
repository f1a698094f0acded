import AdmissionKit
import WasmPluginPolicy

#if canImport(Glibc)
import Glibc
#endif

/// Benchmark program (not a test): time per review — decode + rules + encode — on the
/// seed review (~3 KB) and on reviews with large `pluginConfig`s, single-threaded.
///
///   swift run -c release admission-bench [--seconds S] [--endpoint validate|mutate] [FIXTURE.json ...]
///   swift run -c release admission-bench --view-size   (heap of a 50k-Service cluster view)
///
/// Prints one line per (input, endpoint): bytes, reviews run, µs per review, MB/s.

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func fail(_ message: String) {
    let line = Array("admission-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n == 0 { return out }
        out += chunk[0..<n]
    }
}

/// The seed WasmPlugin review, as the bench harness and the golden fixtures send it.
func seedReview(credentials: Int = 2, padTo bytes: Int = 0) -> [UInt8] {
    var creds = ["\"ok:test\"", "\"YWRtaW4zOmFkbWluMw==\""]
    var i = 0
    while creds.count < credentials || creds.joined(separator: ",").utf8.count < bytes {
        creds.append(i % 2 == 0 ? "\"user\(i):pass\(i)\"" : "\"\(Base64.encode("user\(i):pass\(i)".utf8))\"")
        i += 1
    }
    let spec = #"{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"bookinfo-gateway"}],"url":"oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0","phase":"AUTHN","pluginConfig":{"basic_auth_rules":[{"prefix":"/productpage","request_methods":["GET","POST"],"credentials":[\#(creds.joined(separator: ","))]}]}}"#
    let annotation = JSON.string(#"{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"annotations":{},"name":"basic-auth-at-gateway","namespace":"default"},"spec":"# + (bytes > 0 ? "{}" : spec) + "}\n").compactText
    let review = #"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"3f6b8d20-7c1e-4a59-b2d4-e8f0a6c4b217","kind":{"group":"extensions.istio.io","version":"v1alpha1","kind":"WasmPlugin"},"resource":{"group":"extensions.istio.io","version":"v1alpha1","resource":"wasmplugins"},"requestKind":{"group":"extensions.istio.io","version":"v1alpha1","kind":"WasmPlugin"},"requestResource":{"group":"extensions.istio.io","version":"v1alpha1","resource":"wasmplugins"},"name":"basic-auth-at-gateway","namespace":"default","operation":"CREATE","userInfo":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins","system:authenticated"]},"object":{"apiVersion":"extensions.istio.io/v1alpha1","kind":"WasmPlugin","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":\#(annotation)},"creationTimestamp":null,"generation":1,"name":"basic-auth-at-gateway","namespace":"default","managedFields":[{"apiVersion":"extensions.istio.io/v1alpha1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:spec":{".":{},"f:phase":{},"f:pluginConfig":{".":{},"f:basic_auth_rules":{}},"f:targetRefs":{},"f:url":{}}},"manager":"kubectl-client-side-apply","operation":"Update","time":"2026-11-20T10:00:00Z"}]},"spec":\#(spec)},"oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply","fieldValidation":"Strict"}}}"#
    return Array(review.utf8)
}

var seconds = 1.0
var endpoints = WebhookEndpoint.allCases
var inputs: [(String, [UInt8])] = []
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    if arg == "--seconds", let value = args.popFirst().flatMap(Double.init) {
        seconds = value
    } else if arg == "--endpoint", let endpoint = args.popFirst().flatMap(WebhookEndpoint.init(rawValue:)) {
        endpoints = [endpoint]
    } else if arg == "--view-size" {
        do {
            try ViewSize.run()
            exit(0)
        } catch {
            fail("view-size: \(error)")
            exit(2)
        }
    } else if let bytes = readFile(arg) {
        inputs.append((arg, bytes))
    } else {
        fail("cannot read \(arg)")
        exit(2)
    }
}
if inputs.isEmpty {
    inputs = [
        ("seed", seedReview()),
        ("100KB pluginConfig", seedReview(padTo: 100_000)),
        ("1MB pluginConfig", seedReview(padTo: 1_000_000)),
    ]
}

var settings = PolicySettings()
settings.credentials = .base64
let webhook = AdmissionWebhook.wasmPlugins(settings: settings)

print("input                      bytes  endpoint   reviews      µs/review     MB/s")
var sink = 0
for (name, body) in inputs {
    for endpoint in endpoints {
        // Warm up, then run for the time budget.
        for _ in 0..<3 { sink &+= (try? webhook.review(endpoint, body: body).body.count) ?? 0 }
        var count = 0
        let start = now()
        let budget = UInt64(seconds * 1e9)
        while now() - start < budget {
            for _ in 0..<8 {
                do {
                    sink &+= try webhook.review(endpoint, body: body).body.count
                } catch {
                    fail("\(name) is not a usable review: \(error)")
                    exit(2)
                }
            }
            count += 8
        }
        let elapsed = Double(now() - start) / 1e9
        let micros = elapsed / Double(count) * 1e6
        let mbps = Double(body.count) * Double(count) / elapsed / 1e6
        print(
            name.padding(24) + String(body.count).leftPad(8) + "  " + endpoint.rawValue.padding(9) + String(count).leftPad(9)
                + String(format2(micros)).leftPad(15) + String(format2(mbps)).leftPad(9))
    }
}
if sink == 42 { print("") }  // keep the work observable

func format2(_ v: Double) -> String {
    let scaled = (v * 100).rounded() / 100
    let text = String(scaled)
    return text.contains(".") ? text : text + ".00"
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
