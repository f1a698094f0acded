import Foundation
import Testing

/// The suites that start servers and load generators run one test at a time, across
/// suites too: on a 2-core machine a hostile run beside a timeout test makes both flaky.
@Suite(.serialized) enum LiveServers {}

/// Paths of the package and its built binary (WEBHOOK_BINARY overrides).
enum Package {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The binary built beside this test bundle, in the same configuration (debug, release,
    /// sanitized): the test target depends on it, so it is never stale.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["WEBHOOK_BINARY"] { return path }
        let bundleDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundleDirectory.appendingPathComponent("wasmplugin-webhook").path
    }
    /// The environment for processes the tests start. Under `scripts/test.sh --sanitize
    /// address`, the webhook's processes check for leaks (WEBHOOK_ASAN_OPTIONS) while the
    /// test runner does not.
    static var childEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let options = environment["WEBHOOK_ASAN_OPTIONS"] { environment["ASAN_OPTIONS"] = options }
        return environment
    }
    static var scripts: URL { root.appendingPathComponent("Tests/scripts") }
    static var fixtures: URL { root.appendingPathComponent("Tests/WasmPluginPolicyTests/Fixtures") }
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name + ".request.json").path }
}

struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command to completion (bounded by `timeout` seconds).
@discardableResult
func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, timeout: Double = 60) throws -> Output {
    let process = Process()
    process.environment = Package.childEnvironment
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    if let stdin {
        let input = dir.appendingPathComponent("in")
        try stdin.write(to: input)
        process.standardInput = try FileHandle(forReadingFrom: input)
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        Issue.record("\(executable) \(arguments.joined(separator: " ")) timed out after \(timeout)s")
    }
    return Output(
        status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

func python(_ script: String, _ arguments: [String], timeout: Double = 60) throws -> Output {
    try run("python3", [Package.scripts.appendingPathComponent(script).path] + arguments, timeout: timeout)
}

/// A scratch directory removed at the end of the test.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("wasmplugin-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Test certificates made with the openssl CLI at test time (none are committed).
struct TestPKI {
    let dir: TempDir
    let name: String
    var caCert: String { dir.path("\(name)-ca.pem") }
    var serverCert: String { dir.path("\(name)-server.pem") }
    var serverKey: String { dir.path("\(name)-server.key") }
    var clientCert: String { dir.path("\(name)-client.pem") }
    var clientKey: String { dir.path("\(name)-client.key") }

    init(_ dir: TempDir, name: String = "a", days: Int = 2) throws {
        self.dir = dir
        self.name = name
        let p = { (f: String) in dir.path("\(name)-\(f)") }
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", String(days), "-subj", "/CN=test-ca-\(name)"])
        for (role, ext) in [("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"), ("client", "extendedKeyUsage=clientAuth")] {
            try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("\(role).key"), "-out", p("\(role).csr"), "-subj", "/CN=\(role == "server" ? "localhost" : "kube-apiserver")"])
            try ext.write(toFile: p("\(role).ext"), atomically: true, encoding: .utf8)
            try Self.openssl(["x509", "-req", "-in", p("\(role).csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("\(role).pem"), "-days", String(days), "-extfile", p("\(role).ext")])
        }
    }

    static func openssl(_ args: [String]) throws {
        let out = try run("openssl", args)
        if out.status != 0 { throw TestFailure("openssl \(args.first ?? ""): \(out.stderr)") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `wasmplugin-webhook serve` on a free loopback port, with its log in a file.
final class WebhookServer {
    let process = Process()
    let log: String
    private(set) var port = 0
    /// The plain-HTTP probe port (healthz, readyz, metrics).
    private(set) var probePort = 0
    let ca: String
    private let dir: TempDir
    /// The server wrote its own development CA (no `pki`): `stop` kills it, so the
    /// directory would stay behind (a test run left about a hundred in /tmp).
    private let ownsDevelopmentCA: Bool

    /// `wrapper` runs the binary through another command that execs it (e.g. `prlimit`).
    init(_ extra: [String] = [], pki: TestPKI? = nil, threads: Int = 2, wrapper: [String] = [], environment: [String: String] = [:]) throws {
        dir = try TempDir()
        ownsDevelopmentCA = pki == nil
        log = dir.path("server.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.environment = Package.childEnvironment.merging(environment) { $1 }
        process.executableURL = URL(fileURLWithPath: wrapper.first ?? Package.binary)
        var args: [String] = Array(wrapper.dropFirst()) + (wrapper.isEmpty ? [] : [Package.binary]) + ["serve", "--listen", "127.0.0.1:0", "--probe-listen", "127.0.0.1:0", "--threads", String(threads)]
        if let pki { args += ["--tls-cert", pki.serverCert, "--tls-key", pki.serverKey] }
        process.arguments = args + extra
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var ca = pki?.caCert ?? ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            for line in Self.parseLog(log) {
                if pki == nil, let file = line["caFile"] as? String { ca = file }
                if line["msg"] as? String == "serving", let address = line["address"] as? String, let p = Int(address.split(separator: ":").last ?? "") {
                    port = p
                    if let probe = line["probeAddress"] as? String { probePort = Int(probe.split(separator: ":").last ?? "") ?? 0 }
                }
            }
            if port != 0 { break }
            if !process.isRunning { break }
            usleep(50_000)
        }
        self.ca = ca
        if port == 0 {
            stop()
            throw TestFailure("server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    var url: String { "https://127.0.0.1:\(port)" }
    var localhostURL: String { "https://localhost:\(port)" }

    func logLines() -> [[String: Any]] { Self.parseLog(log) }

    static func parseLog(_ log: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for exit; returns the status, or nil if it did not exit in time.
    func waitForExit(_ seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
        }
        let directory = (ca as NSString).deletingLastPathComponent
        if ownsDevelopmentCA, directory.hasPrefix("/tmp/wasmplugin-webhook-dev-") {
            unlink(ca)
            rmdir(directory)
        }
    }

    /// curl against this server, verifying its certificate.
    func curl(_ args: [String], path: String, cacert: String? = nil) throws -> Output {
        try run("curl", ["-sS", "--max-time", "20", "--cacert", cacert ?? ca] + args + [localhostURL + path])
    }

    /// curl against the plain-HTTP probe port.
    func probe(_ path: String, _ args: [String] = []) throws -> Output {
        try run("curl", ["-sS", "--max-time", "20"] + args + ["http://127.0.0.1:\(probePort)" + path])
    }

    /// The server's resident memory in MiB (VmRSS).
    var rssMiB: Double {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) / 1024
    }

    /// POSTs a review fixture; returns (HTTP status and version line, body).
    func post(_ fixture: String, to path: String = "/validate", _ extra: [String] = []) throws -> (String, String) {
        let out = try curl(["-w", "\n%{http_code} %{http_version}", "-H", "Content-Type: application/json", "--data-binary", "@" + Package.fixture(fixture)] + extra, path: path)
        let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
    }

    deinit { stop() }
}

func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
}

func response(_ text: String) -> [String: Any] {
    json(text)["response"] as? [String: Any] ?? [:]
}
