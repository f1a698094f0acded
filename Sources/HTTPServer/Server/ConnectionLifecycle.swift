/// The rules that decide, for one connection, when to read, when to write, when to close,
/// and when and why it times out. A value type with no sockets, TLS or clock of its own:
/// `Connection` feeds it events with the time, and does what it answers. Tested with a
/// fake clock (HTTPServerTests/ConnectionLifecycleTests).
///
/// It replaces flags that used to be set from many places (`closed`, `closeAfterFlush`,
/// `finishAfterCurrent`, `readPaused`, `deadline`, `requestStarted`), where the bugs lived:
/// reading went on after the decision to close, and any received byte moved the deadline.
struct ConnectionLifecycle: Sendable {
    struct Limits: Sendable {
        var handshakeTimeout: UInt64
        var idleTimeout: UInt64
        var headerTimeout: UInt64
        var bodyTimeout: UInt64
        /// Pending output that makes no progress for this long: the client does not read.
        var writeTimeout: UInt64
        /// Past this much pending output, stop reading (no new requests until it drains).
        var maxPendingOutput: Int

        static func seconds(handshake: Int, idle: Int, header: Int, body: Int, write: Int, maxPendingOutput: Int) -> Limits {
            let ns = { (s: Int) in UInt64(s) * 1_000_000_000 }
            return Limits(
                handshakeTimeout: ns(handshake), idleTimeout: ns(idle), headerTimeout: ns(header), bodyTimeout: ns(body),
                writeTimeout: ns(write), maxPendingOutput: maxPendingOutput)
        }
    }

    enum Stage: Equatable, Sendable {
        case handshake
        case open
        /// Decided to close: read nothing more, flush what is pending, then close.
        case closing
        case closed
    }

    /// What the protocol reports after each batch of input or output. Only a request's
    /// progress moves these times: PINGs, SETTINGS, empty lines or garbage do not.
    enum Activity: Equatable, Sendable {
        /// No request in progress; the last one ended (or the connection opened) at `since`.
        case idle(since: UInt64)
        /// A request head is arriving (HTTP/1), started at `since`.
        case readingHead(since: UInt64)
        /// A body is arriving (HTTP/1), or the oldest open HTTP/2 stream started at `since`.
        case readingBody(since: UInt64)

        var isIdle: Bool {
            if case .idle = self { return true }
            return false
        }
    }

    enum Timeout: Equatable, Sendable {
        case handshake, idle, header, body
        /// The client stopped reading what we send.
        case write
    }

    let limits: Limits
    private(set) var stage = Stage.handshake
    private(set) var activity: Activity
    private let acceptedAt: UInt64
    private(set) var pendingOutput = 0
    private var lastWriteProgress: UInt64
    /// Draining for shutdown: finish the current work, start nothing new.
    private(set) var draining = false

    init(acceptedAt now: UInt64, limits: Limits) {
        self.limits = limits
        acceptedAt = now
        activity = .idle(since: now)
        lastWriteProgress = now
    }

    // MARK: - Events

    mutating func handshakeCompleted(now: UInt64) {
        guard stage == .handshake else { return }
        stage = .open
        activity = .idle(since: now)
    }

    mutating func activityChanged(_ activity: Activity) {
        self.activity = activity
    }

    /// Output was queued or written; `now` marks progress when bytes left or output began.
    mutating func outputChanged(pending: Int, now: UInt64) {
        if pending < pendingOutput || pendingOutput == 0 { lastWriteProgress = now }
        pendingOutput = pending
    }

    /// An error answer or `Connection: close`: no more reading; close once flushed.
    mutating func closeAfterFlush() {
        if stage == .open || stage == .handshake { stage = .closing }
    }

    mutating func startDraining() { draining = true }

    mutating func closed() { stage = .closed }

    // MARK: - Decisions

    /// Read more input? Not while closing, not with a full output backlog (the client
    /// must read first), and, while the process-wide budget is spent, not while anything
    /// of ours waits to be sent.
    func wantsRead(budgetExhausted: Bool) -> Bool {
        switch stage {
        case .handshake: true
        case .open: pendingOutput <= limits.maxPendingOutput && !(budgetExhausted && pendingOutput > 0)
        case .closing, .closed: false
        }
    }

    var wantsWrite: Bool { pendingOutput > 0 && (stage == .open || stage == .closing) }

    /// Nothing left to send, and closing was decided, or the server drains and no request
    /// is in progress.
    var shouldCloseNow: Bool {
        guard pendingOutput == 0 else { return false }
        if stage == .closing { return true }
        if stage == .open, draining, activity.isIdle { return true }
        return false
    }

    /// The earliest deadline and what it stands for.
    var nextTimeout: (at: UInt64, kind: Timeout) {
        if stage == .handshake { return (acceptedAt + limits.handshakeTimeout, .handshake) }
        let request: (UInt64, Timeout) =
            switch activity {
            case .idle(let since): (since + limits.idleTimeout, .idle)
            case .readingHead(let since): (since + limits.headerTimeout, .header)
            case .readingBody(let since): (since + limits.bodyTimeout, .body)
            }
        guard pendingOutput > 0 else { return stage == .closing ? (lastWriteProgress + limits.writeTimeout, .write) : request }
        let write = lastWriteProgress + limits.writeTimeout
        // While closing, only the flush matters; otherwise whichever comes first.
        if stage == .closing || write < request.0 { return (write, .write) }
        return request
    }

    /// The timeout that has passed at `now`, if any.
    func expired(now: UInt64) -> Timeout? {
        guard stage != .closed else { return nil }
        let next = nextTimeout
        return now >= next.at ? next.kind : nil
    }
}
