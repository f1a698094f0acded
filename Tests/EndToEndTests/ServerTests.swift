import Foundation
import Testing

extension LiveServers {
    /// The built binary's `serve` on real loopback sockets with real TLS, driven by real
    /// clients: curl (HTTP/1.1 and HTTP/2), Python's ssl/http.client, h2load, openssl.
    /// Serialized: these start servers and load generators on a 2-core machine.
    @Suite(.serialized) struct ServerTests {
        /// The harness kills servers (SIGKILL), which cannot remove their development CA;
        /// `stop` does. Without it each test run left about a hundred directories in /tmp.
        @Test func stoppingAServerRemovesItsDevelopmentCA() throws {
            let server = try WebhookServer()
            let directory = (server.ca as NSString).deletingLastPathComponent
            #expect(directory.hasPrefix("/tmp/wasmplugin-webhook-dev-"), "\(server.ca)")
            #expect(FileManager.default.fileExists(atPath: server.ca))
            server.stop()
            #expect(!FileManager.default.fileExists(atPath: directory))
        }

        @Test func developmentCertificateServesBothProtocols() throws {
            let server = try WebhookServer()
            #expect(server.ca.hasSuffix("/ca.pem"))
            for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
                let (status, body) = try server.post("validate-seed-gateway", to: "/validate?timeout=10s", [flag])
                #expect(status == "200 \(version)")
                #expect(response(body)["allowed"] as? Bool == true)
                #expect(response(body)["uid"] as? String == json(try String(contentsOfFile: Package.fixture("validate-seed-gateway"), encoding: .utf8)).request?["uid"] as? String)
            }
            let (_, denied) = try server.post("validate-ftp-scheme")
            #expect(response(denied)["allowed"] as? Bool == false)
            #expect(((response(denied)["status"] as? [String: Any])?["message"] as? String)?.contains("spec.url: unsupported url scheme") == true)
            let (_, mutated) = try server.post("mutate-no-scheme", to: "/mutate", ["--http2"])
            #expect(response(mutated)["patchType"] as? String == "JSONPatch")
            // One JSON log line per decision, with no credential in it.
            // Decision lines are flushed per loop batch, at the latest after the loop's 1 s wake-up.
            var decisions: [[String: Any]] = []
            for _ in 0..<40 where decisions.count < 4 {
                usleep(100_000)
                decisions = server.logLines().filter { $0["msg"] as? String == "admission decision" }
            }
            #expect(decisions.count == 4)
            #expect(decisions.allSatisfy { $0["uid"] != nil && $0["operation"] as? String == "CREATE" && $0["latencyMicros"] != nil })
            #expect(decisions.allSatisfy { $0["kind"] as? String == "extensions.istio.io/v1alpha1/WasmPlugin" && $0["name"] is String })
            // Loop threads flush their lines separately: compare without order.
            let summary = decisions.map { d in
                "\(d["endpoint"] as? String ?? "-") \((d["allowed"] as? Bool).map { $0 ? "allowed" : "denied" } ?? "-") errors=\(d["errors"] as? Int ?? -1) patchOps=\(d["patchOps"] as? Int ?? -1)"
            }
            #expect(
                summary.sorted() == ["mutate allowed errors=0 patchOps=2", "validate allowed errors=0 patchOps=0", "validate allowed errors=0 patchOps=0", "validate denied errors=1 patchOps=0"],
                "\(summary)")
            let log = try String(contentsOfFile: server.log, encoding: .utf8)
            #expect(!log.contains("ok:test") && !log.contains("YWRtaW4zOmFkbWluMw"))
        }

        @Test func apiserverLikeHTTP1ClientsOverParallelKeepAliveConnections() throws {
            let pki = try TestPKI(try TempDir())
            let server = try WebhookServer(pki: pki)
            let out = try python("wire.py", ["apiserver", "127.0.0.1", String(server.port), pki.caCert, Package.fixture("validate-seed-gateway"), "6", "25"])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            #expect(out.stdout.contains("ok 150 reviews"))
        }

        @Test func pipelinedRequestsAreAnsweredInOrder() throws {
            let server = try WebhookServer()
            let out = try python("wire.py", ["pipeline", "127.0.0.1", String(server.port), server.ca] + ["validate-seed-gateway", "validate-ftp-scheme", "mutate-no-scheme", "validate-seed-service"].map(Package.fixture))
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        }

        /// Regression: a client that sent its request and close_notify together lost the
        /// answer (the read loop met the close and closed before writing; 0 of 20 answered).
        @Test func anAnswerStillGoesOutAfterTheClientClosesItsSide() throws {
            let server = try WebhookServer()
            let out = try python("wire.py", ["halfclose", "127.0.0.1", String(server.port), server.ca, Package.fixture("validate-seed-gateway"), "10"])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        }

        @Test func pipelinedFloodIsThrottledNotDropped() throws {
            let server = try WebhookServer()
            // 3,000 denials of about 1.5 KiB each: well past the 1 MiB output backlog at which
            // the connection stops reading until the client catches up.
            let out = try python("wire.py", ["flood", "127.0.0.1", String(server.port), server.ca, "3000", Package.fixture("validate-ftp-scheme")], timeout: 120)
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            #expect(try server.curl([], path: "/healthz").stdout == "ok\n")
        }

        @Test func connectionLimitClosesExtraConnections() throws {
            let server = try WebhookServer(["--max-connections", "3"], threads: 1)
            let out = try python("wire.py", ["maxconn", "127.0.0.1", String(server.port), server.ca, "3"])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            #expect(server.logLines().contains { ($0["msg"] as? String)?.hasPrefix("connection limit reached") == true })
        }

        @Test func chunkedBodiesAndExpectContinue() throws {
            let server = try WebhookServer()
            let (status, body) = try server.post("validate-seed-gateway", ["--http1.1", "-H", "Transfer-Encoding: chunked"])
            #expect(status == "200 1.1")
            #expect(response(body)["allowed"] as? Bool == true)
            let out = try python("wire.py", ["expect100", "127.0.0.1", String(server.port), server.ca, Package.fixture("validate-seed-gateway")])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        }

        @Test func protocolErrorsGetClearStatuses() throws {
            let server = try WebhookServer(["--max-body-bytes", "2048"])
            let port = String(server.port)
            func raw(_ status: Int, _ request: String) throws {
                let out = try python("wire.py", ["raw", "127.0.0.1", port, server.ca, String(status), Data(request.utf8).map { String(format: "%02x", $0) }.joined()])
                #expect(out.status == 0, "\(status): \(out.stdout)\(out.stderr)")
            }
            try raw(400, "GARBAGE\r\n\r\n")
            try raw(400, "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")
            try raw(505, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
            try raw(431, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20000))\r\n\r\n")
            try raw(413, "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
            try raw(400, "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}")
            try raw(501, "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
            // Chunked bodies count against the limit too.
            let chunk = String(repeating: "a", count: 3000)
            try raw(413, "POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n\(chunk)\r\nbb8\r\n\(chunk)\r\n0\r\n\r\n")

            func status(_ args: [String], _ path: String) throws -> String {
                try server.curl(["-o", "/dev/null", "-w", "%{http_code}"] + args, path: path).stdout
            }
            #expect(try status([], "/nope") == "404")
            #expect(try status([], "/validate") == "405")
            #expect(try status(["-X", "POST"], "/healthz") == "405")
            #expect(try status(["--data", "{}", "-H", "Content-Type: text/plain"], "/validate") == "415")
            #expect(try status(["--http2", "--data", "{\"x\":", "-H", "Content-Type: application/json"], "/validate") == "400")
            #expect(try status(["--data", "[]", "-H", "Content-Type: application/json"], "/mutate") == "400")
            #expect(try status(["--http2", "--data-binary", "@" + Package.fixture("validate-seed-gateway"), "-H", "Content-Type: application/json"], "/validate") == "413")
            let body = try server.curl(["--data", "{\"x\":", "-H", "Content-Type: application/json"], path: "/validate").stdout
            #expect(json(body)["kind"] as? String == "Status")
            #expect((json(body)["message"] as? String)?.contains("not valid JSON") == true)
            #expect(try status([], "/healthz") == "200")
        }

        @Test func headerAndIdleTimeouts() throws {
            let server = try WebhookServer(["--header-timeout", "1", "--idle-timeout", "2"])
            let partial = Data("POST /validate HTTP/1.1\r\nHost: x\r\n".utf8).map { String(format: "%02x", $0) }.joined()
            let started = Date()
            let out = try python("wire.py", ["raw", "127.0.0.1", String(server.port), server.ca, "408", partial])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            #expect(Date().timeIntervalSince(started) < 5)
            let idle = try python("wire.py", ["idle", "127.0.0.1", String(server.port), server.ca, "2"])
            #expect(idle.status == 0, "\(idle.stdout)\(idle.stderr)")
        }

        @Test func onlyTLS12AndNewerAreAccepted() throws {
            let server = try WebhookServer()
            let out = try python("wire.py", ["oldtls", "127.0.0.1", String(server.port)])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            for (flag, works) in [("-tls1_2", true), ("-tls1_3", true)] {
                let s = try run("openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", flag, "-alpn", "http/1.1", "-CAfile", server.ca], stdin: Data("Q\n".utf8), timeout: 20)
                #expect((s.stdout.contains("ALPN protocol: http/1.1")) == works, "\(flag): \(s.stdout.suffix(400))")
            }
            // A client that offers no ALPN (or only protocols we do not speak) still gets HTTP/1.1.
            let none = try run("openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-alpn", "spdy/3", "-ign_eof", "-CAfile", server.ca], stdin: Data("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), timeout: 20)
            #expect(none.stdout.contains("No ALPN negotiated"))
            #expect(none.stdout.contains("HTTP/1.1 200 OK"))
        }

        /// Go's order on AES hardware (the Go peer's, kube-apiserver's): AES-128-GCM over
        /// AES-256-GCM whatever the client lists first, ChaCha20 for a client that lists it first.
        @Test func tls13SuitesAreChosenAsGoChoosesThem() throws {
            let server = try WebhookServer()
            for (offer, chosen) in [
                (nil, "TLS_AES_128_GCM_SHA256"),  // OpenSSL's client default lists AES-256 first
                ("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
                ("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"),
                ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
            ] as [(String?, String)] {
                let suites = offer.map { ["-ciphersuites", $0] } ?? []
                let s = try run("openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_3", "-CAfile", server.ca] + suites, stdin: Data("Q\n".utf8), timeout: 20)
                #expect(s.stdout.contains("Cipher is \(chosen)"), "offer \(offer ?? "default"): \(s.stdout.suffix(400))")
            }
        }

        /// sslscan's view: TLS 1.2 and 1.3 only, and only ECDHE key exchange with AEAD suites.
        @Test func sslscanFindsOnlyModernProtocolsAndSuites() throws {
            let server = try WebhookServer()
            let out = try run("sslscan", ["--no-colour", "127.0.0.1:\(server.port)"], timeout: 60)
            #expect(out.status == 0, "\(out.stderr)")
            for line in ["SSLv2     disabled", "SSLv3     disabled", "TLSv1.0   disabled", "TLSv1.1   disabled", "TLSv1.2   enabled", "TLSv1.3   enabled"] {
                #expect(out.stdout.contains(line), "missing: \(line)")
            }
            let suites = out.stdout.split(separator: "\n").filter { $0.hasPrefix("Accepted") || $0.hasPrefix("Preferred") }
            #expect(suites.count >= 4)
            let modern = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
                          "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"]
            for suite in suites {
                #expect(modern.contains { suite.contains($0) }, "weak or unexpected suite: \(suite)")
            }
            #expect(out.stdout.contains("Session renegotiation not supported"))
        }

        @Test func certificateReloadKeepsOpenConnectionsAndRefusesBrokenPairs() throws {
            let dir = try TempDir()
            let a = try TestPKI(dir, name: "a", days: 2), b = try TestPKI(dir, name: "b", days: 5)
            // Serve from a Secret-volume-like layout: files behind a `..data` symlink.
            let fm = FileManager.default
            try fm.createDirectory(atPath: dir.path("v1"), withIntermediateDirectories: true)
            try fm.copyItem(atPath: a.serverCert, toPath: dir.path("v1/tls.crt"))
            try fm.copyItem(atPath: a.serverKey, toPath: dir.path("v1/tls.key"))
            try fm.createSymbolicLink(atPath: dir.path("..data"), withDestinationPath: dir.path("v1"))
            try fm.createSymbolicLink(atPath: dir.path("tls.crt"), withDestinationPath: dir.path("..data/tls.crt"))
            try fm.createSymbolicLink(atPath: dir.path("tls.key"), withDestinationPath: dir.path("..data/tls.key"))
            let server = try WebhookServer(["--tls-cert", dir.path("tls.crt"), "--tls-key", dir.path("tls.key")])
            func expiry() throws -> Double {
                let metrics = try server.probe("/metrics").stdout
                let line = metrics.split(separator: "\n").first { $0.hasPrefix("webhook_certificate_expiry_timestamp_seconds ") }
                return Double(line?.split(separator: " ").last ?? "") ?? 0
            }
            let expiryBefore = try expiry()

            // A keep-alive connection opened with certificate A...
            let keep = Process()
            keep.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            keep.arguments = ["python3", Package.scripts.appendingPathComponent("wire.py").path, "keepopen", "127.0.0.1", String(server.port), a.caCert, Package.fixture("validate-seed-gateway"), "5"]
            let keepLog = dir.path("keep.log")
            _ = fm.createFile(atPath: keepLog, contents: nil)
            keep.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: keepLog))
            keep.standardError = keep.standardOutput
            try keep.run()
            usleep(1_500_000)

            // ...survives the swap to certificate B, which new handshakes get.
            try fm.createDirectory(atPath: dir.path("v2"), withIntermediateDirectories: true)
            try fm.copyItem(atPath: b.serverCert, toPath: dir.path("v2/tls.crt"))
            try fm.copyItem(atPath: b.serverKey, toPath: dir.path("v2/tls.key"))
            try fm.createSymbolicLink(atPath: dir.path("..data_tmp"), withDestinationPath: dir.path("v2"))
            #expect(rename(dir.path("..data_tmp"), dir.path("..data")) == 0)
            var reloaded = false
            for _ in 0..<50 where !reloaded {
                usleep(200_000)
                reloaded = try server.curl([], path: "/healthz", cacert: b.caCert).stdout == "ok\n"
            }
            #expect(reloaded)
            #expect(try server.curl([], path: "/healthz", cacert: a.caCert).status != 0)
            // The expiry metric follows the reload: B was issued for 5 days, A for 2.
            #expect(try expiry() - expiryBefore > 2.5 * 86400)
            keep.waitUntilExit()
            #expect(keep.terminationStatus == 0, "\((try? String(contentsOfFile: keepLog, encoding: .utf8)) ?? "")")

            // A broken pair (B's certificate with A's key) is refused; B keeps serving.
            try fm.createDirectory(atPath: dir.path("v3"), withIntermediateDirectories: true)
            try fm.copyItem(atPath: b.serverCert, toPath: dir.path("v3/tls.crt"))
            try fm.copyItem(atPath: a.serverKey, toPath: dir.path("v3/tls.key"))
            try fm.createSymbolicLink(atPath: dir.path("..data_tmp"), withDestinationPath: dir.path("v3"))
            #expect(rename(dir.path("..data_tmp"), dir.path("..data")) == 0)
            usleep(4_500_000)
            #expect(try server.curl([], path: "/healthz", cacert: b.caCert).stdout == "ok\n")
            let messages = server.logLines().compactMap { $0["msg"] as? String }
            #expect(messages.filter { $0.hasPrefix("reloaded TLS certificate") }.count == 1)
            #expect(messages.filter { $0.hasPrefix("refused new TLS certificate") }.count == 1)
        }

        /// With --client-ca the TLS port refuses clients without a certificate (the apiserver
        /// presents one), while kubelet's probes and Prometheus use the plain probe port.
        @Test func clientCertificatesAreRequiredWithClientCAAndProbesStillPass() throws {
            let pki = try TestPKI(try TempDir())
            let server = try WebhookServer(["--client-ca", pki.caCert], pki: pki)
            let without = try server.curl(["-o", "/dev/null", "-w", "%{http_code}"], path: "/healthz")
            #expect(without.status != 0)
            #expect(without.stdout != "200")
            let review = try server.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json", "--data-binary", "@" + Package.fixture("validate-seed-gateway")], path: "/validate")
            #expect(review.status != 0 && review.stdout != "200")
            let with = try server.curl(["--cert", pki.clientCert, "--key", pki.clientKey], path: "/healthz")
            #expect(with.stdout == "ok\n", "\(with.stderr)")
            #expect(try server.curl(["--http2", "--cert", pki.clientCert, "--key", pki.clientKey], path: "/readyz").stdout == "ok\n")
            // The probe port: plain HTTP, no certificate, probes and metrics only.
            #expect(try server.probe("/healthz").stdout == "ok\n")
            #expect(try server.probe("/readyz").stdout == "ok\n")
            #expect(try server.probe("/metrics").stdout.contains("webhook_open_connections"))
            let reviewOnProbe = try server.probe("/validate", ["-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json", "--data", "{}"])
            #expect(reviewOnProbe.stdout == "404")
            // Not counted in the budget, so kept small: no request bodies to speak of.
            let big = try server.probe("/healthz", ["-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@" + Package.fixture("validate-seed-gateway")])
            #expect(big.stdout == "413")
        }

        /// --client-name narrows mTLS to the apiserver's certificate (its CN here is
        /// kube-apiserver): another name from the same CA is refused.
        @Test func clientNamesRestrictAcceptedCertificates() throws {
            let pki = try TestPKI(try TempDir())
            let right = try WebhookServer(["--client-ca", pki.caCert, "--client-name", "kube-apiserver"], pki: pki)
            #expect(try right.curl(["--cert", pki.clientCert, "--key", pki.clientKey], path: "/healthz").stdout == "ok\n")
            let wrong = try WebhookServer(["--client-ca", pki.caCert, "--client-name", "someone-else"], pki: pki)
            let refused = try wrong.curl(["--cert", pki.clientCert, "--key", pki.clientKey], path: "/healthz")
            #expect(refused.status != 0 && refused.stdout != "ok\n")
            let usage = try run(Package.binary, ["serve", "--client-name", "x"])
            #expect(usage.status != 0 && usage.stderr.contains("--client-name needs --client-ca"))
        }

        @Test func sigtermDrainsInFlightRequestsAndExitsZero() throws {
            let dir = try TempDir()
            let server = try WebhookServer(["--grace-period", "10"])
            let client = Process()
            client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            client.arguments = ["python3", Package.scripts.appendingPathComponent("wire.py").path, "slowbody", "127.0.0.1", String(server.port), server.ca, Package.fixture("validate-seed-gateway"), "2"]
            let clientLog = dir.path("client.log")
            _ = FileManager.default.createFile(atPath: clientLog, contents: nil)
            client.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: clientLog))
            client.standardError = client.standardOutput
            try client.run()
            var sentHalf = false
            for _ in 0..<100 where !sentHalf {
                usleep(50_000)
                sentHalf = ((try? String(contentsOfFile: clientLog, encoding: .utf8)) ?? "").contains("sent-half")
            }
            #expect(sentHalf)
            server.signal(SIGTERM)
            usleep(300_000)
            // Not accepting any more.
            #expect(try run("curl", ["-sS", "--max-time", "3", "-k", server.url + "/healthz"]).status != 0)
            client.waitUntilExit()
            let clientOutput = (try? String(contentsOfFile: clientLog, encoding: .utf8)) ?? ""
            #expect(client.terminationStatus == 0, "\(clientOutput)")
            #expect(clientOutput.contains("connection: close"))
            #expect(server.waitForExit(10) == 0)
            let messages = server.logLines().compactMap { $0["msg"] as? String }
            #expect(messages.contains("draining") && messages.contains("stopped"))
            // The development CA lived only as long as the process.
            #expect(!FileManager.default.fileExists(atPath: server.ca))
        }

        @Test func http2CarriesManyConcurrentStreams() throws {
            let server = try WebhookServer()
            let out = try run("h2load", ["-n", "2000", "-c", "2", "-m", "100", "-d", Package.fixture("validate-seed-gateway"), "-H", "content-type: application/json", server.url + "/validate"], timeout: 120)
            #expect(out.status == 0, "\(out.stderr)")
            #expect(out.stdout.contains("2000 succeeded, 0 failed, 0 errored"), "\(out.stdout)")
            #expect(out.stdout.contains("status codes: 2000 2xx"), "\(out.stdout)")
        }

        /// Rollout mode end to end: a review that would be denied is admitted with a
        /// "would be denied" warning, and counted in the decision log and the metrics.
        @Test func enforcementWarnAdmitsAndCountsWouldDeny() throws {
            let dir = try TempDir()
            try "enforcement: warn\nrules: {url-oci-tag: off}\n".write(toFile: dir.path("policy.yaml"), atomically: true, encoding: .utf8)
            let server = try WebhookServer(["--policy", dir.path("policy.yaml")])
            let (_, body) = try server.post("validate-ftp-scheme", ["--http1.1"])
            #expect(response(body)["allowed"] as? Bool == true)
            let warnings = response(body)["warnings"] as? [String] ?? []
            #expect(warnings.contains { $0.hasPrefix("spec.url: would be denied: unsupported url scheme \"ftp\"") }, "\(warnings)")
            _ = try server.post("validate-seed-gateway", ["--http1.1"])
            var decisions: [[String: Any]] = []
            for _ in 0..<40 where decisions.count < 2 {
                usleep(100_000)
                decisions = server.logLines().filter { $0["msg"] as? String == "admission decision" }
            }
            #expect(decisions.map { $0["wouldDeny"] as? Bool } == [true, false])
            #expect(decisions.first?["wouldDenyErrors"] as? Int == 1)
            let metrics = try server.probe("/metrics").stdout
            #expect(metrics.contains(#"webhook_admission_would_deny_total{webhook="validate",operation="CREATE"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"webhook_admission_decisions_total{webhook="validate",allowed="true",operation="CREATE"} 2"#))
        }

        @Test func metricsAreExposedInPrometheusFormat() throws {
            let server = try WebhookServer()
            _ = try server.post("validate-seed-gateway", ["--http2"])
            _ = try server.post("validate-ftp-scheme", ["--http1.1"])
            _ = try server.post("mutate-no-scheme", to: "/mutate")
            // Metrics are on the probe port only: the TLS port is for reviews (and probes).
            #expect(try server.curl(["-o", "/dev/null", "-w", "%{http_code}"], path: "/metrics").stdout == "404")
            let metrics = try server.probe("/metrics").stdout
            for needle in [
                #"webhook_http_requests_total{endpoint="validate",code="200"} 2"#,
                #"webhook_admission_decisions_total{webhook="validate",allowed="false",operation="CREATE"} 1"#,
                #"webhook_admission_decisions_total{webhook="mutate",allowed="true",operation="CREATE"} 1"#,
                "# TYPE webhook_http_request_duration_seconds histogram",
                #"webhook_open_connections{protocol="h2"}"#, #"webhook_open_connections{protocol="http/1.1"}"#,
                "webhook_tls_handshake_failures_total", "webhook_certificate_expiry_timestamp_seconds",
            ] {
                #expect(metrics.contains(needle), "missing \(needle)")
            }
            let expiry = metrics.split(separator: "\n").first { $0.hasPrefix("webhook_certificate_expiry_timestamp_seconds ") }
            let value = Double(expiry?.split(separator: " ").last ?? "") ?? 0
            #expect(value > Date().timeIntervalSince1970)
        }

        @Test func hostileInputsNeverTakeTheServerDown() throws {
            let server = try WebhookServer()
            let out = try python("wire.py", ["hostile", "127.0.0.1", String(server.port), server.ca], timeout: 120)
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
            #expect(server.process.isRunning)
            #expect(try server.curl([], path: "/healthz").stdout == "ok\n")
            #expect(try server.curl(["--http2"], path: "/healthz").stdout == "ok\n")
            let metrics = try server.probe("/metrics").stdout
            let failures = metrics.split(separator: "\n").first { $0.hasPrefix("webhook_tls_handshake_failures_total ") }
            #expect((Double(failures?.split(separator: " ").last ?? "") ?? 0) >= 20)
        }

        /// Regression: a second server on a taken address bound beside the first through
        /// SO_REUSEPORT and silently took half its connections. Its development CA file
        /// was left behind too.
        @Test func aSecondServerOnTheSameAddressIsRefused() throws {
            let server = try WebhookServer()
            for (listen, probe) in [(server.port, 0), (0, server.probePort)] {
                let out = try run(Package.binary, ["serve", "--listen", "127.0.0.1:\(listen)", "--probe-listen", "127.0.0.1:\(probe)"], timeout: 20)
                #expect(out.status == 2, "\(out.stderr)")
                #expect(out.stderr.contains("Address already in use"), "\(out.stderr)")
                let ca = try #require(out.stderr.firstMatch(of: /"caFile":"([^"]+)"/)).1
                #expect(!FileManager.default.fileExists(atPath: String(ca)), "left behind: \(ca)")
            }
            #expect(try server.probe("/healthz").stdout.contains("ok"))
        }

        @Test func badServeFlagsStopAtStart() throws {
            let policy = try TempDir()
            try "selector: maybe\n".write(toFile: policy.path("p.yaml"), atomically: true, encoding: .utf8)
            let out = try run(Package.binary, ["serve", "--policy", policy.path("p.yaml")])
            #expect(out.status == 2)
            #expect(out.stderr.contains("policy key selector"))
            let listen = try run(Package.binary, ["serve", "--listen", "nonsense"])
            #expect(listen.status != 0)
            #expect(listen.stderr.contains("--listen"))
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    var request: [String: Any]? { self["request"] as? [String: Any] }
}
