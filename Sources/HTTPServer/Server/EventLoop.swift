import CSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One epoll loop on its own thread: a SO_REUSEPORT listener, its connections, a wake-up
/// eventfd, and a once-a-second sweep for timeouts.
final class EventLoop {
    let config: ServerConfiguration
    let handler: HTTPHandler
    let observer: any ServerObserver
    private let certificates: CertificateReloader
    private let log: @Sendable (LogLevel, String) -> Void
    private let epfd: Int32
    private var listener: Int32
    let wake: EventFD
    private var connections: [Int32: Connection] = [:]
    /// Shared by all connections of this loop: reads happen one at a time.
    var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Moves the read buffer out (so writing into it does not copy); a nested read
    /// (resuming a paused connection) gets a fresh one.
    func takeReadBuffer() -> [UInt8] {
        if readBuffer.isEmpty { return [UInt8](repeating: 0, count: 64 * 1024) }
        let buffer = readBuffer
        readBuffer = []
        return buffer
    }
    private(set) var draining = false
    private let drainRequested: Atomic<Bool>
    private var drainDeadline: UInt64 = 0
    /// Connections that paused reading for back-pressure and may now continue.
    private var pendingReads: [Int32] = []
    private var lastRefusalLog: UInt64 = 0
    private var cachedDate = ""
    private var cachedDateSecond = 0

    init(
        config: ServerConfiguration, listener: Int32, handler: @escaping HTTPHandler, observer: any ServerObserver,
        certificates: CertificateReloader, log: @escaping @Sendable (LogLevel, String) -> Void
    ) throws(SystemError) {
        self.config = config
        self.handler = handler
        self.observer = observer
        self.certificates = certificates
        self.log = log
        self.listener = listener
        self.drainRequested = Atomic(false)
        epfd = try Epoll.create()
        wake = try EventFD()
        try Epoll.add(epfd, listener, events: Epoll.readable)
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
            let timeout: Int32 = pendingReads.isEmpty ? 1000 : 0
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeout) }
            if n < 0 && errno != EINTR {
                log(.error, "epoll_wait: \(String(cString: strerror(errno)))")
                break
            }
            for i in 0..<max(0, Int(n)) {
                let fd = events[i].data.fd
                let mask = events[i].events
                if fd == listener {
                    acceptAll()
                } else if fd == wake.fd {
                    wake.drain()
                } else if let connection = connections[fd] {
                    connection.handle(events: mask)
                }
            }
            if !pendingReads.isEmpty {
                let resumed = pendingReads
                pendingReads.removeAll()
                for fd in resumed { connections[fd]?.handle(events: Epoll.readable) }
            }
            observer.loopIterationEnded()
            if !draining, drainRequested.load(ordering: .acquiring) { beginDrain() }
            let now = monotonicNanoseconds()
            if now - lastSweep >= 1_000_000_000 || draining {
                lastSweep = now
                sweep(now)
            }
            if draining && (connections.isEmpty || now >= drainDeadline) { break }
        }
        for connection in Array(connections.values) { connection.close() }
        observer.loopEnded()
    }

    private func acceptAll() {
        for _ in 0..<64 {
            let fd: Int32?
            do {
                fd = try Socket.accept(listener)
            } catch {
                // EMFILE and friends: log and retry on the next wake-up instead of spinning.
                log(.error, "accept: \(error)")
                return
            }
            guard let fd else { return }
            // Each loop owns an equal share of the connection limit.
            if connections.count >= (config.maxConnections + config.threads - 1) / config.threads {
                Glibc.close(fd)
                let now = monotonicNanoseconds()
                if now - lastRefusalLog > 10_000_000_000 {
                    lastRefusalLog = now
                    log(.warning, "connection limit reached (\(config.maxConnections)): closing new connections")
                }
                continue
            }
            do {
                let connection = try Connection(fd: fd, context: certificates.current, loop: self)
                connections[fd] = connection
                try Epoll.add(epfd, fd, events: Epoll.readable)
            } catch {
                log(.error, "cannot set up connection: \(error)")
                connections[fd] = nil
                Glibc.close(fd)
            }
        }
    }

    private func sweep(_ now: UInt64) {
        for connection in Array(connections.values) where connection.deadline <= now {
            connection.timedOut()
        }
    }

    private func beginDrain() {
        draining = true
        drainDeadline = monotonicNanoseconds() + UInt64(config.gracePeriodSeconds) * 1_000_000_000
        Epoll.remove(epfd, listener)
        Glibc.close(listener)
        listener = -1
        for connection in Array(connections.values) { connection.startDraining() }
    }

    func scheduleRead(_ connection: Connection) {
        pendingReads.append(connection.fd)
    }

    func updateInterest(_ connection: Connection) {
        try? Epoll.modify(epfd, connection.fd, events: connection.interest)
    }

    func remove(_ connection: Connection) {
        Epoll.remove(epfd, connection.fd)
        connections[connection.fd] = nil
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
