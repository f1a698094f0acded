import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The HTTPS server: one epoll loop per thread, each with its own SO_REUSEPORT listener.
/// Knows nothing of Kubernetes: it hands each request to one handler.
public final class Server: Sendable {
    public let config: ServerConfiguration
    private let handler: HTTPHandler
    private let observer: any ServerObserver
    private let certificates: CertificateReloader
    private let log: @Sendable (LogLevel, String) -> Void
    private let state = Locked(State())

    /// Bytes buffered for clients, across all loops.
    public let budget: BufferBudget

    private struct State {
        var loops: [LoopThread] = []
        var port: UInt16 = 0
        var probePort: UInt16?
        var maxConnections = 0
        var draining = false
        var reloadThread: pthread_t?
    }

    public init(
        config: ServerConfiguration, certificates: CertificateReloader, observer: any ServerObserver = NoObserver(),
        log: @escaping @Sendable (LogLevel, String) -> Void, handler: @escaping HTTPHandler
    ) {
        self.config = config
        self.certificates = certificates
        self.observer = observer
        self.log = log
        self.handler = handler
        budget = BufferBudget(limit: config.bufferBudgetBytes)
    }

    /// Binds every loop's listener and starts the threads. Returns the bound port (useful
    /// with port 0).
    @discardableResult
    public func start() throws -> UInt16 {
        // Connections must fit the descriptors we can have: running out is handled (accepting
        // pauses), but a limit we can reach is better.
        let descriptors = FileDescriptorLimit.raiseToHard()
        let usable = max(1, descriptors - FileDescriptorLimit.reserved(threads: config.threads, probeConnections: config.probeListen == nil ? 0 : config.maxProbeConnections))
        let maxConnections = min(config.maxConnections, usable)
        if maxConnections < config.maxConnections {
            log(.warning, "max connections lowered from \(config.maxConnections) to \(maxConnections): the file-descriptor limit is \(descriptors)")
        }
        var address = config.listen
        try Socket.checkNotListening(address)
        if let probeAddress = config.probeListen { try Socket.checkNotListening(probeAddress) }
        let first = try Socket.listen(address)
        address.port = Socket.localPort(first)
        var listeners = [first]
        var probe: Int32 = -1
        do {
            for _ in 1..<config.threads { listeners.append(try Socket.listen(address)) }
            if let probeAddress = config.probeListen { probe = try Socket.listen(probeAddress, backlog: 64) }
        } catch {
            listeners.forEach { close($0) }
            throw error
        }
        var threads: [LoopThread] = []
        // Each loop owns an equal share of the connection limit.
        let share = (maxConnections + config.threads - 1) / config.threads
        for (index, listener) in listeners.enumerated() {
            let loop = try EventLoop(
                config: config, listener: listener, probeListener: index == 0 ? probe : -1, maxConnections: share, handler: handler,
                observer: observer, certificates: certificates, budget: budget, log: log)
            threads.append(LoopThread(loop))
        }
        threads.forEach { $0.start() }
        let reloader = certificates
        let reload = startThread {
            // Poll rather than inotify: Secret volumes swap a symlink two levels up, and a
            // 2 s poll of two small files costs nothing.
            while true {
                sleep(2)
                reloader.checkForChanges()
            }
        }
        state.withLock {
            $0.loops = threads
            $0.port = address.port
            $0.probePort = probe >= 0 ? Socket.localPort(probe) : nil
            $0.maxConnections = maxConnections
            $0.reloadThread = reload
        }
        return address.port
    }

    /// The probe listener's port, if there is one.
    public var probePort: UInt16? { state.withLock { $0.probePort } }

    /// The connection limit in force (after clamping to the descriptor limit).
    public var maxConnections: Int { state.withLock { $0.maxConnections } }

    /// Ready once listening with a certificate; not ready while draining.
    public var isReady: Bool {
        state.withLock { !$0.loops.isEmpty && !$0.draining }
    }

    public var port: UInt16 { state.withLock { $0.port } }

    /// Starts the graceful drain; `wait()` returns when it is done.
    public func shutdown() {
        let loops = state.withLock { s -> [LoopThread] in
            s.draining = true
            return s.loops
        }
        loops.forEach { $0.loop.requestDrain() }
    }

    /// Blocks until every loop has drained, then lets the loops go: their handler may hold
    /// this server (readiness), and that cycle would outlive the process (LeakSanitizer
    /// reports it at exit).
    public func wait() {
        let loops = state.withLock { $0.loops }
        for loop in loops { loop.join() }
        state.withLock { $0.loops = [] }
    }
}

/// A loop and the pthread that runs it.
final class LoopThread: @unchecked Sendable {
    let loop: EventLoop
    private var thread: pthread_t?

    init(_ loop: EventLoop) { self.loop = loop }

    func start() {
        let loop = self.loop
        nonisolated(unsafe) let unsafeLoop = loop
        thread = startThread { unsafeLoop.run() }
    }

    func join() {
        if let thread { pthread_join(thread, nil) }
    }
}
