import CSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One epoll loop on its own thread: a SO_REUSEPORT listener (TLS connections, or the
/// plain-HTTP probe listener on the first loop), its connections, a wake-up eventfd, and a
/// once-a-second sweep for timeouts.
final class EventLoop {
    let config: ServerConfiguration
    let handler: HTTPHandler
    let observer: any ServerObserver
    let budget: BufferBudget
    let lifecycleLimits: ConnectionLifecycle.Limits
    /// Probe connections get short timeouts: a probe is one small request.
    let probeLifecycleLimits: ConnectionLifecycle.Limits
    let http2Limits: HTTP2Session.Limits
    private let certificates: CertificateReloader
    private var log: RateLimitedLog
    private let epfd: Int32
    private var listener: Int32
    /// The plain-HTTP probe listener (first loop only), or -1.
    private var probeListener: Int32
    /// Open probe connections, oldest first (the oldest is closed when a new one would
    /// pass the limit).
    private var probeConnections: [Int32] = []
    /// Out of epoll until this time after EMFILE/ENFILE (0: accepting).
    private var acceptPausedUntil: UInt64 = 0
    let wake: EventFD
    private var connections: [Int32: Connection] = [:]
    /// This loop's share of the connection limit.
    private let maxConnections: Int
    /// Shared by all connections of this loop: reads happen one at a time.
    var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Moves the read buffer out (so writing into it does not copy); a nested read gets a
    /// fresh one.
    func takeReadBuffer() -> [UInt8] {
        if readBuffer.isEmpty { return [UInt8](repeating: 0, count: 64 * 1024) }
        let buffer = readBuffer
        readBuffer = []
        return buffer
    }
    private(set) var draining = false
    private let drainRequested: Atomic<Bool>
    private var drainDeadline: UInt64 = 0
    /// Connections that stopped reading (back-pressure) and may now continue.
    private var pendingResumes: [Int32] = []
    /// Connections with answers made during this batch of events, written together when
    /// the batch is done: a client woken once finds several answers waiting, instead of
    /// being woken (and taking the CPU from this loop) once per answer. On HTTP/1.1 with
    /// the load generator on the same two cores: 25 % more requests/s, 35 % less kernel
    /// time per request.
    private var flushQueue: [Connection] = []
    /// Queued answers are written once the batch has run this long (checked between
    /// events): an answer waits at most this plus the one event being handled, never
    /// longer than the last answer of a batch waited anyway.
    static let maxFlushDelayNanoseconds: UInt64 = 250_000
    private var cachedDate = ""
    private var cachedDateSecond = 0

    /// The probe port's connections are not counted in the budget (a busy server must
    /// still answer kubelet), so each is kept small: probes send no body, and a pipelined
    /// flood stops being read past one metrics answer or so.
    static let probeMaxHeadBytes = 8 * 1024
    static let probeMaxBodyBytes = 1024
    static let probeMaxPendingOutput = 64 * 1024

    /// How long accepting pauses when the process or system is out of file descriptors:
    /// long enough not to spin, short enough that a freed descriptor is used soon.
    static let acceptPauseNanoseconds: UInt64 = 100_000_000

    init(
        config: ServerConfiguration, listener: Int32, probeListener: Int32 = -1, maxConnections: Int, handler: @escaping HTTPHandler, observer: any ServerObserver,
        certificates: CertificateReloader, budget: BufferBudget, log: @escaping @Sendable (LogLevel, String) -> Void
    ) throws(SystemError) {
        self.config = config
        self.handler = handler
        self.observer = observer
        self.certificates = certificates
        self.budget = budget
        self.log = RateLimitedLog(log)
        self.listener = listener
        self.probeListener = probeListener
        self.maxConnections = maxConnections
        self.drainRequested = Atomic(false)
        lifecycleLimits = .seconds(
            handshake: config.handshakeTimeoutSeconds, idle: config.idleTimeoutSeconds, header: config.headerTimeoutSeconds,
            body: config.bodyTimeoutSeconds, write: config.writeTimeoutSeconds, maxPendingOutput: config.maxPendingOutputBytes)
        probeLifecycleLimits = .seconds(handshake: 1, idle: 10, header: 5, body: 5, write: 5, maxPendingOutput: Self.probeMaxPendingOutput)
        http2Limits = HTTP2Session.Limits(
            maxConcurrentStreams: config.maxConcurrentStreams, maxBodyBytes: config.maxBodyBytes, maxHeaderListBytes: config.maxHeadBytes,
            maxPendingOutputBytes: config.maxPendingOutputBytes)
        epfd = try Epoll.create()
        wake = try EventFD()
        try Epoll.add(epfd, listener, events: Epoll.readable)
        if probeListener >= 0 { try Epoll.add(epfd, probeListener, events: Epoll.readable) }
        try Epoll.add(epfd, wake.fd, events: Epoll.readable)
    }

    deinit {
        Glibc.close(epfd)
        Glibc.close(wake.fd)
    }

    /// Called from another thread: begin the graceful drain.
    func requestDrain() {
        drainRequested.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Runs until drained. Returns when every connection is closed or the grace period ends.
    func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastSweep = monotonicNanoseconds()
        while true {
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), waitTimeout()) }
            if n < 0 && errno != EINTR {
                log.error("epoll_wait", "epoll_wait: \(String(cString: strerror(errno)))", now: monotonicNanoseconds())
                break
            }
            var now = monotonicNanoseconds()
            let batchStart = now
            for i in 0..<max(0, Int(n)) {
                let fd = events[i].data.fd
                let mask = events[i].events
                if fd == listener {
                    acceptAll(now: now)
                } else if fd == probeListener {
                    acceptProbe(now: now)
                } else if fd == wake.fd {
                    wake.drain()
                } else if let connection = connections[fd] {
                    connection.handle(events: mask, now: now)
                    if !flushQueue.isEmpty, monotonicNanoseconds() - batchStart >= Self.maxFlushDelayNanoseconds {
                        flushQueued(now: now)
                    }
                }
            }
            if !pendingResumes.isEmpty {
                let resumed = pendingResumes
                pendingResumes.removeAll()
                for fd in resumed { connections[fd]?.resume(now: now) }
            }
            flushQueued(now: now)
            observer.loopIterationEnded()
            if !draining, drainRequested.load(ordering: .acquiring) { beginDrain(now: now) }
            now = monotonicNanoseconds()
            if acceptPausedUntil != 0, now >= acceptPausedUntil { resumeAccepting() }
            if now - lastSweep >= 1_000_000_000 || draining {
                lastSweep = now
                sweep(now)
            }
            if draining && (connections.count == probeConnections.count || now >= drainDeadline) { break }
        }
        for connection in Array(connections.values) { connection.close() }
        if probeListener >= 0 { Glibc.close(probeListener) }
        observer.loopEnded()
    }

    private func waitTimeout() -> Int32 {
        if !pendingResumes.isEmpty { return 0 }
        if acceptPausedUntil != 0 {
            let now = monotonicNanoseconds()
            return acceptPausedUntil > now ? Int32((acceptPausedUntil - now) / 1_000_000 + 1) : 0
        }
        return 1000
    }

    private enum Accepted {
        case socket(Int32)
        /// A failure that concerns only that one client: try the next.
        case retry
        /// Nothing more to take now (none pending, or accepting is paused).
        case done
    }

    /// One accept on either listener, with the errors a flood of clients can cause handled
    /// the same way for both.
    private func acceptOne(from listenerFD: Int32, now: UInt64) -> Accepted {
        do {
            guard let fd = try Socket.accept(listenerFD) else { return .done }
            return .socket(fd)
        } catch {
            switch error.errno {
            case ECONNABORTED, EPROTO, EPERM:
                // The client gave up between SYN and accept (or a firewall refused it):
                // nothing to report, the next one may be fine.
                return .retry
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory. Listeners are level-triggered and stay
                // readable, so leaving them in epoll would spin: take them out for a moment.
                pauseAccepting(now: now)
                log.error("accept-\(error.errno)", "\(error); not accepting for \(Self.acceptPauseNanoseconds / 1_000_000) ms", now: now)
                return .done
            default:
                log.error("accept-\(error.errno)", "\(error)", now: now)
                return .done
            }
        }
    }

    private func acceptAll(now: UInt64) {
        for _ in 0..<64 {
            switch acceptOne(from: listener, now: now) {
            case .done: return
            case .retry: continue
            case .socket(let fd):
                if connections.count - probeConnections.count >= maxConnections {
                    Glibc.close(fd)
                    log.warning("connection-limit", "connection limit reached (\(config.maxConnections)): closing new connections", now: now)
                    continue
                }
                register(fd, context: certificates.current, now: now)
            }
        }
    }

    /// The probe port: plain HTTP/1.1, few connections. When full, the oldest goes, so
    /// that idle connections from anyone cannot keep kubelet's probes out.
    private func acceptProbe(now: UInt64) {
        for _ in 0..<16 {
            switch acceptOne(from: probeListener, now: now) {
            case .done: return
            case .retry: continue
            case .socket(let fd):
                if probeConnections.count >= config.maxProbeConnections, let oldest = probeConnections.first {
                    connections[oldest]?.close()
                }
                if register(fd, context: nil, now: now) { probeConnections.append(fd) }
            }
        }
    }

    /// Wraps an accepted socket in a connection and watches it; on failure the socket is
    /// closed once, here.
    @discardableResult
    private func register(_ fd: Int32, context: TLSContext?, now: UInt64) -> Bool {
        do {
            let connection = try Connection(fd: fd, context: context, loop: self, now: now)
            connections[fd] = connection
            try Epoll.add(epfd, fd, events: Epoll.readable)
            return true
        } catch {
            log.error("connection-setup", "cannot set up connection: \(error)", now: now)
            connections[fd] = nil
            Glibc.close(fd)
            return false
        }
    }

    private var listeners: [Int32] { [listener, probeListener].filter { $0 >= 0 } }

    private func pauseAccepting(now: UInt64) {
        guard acceptPausedUntil == 0 else { return }
        for fd in listeners { Epoll.remove(epfd, fd) }
        acceptPausedUntil = now + Self.acceptPauseNanoseconds
    }

    private func resumeAccepting() {
        acceptPausedUntil = 0
        for fd in listeners { try? Epoll.add(epfd, fd, events: Epoll.readable) }
    }

    private func sweep(_ now: UInt64) {
        for connection in Array(connections.values) {
            if let timeout = connection.lifecycle.expired(now: now) { connection.timedOut(timeout, now: now) }
        }
    }

    private func beginDrain(now: UInt64) {
        draining = true
        drainDeadline = now + UInt64(config.gracePeriodSeconds) * 1_000_000_000
        if acceptPausedUntil != 0 { resumeAccepting() }  // the probe listener goes back in
        Epoll.remove(epfd, listener)
        Glibc.close(listener)
        listener = -1
        // The probe port stays open while draining: /readyz must say "not ready".
        for connection in Array(connections.values) { connection.startDraining(now: now) }
    }

    /// Writes `connection`'s answers when this batch of events is done.
    func flushAfterBatch(_ connection: Connection) {
        flushQueue.append(connection)
    }

    private func flushQueued(now: UInt64) {
        guard !flushQueue.isEmpty else { return }
        for connection in flushQueue { connection.flushAfterBatch(now: now) }
        flushQueue.removeAll(keepingCapacity: true)
    }

    func scheduleResume(_ connection: Connection) {
        pendingResumes.append(connection.fd)
    }

    func updateInterest(_ connection: Connection) {
        try? Epoll.modify(epfd, connection.fd, events: connection.interest)
    }

    func remove(_ connection: Connection) {
        Epoll.remove(epfd, connection.fd)
        connections[connection.fd] = nil
        if connection.listener == .probe, let index = probeConnections.firstIndex(of: connection.fd) { probeConnections.remove(at: index) }
    }

    /// RFC 9110 IMF-fixdate, formatted once per second.
    func date() -> String {
        var now = time(nil)
        if Int(now) == cachedDateSecond, !cachedDate.isEmpty { return cachedDate }
        var t = tm()
        gmtime_r(&now, &t)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &t)
        cachedDate = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cachedDateSecond = Int(now)
        return cachedDate
    }
}

/// Error lines that a client can cause over and over (accept failures, limits) at most once
/// per interval per kind, with the count of those left out: a flood of connections must not
/// turn into a flood of log lines.
struct RateLimitedLog {
    private let sink: @Sendable (LogLevel, String) -> Void
    private var last: [String: (at: UInt64, suppressed: Int)] = [:]
    let interval: UInt64

    init(_ sink: @escaping @Sendable (LogLevel, String) -> Void, interval: UInt64 = 10_000_000_000) {
        self.sink = sink
        self.interval = interval
    }

    mutating func error(_ key: String, _ message: String, now: UInt64) { emit(.error, key, message, now: now) }
    mutating func warning(_ key: String, _ message: String, now: UInt64) { emit(.warning, key, message, now: now) }

    mutating func emit(_ level: LogLevel, _ key: String, _ message: String, now: UInt64) {
        if let previous = last[key], now - previous.at < interval {
            last[key] = (previous.at, previous.suppressed + 1)
            return
        }
        let suppressed = last[key]?.suppressed ?? 0
        sink(level, suppressed > 0 ? "\(message) (\(suppressed) more like this since the last such line)" : message)
        last[key] = (now, 0)
    }
}
