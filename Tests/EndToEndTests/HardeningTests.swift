import Foundation
import Testing

extension LiveServers {
    /// "Never falls over": each attack that took the server down or grew it without bound,
    /// replayed by Tests/scripts/attack.py over real TLS against the built binary. The script
    /// reports the server's resident memory (sampled every 50 ms); these tests judge it.
    /// Serialized: they measure memory and start many connections on a 2-core machine.
    @Suite(.serialized) struct HardeningTests {
        /// What attack.py printed.
        struct Report {
            var json: [String: Any]
            var growthMiB: Double { json["growth_mib"] as? Double ?? .infinity }
            var peakMiB: Double { json["peak_mib"] as? Double ?? .infinity }
            var alive: Bool { json["alive"] as? Bool ?? false }
            var detail: [String: Any] { json["detail"] as? [String: Any] ?? [:] }
        }

        /// A single client connection may grow the server by at most this much.
        static let perConnectionMiB = 32.0
        /// Under a sanitizer (scripts/test.sh --sanitize) memory is the sanitizer's: the
        /// attacks run and the server must survive them, but sizes are not judged.
        static let measuresMemory = ProcessInfo.processInfo.environment["WEBHOOK_SANITIZER"] == nil

        func expectGrowthBounded(_ report: Report, _ limit: Double = perConnectionMiB) {
            if Self.measuresMemory { #expect(report.growthMiB < limit, "\(report.json)") }
        }

        func attack(_ server: WebhookServer, _ name: String, _ options: [String] = [], timeout: Double = 120) throws -> Report {
            let out = try python(
                "attack.py", [name, "127.0.0.1", String(server.port), server.ca, String(server.process.processIdentifier)] + options, timeout: timeout)
            let line = out.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let report = Report(json: json(line))
            #expect(out.status == 0, "\(name): \(out.stdout)\(out.stderr.suffix(2000))")
            #expect(server.process.isRunning, "\(name) took the server down: \(out.stdout)")
            return report
        }

        /// Regression: a chunk size of -1 trapped the process ("Illegal instruction").
        @Test func badChunkSizesGet400AndTheServerLives() throws {
            let server = try WebhookServer()
            let report = try attack(server, "chunked-negative")
            #expect(report.detail["statuses"] as? [String] == ["400", "400", "400"], "\(report.json)")
            #expect(report.alive)
        }

        /// Regression: PINGs from a client that never reads grew the server by 780 MiB in 8 s.
        @Test func aPingFloodIsBounded() throws {
            let server = try WebhookServer()
            let report = try attack(server, "ping-flood", ["seconds=5"])
            expectGrowthBounded(report)
            #expect(report.alive)
        }

        /// Regression: one header block referencing a 3 KB HPACK entry 60,000 times grew the
        /// server by 180 MiB; it now gets 431.
        @Test func anHPACKBombGets431() throws {
            let server = try WebhookServer()
            let report = try attack(server, "hpack-bomb", ["streams=3"])
            expectGrowthBounded(report)
            #expect(report.detail["answered"] as? Int == 3, "\(report.json)")
        }

        /// Regression: 128 streams with unfinished 1 MiB bodies held 130 MiB on one connection.
        @Test func unfinishedBodiesOnManyStreamsAreBounded() throws {
            let server = try WebhookServer()
            let report = try attack(server, "held-bodies")
            expectGrowthBounded(report)
            #expect(report.alive)
        }

        /// Regression: answers waiting for an HTTP/2 client's flow-control window (which it
        /// keeps at 0) were held outside every limit; they now count as pending output, so
        /// the connection stops reading once they pass the backlog limit.
        @Test func answersHeldByAClosedHTTP2WindowAreBounded() throws {
            let server = try WebhookServer()
            let report = try attack(server, "closed-window")
            expectGrowthBounded(report, 16)
            #expect(report.detail["stalled"] as? Bool == true, "\(report.json)")
            #expect(report.alive)
        }

        @Test func pipelinedRequestsFromAClientThatNeverReadsAreBounded() throws {
            let server = try WebhookServer()
            let report = try attack(server, "pipeline-flood")
            expectGrowthBounded(report)
            #expect(report.alive)
        }

        /// Past the buffer budget a request with a body gets a fast 503 (the apiserver retries
        /// another replica); once the bytes are released, requests are served again.
        @Test func overTheBufferBudgetRequestsGet503() throws {
            let server = try WebhookServer(["--max-body-bytes", "32768", "--max-buffered-bytes", "65536"])
            let report = try attack(server, "over-budget", ["held=2", "length=32000"])
            #expect(report.detail["while_held"] as? String == "503", "\(report.json)")
            #expect(report.detail["after"] as? String == "200", "\(report.json)")
        }

        /// Regression: PINGs (or any frames that start no request) kept an idle HTTP/2
        /// connection open for ever; the idle clock runs from the last request.
        @Test func pingsDoNotKeepAnIdleConnectionOpen() throws {
            let server = try WebhookServer(["--idle-timeout", "2"])
            let report = try attack(server, "ping-keepalive", ["seconds=8"])
            #expect(report.detail["ended_by_server"] as? Bool == true, "\(report.json)")
            #expect((report.detail["after_seconds"] as? Double ?? 99) < 5, "\(report.json)")
        }

        /// Lowers the server's descriptor limit after start (as if descriptors went
        /// elsewhere: at start `--max-connections` is clamped to fit it), holds 100 plain
        /// connections for 3 s, and checks the server did not spin meanwhile.
        func exhaustDescriptors(_ server: WebhookServer, _ options: [String] = []) throws -> Report {
            let lowered = try run("prlimit", ["--pid", String(server.process.processIdentifier), "--nofile=32:32"])
            #expect(lowered.status == 0, "\(lowered.stderr)")
            let report = try attack(server, "fd-exhaust", ["conns=100", "seconds=3"] + options)
            let cpu = report.detail["server_cpu_seconds"] as? Double ?? 99
            #expect(cpu < (Self.measuresMemory ? 0.5 : 1.5), "the server spun: \(report.json)")
            #expect(report.alive)
            return report
        }

        /// Regression: out of file descriptors, the level-triggered listener spun at 200 % CPU
        /// and wrote millions of identical lines. Accepting now pauses, and the line is
        /// rate-limited.
        @Test func runningOutOfDescriptorsPausesAcceptingInsteadOfSpinning() throws {
            let server = try WebhookServer(threads: 1)
            _ = try exhaustDescriptors(server)
            let acceptLines = server.logLines().filter { ($0["msg"] as? String)?.hasPrefix("accept4") == true }
            #expect(!acceptLines.isEmpty && acceptLines.count <= 2, "\(acceptLines)")
        }

        /// Regression: the probe listener took no part in the pause; out of descriptors it
        /// stayed readable in epoll and the loop spun on it (3.0 CPU-seconds in 3 s).
        @Test func runningOutOfDescriptorsOnTheProbePortPausesToo() throws {
            let server = try WebhookServer(threads: 1)
            _ = try exhaustDescriptors(server, ["target_port=\(server.probePort)"])
        }

        @Test func maxConnectionsIsClampedToTheDescriptorLimit() throws {
            let server = try WebhookServer(wrapper: ["/usr/bin/prlimit", "--nofile=200:200"])
            let serving = try #require(server.logLines().first { $0["msg"] as? String == "serving" })
            let limit = Int(serving["maxConnections"] as? String ?? "") ?? 0
            #expect(limit > 0 && limit < 200, "\(serving)")
            #expect(server.logLines().contains { ($0["msg"] as? String)?.hasPrefix("max connections lowered from 1000") == true })
        }

        /// Regression: RFC 9112 §3.2.2 — an absolute-form target was answered 404.
        @Test func absoluteFormTargetsAreServed() throws {
            let server = try WebhookServer()
            let request = "GET https://localhost:\(server.port)/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            let out = try python("wire.py", ["raw", "127.0.0.1", String(server.port), server.ca, "200", Data(request.utf8).map { String(format: "%02x", $0) }.joined()])
            #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        }

        /// Regression: `/mutate` allowed a review whose `request.object` was a JSON string
        /// (failing open) while `/validate` denied it.
        @Test func aReviewWhoseObjectIsNotAnObjectIsDeniedOnBothEndpoints() throws {
            let server = try WebhookServer()
            var review = json(try String(contentsOfFile: Package.fixture("validate-seed-gateway"), encoding: .utf8))
            var request = try #require(review.request)
            request["object"] = "a string, not an object"
            review["request"] = request
            let dir = try TempDir()
            let body = dir.path("string-object.json")
            try JSONSerialization.data(withJSONObject: review).write(to: URL(fileURLWithPath: body))
            for endpoint in ["/validate", "/mutate"] {
                let out = try server.curl(["-H", "Content-Type: application/json", "--data-binary", "@" + body], path: endpoint)
                let answer = response(out.stdout)
                #expect(answer["allowed"] as? Bool == false, "\(endpoint): \(out.stdout)")
                #expect(answer["patch"] == nil)
            }
        }

        /// The whole hostile run at once: 500 slowloris and 1,000 idle connections, a PING
        /// flood, HPACK bombs, held bodies, 8 MiB bodies, a pipelined flood and bad chunks.
        /// The manifests give the pod 128 MiB.
        @Test func theFullHostileRunStaysUnder128MiB() throws {
            let server = try WebhookServer()
            let report = try attack(server, "hostile", ["seconds=12"], timeout: 300)
            if Self.measuresMemory { #expect(report.peakMiB < 128, "\(report.json)") }
            #expect(report.alive)
            // And it still answers a review afterwards.
            let (status, body) = try server.post("validate-seed-gateway")
            #expect(status == "200 2")
            #expect(response(body)["allowed"] as? Bool == true)
        }
    }
}
