/// Server limits and timeouts. Defaults follow DESIGN.md and the apiserver's behaviour, and
/// fit the manifests' 128 MiB memory limit (the arithmetic is in README "Security and
/// limits").
public struct ServerConfiguration: Sendable {
    public var listen: ListenAddress
    /// Plain-HTTP listener for `/healthz`, `/readyz`, `/metrics` (nil: none).
    public var probeListen: ListenAddress?
    public var threads: Int
    /// 8 MiB: two 3 MiB objects (the apiserver's request cap) plus the envelope.
    public var maxBodyBytes = 8 * 1024 * 1024
    /// Request line + headers; more gets 431.
    public var maxHeadBytes = 16 * 1024
    /// ≥ 120 s so the apiserver's 90 s keep-alive always closes first (no EOF race).
    public var idleTimeoutSeconds = 120
    public var headerTimeoutSeconds = 10
    public var bodyTimeoutSeconds = 30
    public var handshakeTimeoutSeconds = 10
    /// Pending output that makes no progress for this long: the client does not read.
    public var writeTimeoutSeconds = 30
    /// How long SIGTERM waits for in-flight requests before closing everything.
    public var gracePeriodSeconds = 25
    /// HTTP/2 streams open at once per connection.
    public var maxConcurrentStreams: UInt32 = 100
    /// Open TLS connections across all loops; past it new connections are accepted and
    /// closed at once (so the listen backlog never fills with clients that will time out).
    /// Clamped to the file-descriptor limit at start.
    public var maxConnections = 1_000
    /// Open probe-port connections; past it the oldest is closed, so a flood of idle
    /// connections cannot starve kubelet's probes.
    public var maxProbeConnections = 32
    /// Per-connection output backlog at which we stop reading (pipelining and PING floods).
    public var maxPendingOutputBytes = 1024 * 1024
    /// Process-wide: request bytes being received or handled and answers waiting to be
    /// sent. Past it, new requests get 503 / REFUSED_STREAM.
    public var bufferBudgetBytes = 48 * 1024 * 1024
    /// What the handler may build from a body of this many bytes, beyond the body itself
    /// (parsed values, the answer): charged to the budget while it runs. The application
    /// knows its own cost; this default assumes twice the body.
    public var handlerWorkingMemory: @Sendable (_ bodyBytes: Int) -> Int = { 2 * $0 }

    public init(listen: ListenAddress, threads: Int) {
        self.listen = listen
        self.threads = max(1, threads)
    }
}

/// What the server reports for metrics; the server itself knows nothing of Prometheus.
public protocol ServerObserver: Sendable {
    func connectionOpened(_ version: HTTPVersion)
    func connectionClosed(_ version: HTTPVersion)
    func handshakeFailed(_ reason: String)
    /// Called on a loop thread after it handled one batch of ready events, and after an
    /// idle wake-up (at least once a second): the place to flush per-thread buffers.
    func loopIterationEnded()
    /// Called on a loop thread when its loop has ended (drained): flush everything.
    func loopEnded()
}

extension ServerObserver {
    public func loopIterationEnded() {}
    public func loopEnded() {}
}

public struct NoObserver: ServerObserver {
    public init() {}
    public func connectionOpened(_ version: HTTPVersion) {}
    public func connectionClosed(_ version: HTTPVersion) {}
    public func handshakeFailed(_ reason: String) {}
}
