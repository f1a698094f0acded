import CTLS

#if canImport(Glibc)
import Glibc
#endif

/// One accepted TLS connection: handshake, then HTTP/1.1 or HTTP/2 by ALPN. Owned by one
/// loop; everything here runs on that loop's thread. The decisions — read or not, close
/// when, time out why — are `ConnectionLifecycle`'s; this class does the I/O, runs the
/// protocol session, and keeps the process-wide buffer budget charged with what it holds.
final class Connection {
    enum Phase {
        case handshake
        case http1(HTTP1Session)
        case http2(HTTP2Session)
    }

    let fd: Int32
    /// nil on the plain-HTTP probe listener.
    private let ssl: OpaquePointer?
    /// Keeps the context this connection was accepted with alive across reloads.
    private let context: TLSContext?
    private let loop: EventLoop
    let listener: ListenerRole
    private(set) var proto = Phase.handshake
    private(set) var lifecycle: ConnectionLifecycle
    private var output: [UInt8] = []
    private var outputOffset = 0
    /// Epoll interest currently registered.
    var interest: UInt32 = Epoll.readable
    /// OpenSSL asked to write during the handshake.
    private var handshakeWantsWrite = false
    /// Answers wait in `output` for the loop to write them with the rest of its batch
    /// (`EventLoop.flushAfterBatch`); until then nothing is settled.
    private var awaitsBatchFlush = false
    /// Reading stopped by the lifecycle (back-pressure or budget): OpenSSL may hold
    /// decrypted bytes epoll cannot see, so resuming must read once without an event.
    private var readStalled = false
    /// Whether this connection's bytes count against the process-wide budget: the probe
    /// port's few small connections do not, so that kubelet's liveness probe never gets a
    /// 503 from a server that is merely busy.
    private var budgeted: Bool { listener == .tls }
    private var overBudget: Bool { budgeted && loop.budget.isExhausted }
    /// Bytes charged to the budget for this connection: the HTTP/1 session's committed
    /// input, and pending output.
    private var chargedInput = 0
    private var chargedOutput = 0

    /// A TLS connection with `context`, or a plain one (probe listener) without.
    init(fd: Int32, context: TLSContext?, loop: EventLoop, now: UInt64) throws(TLSError) {
        self.fd = fd
        self.context = context
        self.loop = loop
        listener = context == nil ? .probe : .tls
        lifecycle = ConnectionLifecycle(acceptedAt: now, limits: context == nil ? loop.probeLifecycleLimits : loop.lifecycleLimits)
        if let context {
            ERR_clear_error()
            guard let ssl = SSL_new(context.ctx) else { throw TLSError("SSL_new") }
            SSL_set_fd(ssl, fd)
            SSL_set_accept_state(ssl)
            self.ssl = ssl
        } else {
            ssl = nil
        }
    }

    deinit {
        loop.budget.release(chargedInput + chargedOutput)
        if let ssl { SSL_free(ssl) }
    }

    var version: HTTPVersion? {
        switch proto {
        case .handshake: nil
        case .http1: .http1
        case .http2: .http2
        }
    }

    var isClosed: Bool { lifecycle.stage == .closed }

    private var pendingOutput: Int { output.count - outputOffset }

    // MARK: - Events

    func handle(events: UInt32, now: UInt64) {
        // Error or hang-up with nothing we may still read: the peer is gone, and epoll
        // reports these whatever the interest, so ignoring them would spin.
        if events & (Epoll.error | Epoll.peerHangup) != 0, !lifecycle.wantsRead(budgetExhausted: false) {
            close()
            return
        }
        if events & Epoll.writable != 0 { flush(now: now) }
        if !isClosed, events & (Epoll.readable | Epoll.error | Epoll.peerHangup) != 0 { readAvailable(now: now) }
        settle(now: now)
    }

    /// Resumes a connection whose reading was stalled: first the requests already
    /// buffered, then whatever OpenSSL and the socket hold.
    func resume(now: UInt64) {
        guard !isClosed else { return }
        if case .http1(var session) = proto {
            proto = .handshake  // drop our copy so the session is uniquely referenced
            processHTTP1(&session, now: now)
            proto = .http1(session)
        }
        readAvailable(now: now)
        settle(now: now)
    }

    private func readAvailable(now: UInt64) {
        if case .handshake = proto {
            guard handshake(now: now) else { return }
        }
        var buffer = loop.takeReadBuffer()
        defer { loop.readBuffer = buffer }
        reading: while !isClosed {
            guard lifecycle.wantsRead(budgetExhausted: overBudget) else {
                readStalled = true
                break
            }
            switch buffer.withUnsafeMutableBytes({ readSome(into: $0) }) {
            case .done(let n):
                buffer.withUnsafeBufferPointer { received(UnsafeBufferPointer(rebasing: $0[0..<n]), now: now) }
                // A short read with nothing buffered in OpenSSL means the socket is drained:
                // skip the read(2) that would only say EAGAIN (epoll is level-triggered).
                if n < buffer.count && !hasBufferedInput { break reading }
            case .wouldBlock:
                break reading
            case .finished:
                // The peer sends nothing more (EOF, close_notify) but may still read: the
                // answers to what it sent go out, then the connection closes.
                lifecycle.closeAfterFlush()
                break reading
            case .closed:
                // A reset or a broken stream: the peer is gone.
                close()
                return
            }
        }
        guard pendingOutput > 0 else { return flush(now: now) }
        // Charged now: the budget counts answers that wait for their batch.
        syncOutput(now: now)
        if !awaitsBatchFlush {
            awaitsBatchFlush = true
            loop.flushAfterBatch(self)
        }
    }

    /// The loop's batch is done: write what it answered, then settle as `handle` would have.
    func flushAfterBatch(now: UInt64) {
        guard awaitsBatchFlush else { return }
        awaitsBatchFlush = false
        guard !isClosed else { return }
        flush(now: now)
        settle(now: now)
    }

    private enum IO {
        case done(Int)
        case wouldBlock
        /// A clean end of what the peer sends: read(2) returned 0, or TLS close_notify.
        case finished
        case closed
    }

    private func readSome(into buffer: UnsafeMutableRawBufferPointer) -> IO {
        guard let ssl else { return Self.plainResult(Glibc.read(fd, buffer.baseAddress, buffer.count)) }
        clearTLSErrorQueue()
        return Self.tlsResult(ssl, SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count)))
    }

    private func writeSome(_ bytes: UnsafeRawBufferPointer) -> IO {
        guard let ssl else { return Self.plainResult(Glibc.write(fd, bytes.baseAddress, bytes.count)) }
        clearTLSErrorQueue()
        return Self.tlsResult(ssl, SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count)))
    }

    /// read(2)/write(2) on the probe port: EAGAIN (or EINTR) waits, 0 is the end of what
    /// the peer sends, anything else ends the connection.
    private static func plainResult(_ n: Int) -> IO {
        if n > 0 { return .done(n) }
        if n == 0 { return .finished }
        return errno == EAGAIN || errno == EINTR ? .wouldBlock : .closed
    }

    /// SSL_read/SSL_write: either direction of WANT waits (TLS may need to read to write);
    /// close_notify is the end of what the peer sends.
    private static func tlsResult(_ ssl: OpaquePointer, _ n: Int32) -> IO {
        if n > 0 { return .done(Int(n)) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wouldBlock
        case SSL_ERROR_ZERO_RETURN: return .finished
        default: return .closed
        }
    }

    /// Decrypted bytes OpenSSL holds that epoll cannot see.
    private var hasBufferedInput: Bool { ssl.map { SSL_has_pending($0) != 0 } ?? false }

    /// Returns true when the handshake is complete and the protocol chosen.
    private func handshake(now: UInt64) -> Bool {
        guard let ssl else {
            proto = .http1(HTTP1Session(maxHeadBytes: EventLoop.probeMaxHeadBytes, maxBodyBytes: EventLoop.probeMaxBodyBytes))
            lifecycle.handshakeCompleted(now: now)
            if loop.draining { startDraining(now: now) }
            return !isClosed
        }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeWantsWrite = false
            if let context, !context.acceptsPeer(of: ssl) {
                loop.observer.handshakeFailed("client certificate names none of --client-name")
                close()
                return false
            }
            var name: UnsafePointer<UInt8>?
            var length: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &name, &length)
            let isH2 = length == 2 && name?[0] == UInt8(ascii: "h") && name?[1] == UInt8(ascii: "2")
            if isH2 {
                do {
                    let session = try HTTP2Session(limits: loop.http2Limits, budget: loop.budget, now: now)
                    proto = .http2(session)
                    session.drainOutput(into: &output, pending: pendingOutput)
                } catch {
                    close()
                    return false
                }
            } else {
                proto = .http1(HTTP1Session(maxHeadBytes: loop.config.maxHeadBytes, maxBodyBytes: loop.config.maxBodyBytes))
            }
            lifecycle.handshakeCompleted(now: now)
            loop.observer.connectionOpened(version!)
            if loop.draining { startDraining(now: now) }
            return !isClosed
        }
        let error = SSL_get_error(ssl, rc)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            handshakeWantsWrite = error == SSL_ERROR_WANT_WRITE
            return false
        }
        let reason = error == SSL_ERROR_SSL ? TLSError("handshake").description : "connection closed during handshake"
        loop.observer.handshakeFailed(reason)
        close()
        return false
    }

    private func received(_ bytes: UnsafeBufferPointer<UInt8>, now: UInt64) {
        switch proto {
        case .handshake: break
        case .http1(var session):
            proto = .handshake  // drop our copy so the session is uniquely referenced
            session.receive(bytes)
            processHTTP1(&session, now: now)
            proto = .http1(session)
        case .http2(let session):
            do {
                try session.receive(bytes, now: now)
            } catch {
                session.drainOutput(into: &output, pending: pendingOutput)
                lifecycle.closeAfterFlush()
                return
            }
            for (streamID, response) in session.takeRejected() { session.respond(streamID: streamID, response) }
            for (streamID, request) in session.takeReady() {
                session.respond(streamID: streamID, handle(request))
            }
            session.drainOutput(into: &output, pending: pendingOutput)
            lifecycle.activityChanged(session.activity)
        }
    }

    private func processHTTP1(_ session: inout HTTP1Session, now: UInt64) {
        var requestStart: UInt64? = session.isMidRequest ? currentRequestStart(now: now) : nil
        while lifecycle.stage == .open, lifecycle.wantsRead(budgetExhausted: false) {
            var event = session.next()
            if !chargeHTTP1Input(session) {
                event = session.abort(HTTP1Error(status: 503, message: HTTPResponse.serverBusyMessage))
            }
            releaseHTTP1Input(session)
            switch event {
            case .needMore:
                if session.isMidRequest {
                    let since = requestStart ?? now
                    lifecycle.activityChanged(session.isReadingBody ? .readingBody(since: since) : .readingHead(since: since))
                } else if !lifecycle.activity.isIdle {
                    lifecycle.activityChanged(.idle(since: now))
                }
                return
            case .sendContinue:
                output += HTTP1Session.continueResponse
                requestStart = requestStart ?? now
            case .error(let error):
                HTTP1Session.serialize(.text(error.status, error.message), keepAlive: false, date: loop.date(), into: &output)
                lifecycle.closeAfterFlush()
            case .request(let head, let body, let keepAlive):
                requestStart = nil
                let request = HTTPRequest(
                    method: head.method, target: head.target, headers: HTTPHeaders(lowercased: head.headers), body: body, version: .http1, listener: listener)
                let response = handle(request)
                let keep = keepAlive && !lifecycle.draining
                HTTP1Session.serialize(response, keepAlive: keep, date: loop.date(), headOnly: head.method == "HEAD", into: &output)
                lifecycle.activityChanged(.idle(since: now))
                if !keep { lifecycle.closeAfterFlush() }
            }
            lifecycle.outputChanged(pending: pendingOutput, now: now)
        }
    }

    /// Runs the handler with its working memory counted against the budget: the body, and
    /// what the handler builds from it (`handlerWorkingMemory`). A request that does not
    /// fit gets a fast 503, however its bytes arrived.
    private func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard budgeted, !request.body.isEmpty else { return loop.handler(request) }
        let working = request.body.count + loop.config.handlerWorkingMemory(request.body.count)
        guard loop.budget.tryCharge(working) else { return .serverBusy }
        defer { loop.budget.release(working) }
        return loop.handler(request)
    }

    /// When the request in progress began (kept across reads by the lifecycle).
    private func currentRequestStart(now: UInt64) -> UInt64 {
        switch lifecycle.activity {
        case .readingHead(let since), .readingBody(let since): since
        case .idle: now
        }
    }

    /// Charges what the HTTP/1 session newly holds or expects: the head as it arrives, a
    /// declared body in full before it is read. False when it does not fit: the request
    /// then gets a 503 and nothing more of it is read.
    private func chargeHTTP1Input(_ session: HTTP1Session) -> Bool {
        let delta = session.committedBytes - chargedInput
        guard delta > 0, budgeted else { return true }
        guard loop.budget.tryCharge(delta) else { return false }
        chargedInput += delta
        return true
    }

    private func releaseHTTP1Input(_ session: HTTP1Session) {
        let delta = chargedInput - session.committedBytes
        if delta > 0 {
            loop.budget.release(delta)
            chargedInput -= delta
        }
    }

    /// After each batch: the budget follows the output, and the lifecycle decides whether
    /// to close and what to wait for.
    private func settle(now: UInt64) {
        guard !isClosed, !awaitsBatchFlush else { return }
        syncOutput(now: now)
        if lifecycle.shouldCloseNow {
            close()
            return
        }
        updateInterest()
    }

    /// Answers held for the client: our output buffer, and on HTTP/2 the bodies submitted
    /// to nghttp2 that wait for the client's flow-control window. A client that keeps its
    /// window shut holds them all; they count like any pending output (the budget, the
    /// backlog limit that stops reading, the write timeout).
    private var heldOutput: Int {
        if case .http2(let session) = proto { return pendingOutput + session.unsentResponseBytes }
        return pendingOutput
    }

    private func syncOutput(now: UInt64) {
        let held = heldOutput
        let charge = budgeted ? held : 0
        if charge > chargedOutput { loop.budget.charge(charge - chargedOutput) } else { loop.budget.release(chargedOutput - charge) }
        chargedOutput = charge
        lifecycle.outputChanged(pending: held, now: now)
    }

    func flush(now: UInt64) {
        while !isClosed {
            while outputOffset < output.count {
                let result = output.withUnsafeBytes { writeSome(UnsafeRawBufferPointer(rebasing: $0[outputOffset..<min($0.count, outputOffset + (1 << 20))])) }
                switch result {
                case .done(let n):
                    outputOffset += n
                case .wouldBlock:
                    syncOutput(now: now)
                    return
                case .finished, .closed:
                    close()
                    return
                }
            }
            output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
            outputOffset = 0
            // HTTP/2 output is pulled from nghttp2 only as it drains, never all at once.
            guard case .http2(let session) = proto else { break }
            session.drainOutput(into: &output, pending: 0)
            if output.isEmpty {
                if !session.wantsIO { lifecycle.closeAfterFlush() }
                break
            }
        }
        syncOutput(now: now)
        if lifecycle.shouldCloseNow {
            close()
            return
        }
        if readStalled, lifecycle.wantsRead(budgetExhausted: overBudget) {
            readStalled = false
            // Not recursively from here (a long pipelined flood would deepen the stack).
            loop.scheduleResume(self)
        }
    }

    func updateInterest() {
        guard !isClosed else { return }
        var wanted: UInt32 = lifecycle.wantsRead(budgetExhausted: overBudget) ? Epoll.readable : 0
        // Writable only for bytes in our buffer: HTTP/2 bodies that wait for the client's
        // window cannot be written, and asking would wake the loop for nothing.
        if (lifecycle.wantsWrite && outputOffset < output.count) || (lifecycle.stage == .handshake && handshakeWantsWrite) {
            wanted |= Epoll.writable
        }
        if wanted != interest {
            interest = wanted
            loop.updateInterest(self)
        }
    }

    // MARK: - Shutdown and timeouts

    /// Graceful drain: idle connections close now, busy ones after their current work.
    func startDraining(now: UInt64) {
        lifecycle.startDraining()
        switch proto {
        case .handshake:
            close()
            return
        case .http1:
            break  // idle ones close in `settle`; busy ones answer with `Connection: close`
        case .http2(let session):
            session.goAway()
            flush(now: now)
        }
        settle(now: now)
    }

    func timedOut(_ kind: ConnectionLifecycle.Timeout, now: UInt64) {
        switch (kind, proto) {
        case (.header, .http1), (.body, .http1):
            if pendingOutput == 0 {
                HTTP1Session.serialize(.text(408, "request not received in time"), keepAlive: false, date: loop.date(), into: &output)
            }
        case (.idle, .http2(let session)), (.body, .http2(let session)), (.header, .http2(let session)):
            session.goAway()
        default:
            // The handshake never finished, an idle HTTP/1 connection, or a client that
            // stopped reading: nothing can or needs to be said.
            close()
            return
        }
        lifecycle.closeAfterFlush()
        flush(now: now)
        settle(now: now)
    }

    func close() {
        guard !isClosed else { return }
        let wasOpen = lifecycle.stage != .handshake
        lifecycle.closed()
        if listener == .tls, let version { loop.observer.connectionClosed(version) }
        if wasOpen, let ssl {
            ERR_clear_error()
            SSL_shutdown(ssl)  // best effort close_notify; never wait for the peer's
        }
        loop.budget.release(chargedInput + chargedOutput)
        chargedInput = 0
        chargedOutput = 0
        output = []
        outputOffset = 0
        loop.remove(self)
        Glibc.close(fd)
    }
}

extension HTTP2Session {
    /// The lifecycle's view of this session: the oldest request still arriving (or answer
    /// still going out) runs the body timeout; otherwise idle since the last request.
    var activity: ConnectionLifecycle.Activity {
        if let oldest = oldestIncompleteRequest { return .readingBody(since: oldest) }
        if unsentResponseBytes > 0 { return .readingBody(since: lastRequestActivity) }
        return .idle(since: lastRequestActivity)
    }
}
