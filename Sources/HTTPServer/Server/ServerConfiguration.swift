/// Server limits and timeouts. Defaults follow DESIGN.md and the apiserver's behaviour.
public struct ServerConfiguration: Sendable {
    public var listen: ListenAddress
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
    /// How long SIGTERM waits for in-flight requests before closing everything.
    public var gracePeriodSeconds = 25
    public var maxConcurrentStreams: UInt32 = 128
    /// Open connections across all loops; past it new connections are accepted and closed
    /// at once (so the listen backlog never fills with clients that will time out).
    public var maxConnections = 10_000
    /// Per-connection output backlog at which we stop reading (pipelining floods).
    public var maxPendingOutputBytes = 4 * 1024 * 1024

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
