import AdmissionKit
import ArgumentParser
import HTTPServer
import Locking
import Logging
import WasmPluginPolicy

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTPS webhook server (POST /validate, POST /mutate, GET /healthz, /readyz, /metrics).",
        discussion: "Without --tls-cert/--tls-key a development CA and a certificate for localhost/127.0.0.1 are generated at start; the CA's path is logged."
    )

    @Option(help: "Address to listen on (HOST:PORT).")
    var listen = "127.0.0.1:8443"

    @Option(help: "Plain-HTTP address for GET /healthz, /readyz and /metrics (HOST:PORT), or 'off'. Needs no client certificate, so kubelet probes and Prometheus work with --client-ca.")
    var probeListen = "127.0.0.1:8081"

    @Option(help: "Serving certificate (PEM, chain allowed). Reloaded when the file changes.")
    var tlsCert: String?

    @Option(help: "Private key of the serving certificate (PEM). Reloaded when the file changes.")
    var tlsKey: String?

    @Option(help: "Require client certificates signed by this CA (PEM): mTLS from kube-apiserver.")
    var clientCA: String?

    @Option(name: .customLong("client-name"), help: "With --client-ca: accept only client certificates whose subject CN or a DNS SAN is this name (repeat for several).")
    var clientNames: [String] = []

    @Option(help: "Policy file (YAML).")
    var policy: String?

    @Option(help: "Event loop threads (default: the CPUs this process may use: cores, or the container's CPU quota).")
    var threads: Int?

    @Option(help: "Largest accepted request body in bytes.")
    var maxBodyBytes = 8 * 1024 * 1024

    @Option(help: "Open TLS connections at most; more are closed at once (kube-apiserver opens up to 25 per instance). Lowered to fit the file-descriptor limit.")
    var maxConnections = 1_000

    @Option(help: "Bytes buffered for clients across all connections (request bodies, answers not yet sent); past it, new requests get 503 / REFUSED_STREAM.")
    var maxBufferedBytes = 48 * 1024 * 1024

    @Option(help: "Seconds to wait for in-flight requests on SIGTERM/SIGINT.")
    var gracePeriod = 25

    @Option(help: "Seconds an idle keep-alive connection stays open (keep above the apiserver's 90).")
    var idleTimeout = 120

    @Option(help: "Seconds allowed for a request's line and headers to arrive.")
    var headerTimeout = 10

    @Option(help: "Seconds allowed for a request's body to arrive.")
    var bodyTimeout = 30

    @Option(help: "Seconds a pending answer may wait without the client reading any of it.")
    var writeTimeout = 30

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if !clientNames.isEmpty && clientCA == nil { throw ValidationError("--client-name needs --client-ca") }
        if ListenAddress(listen) == nil { throw ValidationError("--listen must be HOST:PORT, not \(listen)") }
        if probeListen != "off", ListenAddress(probeListen) == nil { throw ValidationError("--probe-listen must be HOST:PORT or off, not \(probeListen)") }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be from 1 to 256") }
        if maxBodyBytes < 1024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        if maxBufferedBytes < maxBodyBytes { throw ValidationError("--max-buffered-bytes must be at least --max-body-bytes (\(maxBodyBytes))") }
        if gracePeriod < 0 { throw ValidationError("--grace-period must not be negative") }
        for (flag, value) in [("--idle-timeout", idleTimeout), ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout), ("--write-timeout", writeTimeout)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1 second")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let logger = Logger(label: "wasmplugin-webhook")
        let settings: PolicySettings
        do {
            settings = try PolicyLoader.load(policy)
        } catch {
            throw failUsage("serve: \(error)")
        }
        // Writes to a peer that vanished must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        // SIGTERM/SIGINT are taken by sigwait below; block them before any thread starts.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let log: @Sendable (LogLevel, String) -> Void = { level, message in logger.serverLog(level, message) }
        let source: CertificateSource
        var developmentDirectory: String?
        if let tlsCert, let tlsKey {
            source = .files(certificate: tlsCert, key: tlsKey)
        } else {
            let dev = try DevelopmentCertificate.generate()
            let caPath = try DevelopmentFiles.writeCA(dev.caPEM)
            developmentDirectory = String(caPath.dropLast("/ca.pem".count))
            logger.warning("no --tls-cert/--tls-key: serving a generated development certificate for localhost, 127.0.0.1 and ::1", metadata: ["caFile": "\(caPath)"])
            source = .memory(certificate: dev.certificatePEM, key: dev.keyPEM)
        }
        let certificates: CertificateReloader
        do {
            certificates = try CertificateReloader(source: source, clientCAPath: clientCA, clientNames: clientNames, log: log)
        } catch {
            throw failUsage("serve: cannot load the TLS certificate: \(error)")
        }
        let metrics = WebhookMetrics(certificateNotAfter: { certificates.current.notAfter })

        var config = ServerConfiguration(listen: ListenAddress(listen)!, threads: threads ?? UsableCPUs.count())
        config.maxBodyBytes = maxBodyBytes
        config.gracePeriodSeconds = gracePeriod
        config.maxConnections = maxConnections
        config.idleTimeoutSeconds = idleTimeout
        config.headerTimeoutSeconds = headerTimeout
        config.bodyTimeoutSeconds = bodyTimeout
        config.writeTimeoutSeconds = writeTimeout
        config.bufferBudgetBytes = maxBufferedBytes
        config.handlerWorkingMemory = { AdmissionReviewDecoder.workingMemory(bodyBytes: $0) }
        config.probeListen = probeListen == "off" ? nil : ListenAddress(probeListen)
        let readiness = ReadinessFlag()
        let routes = WebhookRoutes(webhook: WebhookFactory.make(settings), metrics: metrics, isReady: { readiness.isReady })
        let server = Server(config: config, certificates: certificates, observer: metrics, log: log, handler: routes.handle)
        let port: UInt16
        do {
            port = try server.start()
        } catch {
            throw failUsage("serve: cannot listen on \(listen): \(error)")
        }
        readiness.set(server)
        var address = config.listen
        address.port = port
        var metadata: Logger.Metadata = [
            "address": "\(address)", "threads": "\(config.threads)", "maxBodyBytes": "\(maxBodyBytes)", "mTLS": "\(clientCA != nil)",
            "maxConnections": "\(server.maxConnections)", "maxBufferedBytes": "\(maxBufferedBytes)",
        ]
        if var probe = config.probeListen, let probePort = server.probePort {
            probe.port = probePort
            metadata["probeAddress"] = "\(probe)"
        }
        metadata["enforcement"] = "\(settings.enforcement.rawValue)"
        logger.info("serving", metadata: metadata)
        if settings.enforcement == .warn {
            logger.warning("policy enforcement is warn (rollout): requests that break a rule are admitted with a warning and counted as would-deny")
        }
        let largestReview = maxBodyBytes + AdmissionReviewDecoder.workingMemory(bodyBytes: maxBodyBytes)
        if largestReview > maxBufferedBytes {
            logger.warning(
                "a review of --max-body-bytes needs more than --max-buffered-bytes: such reviews will get 503",
                metadata: ["needed": "\(largestReview)", "maxBufferedBytes": "\(maxBufferedBytes)"])
        }

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("draining", metadata: ["signal": "\(received == SIGTERM ? "SIGTERM" : "SIGINT")", "gracePeriodSeconds": "\(gracePeriod)"])
        server.shutdown()
        server.wait()
        // The server's handler reads readiness, which holds the server: let go of it so
        // nothing outlives the process (LeakSanitizer reports such cycles at exit).
        readiness.clear()
        if let developmentDirectory { DevelopmentFiles.remove(developmentDirectory) }
        logger.info("stopped")
    }
}

/// Readiness reads the server once it exists; before that it is not ready.
final class ReadinessFlag: Sendable {
    private let server = Locked<Server?>(nil)

    func set(_ value: Server) { server.withLock { $0 = value } }
    func clear() { server.withLock { $0 = nil } }
    var isReady: Bool { server.withLock { $0?.isReady ?? false } }
}

enum DevelopmentFiles {
    /// Writes the development CA to a fresh private directory and returns its path.
    static func writeCA(_ pem: [UInt8]) throws -> String {
        var template = Array("/tmp/wasmplugin-webhook-dev-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw UsageFailure("cannot create a directory for the development CA: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: dir) + "/ca.pem"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw UsageFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
        FileHandleOutput.write(fd, pem)
        close(fd)
        return path
    }

    /// The development CA is only good for this process's certificate: remove it on exit.
    static func remove(_ directory: String) {
        unlink(directory + "/ca.pem")
        rmdir(directory)
    }
}
