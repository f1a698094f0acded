import AdmissionKit
import ArgumentParser
import ClusterView
import HTTPServer
import KubernetesClient
import Logging
import Platform
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

    @Flag(help: "Keep a view of the cluster's Gateways, GatewayClasses, Services, Namespaces and ServiceEntries by list + watch, and run the context rules on it (needs the RBAC in manifests/components/context-checks).")
    var contextChecks = false

    @Option(help: "With --context-checks outside a cluster: the kubeconfig to reach the API server with (token, token file or client certificate). Default: the pod's service account.")
    var kubeconfig: String?

    @Option(help: "With --kubeconfig: a context other than the current one.")
    var kubeContext: String?

    @Option(help: "With --context-checks in a pod: where the service account's token and ca.crt are mounted (re-read on every connection).")
    var serviceAccountDir = CredentialSource.serviceAccountDirectory

    @Option(help: "With --context-checks: seconds /readyz waits for the first list of every kind before reporting ready anyway (the context rules stay silent on kinds not yet synced).")
    var contextSyncTimeout = 30

    func validate() throws {
        if kubeconfig != nil, !contextChecks { throw ValidationError("--kubeconfig needs --context-checks") }
        if kubeContext != nil, kubeconfig == nil { throw ValidationError("--kube-context needs --kubeconfig") }
        if contextSyncTimeout < 0 { throw ValidationError("--context-sync-timeout must not be negative") }
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
        // Removed however `serve` ends: stopped, or refused at start (a taken address).
        defer { if let developmentDirectory { DevelopmentFiles.remove(developmentDirectory) } }
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
        var watcher: ClusterWatcher? = nil
        if contextChecks {
            let credentials: CredentialSource = kubeconfig.map { .kubeconfig(path: $0, context: kubeContext) } ?? .inCluster(directory: serviceAccountDir)
            do {
                _ = try credentials.endpoint()
            } catch {
                throw failUsage("serve: --context-checks: \(error)")
            }
            let view = LiveClusterView()
            let reporter = ClusterWatchReporter(registry: metrics.registry, view: view, logger: logger)
            watcher = ClusterWatcher(credentials: credentials, view: view, observer: reporter)
            logger.info("context checks: watching the cluster", metadata: ["credentials": "\(credentials)", "syncTimeoutSeconds": "\(contextSyncTimeout)"])
        }
        let readiness = ReadinessFlag(watcher: watcher, syncTimeoutSeconds: contextSyncTimeout, logger: logger)
        let webhook = AdmissionWebhook.wasmPlugins(settings: settings, cluster: watcher?.view)
        let routes = WebhookRoutes(webhook: webhook, metrics: metrics, notReadyReason: { readiness.notReadyReason })
        let server = Server(config: config, certificates: certificates, observer: metrics, log: log, handler: routes.handle)
        let port: UInt16
        do {
            port = try server.start()
        } catch {
            throw failUsage("serve: cannot listen on \(listen): \(error)")
        }
        readiness.set(server)
        watcher?.start()
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
        watcher?.stop()
        server.wait()
        // The server's handler reads readiness, which holds the server: let go of it so
        // nothing outlives the process (LeakSanitizer reports such cycles at exit).
        readiness.clear()
        logger.info("stopped")
    }
}

/// Readiness reads the server once it exists; before that it is not ready. With context
/// checks it also waits for the cluster view's first sync, up to a timeout: past it the
/// webhook serves anyway (a context rule with unknown facts stays silent) and says so once.
final class ReadinessFlag: Sendable {
    private let server = Locked<Server?>(nil)
    private let watcher: ClusterWatcher?
    private let deadline: UInt64
    private let gaveUpWaiting = Locked(false)
    private let logger: Logger

    init(watcher: ClusterWatcher?, syncTimeoutSeconds: Int, logger: Logger) {
        self.watcher = watcher
        deadline = monotonicNanoseconds() + UInt64(syncTimeoutSeconds) * 1_000_000_000
        self.logger = logger
    }

    func set(_ value: Server) { server.withLock { $0 = value } }
    func clear() { server.withLock { $0 = nil } }

    /// Nil when ready.
    var notReadyReason: String? {
        guard server.withLock({ $0?.isReady ?? false }) else { return "not ready: draining or not listening" }
        guard let watcher, !watcher.isSynced else { return nil }
        let waiting = watcher.unsyncedKinds.map(\.rawValue).joined(separator: ", ")
        if monotonicNanoseconds() < deadline { return "not ready: cluster view not synced yet (\(waiting))" }
        if gaveUpWaiting.withLock({ gave in defer { gave = true }; return !gave }) {
            logger.warning("cluster view not synced within --context-sync-timeout: ready anyway; context rules stay silent on these kinds until they sync", metadata: ["kinds": "\(waiting)"])
        }
        return nil
    }
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
