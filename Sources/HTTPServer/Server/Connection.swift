import CTLS

#if canImport(Glibc)
import Glibc
#endif

/// One accepted TLS connection: handshake, then HTTP/1.1 or HTTP/2 by ALPN. Owned by one
/// loop; everything here runs on that loop's thread.
final class Connection {
    enum Phase {
        case handshake
        case http1(HTTP1Session)
        case http2(HTTP2Session)
    }

    let fd: Int32
    private let ssl: OpaquePointer
    /// Keeps the context this connection was accepted with alive across reloads.
    private let context: TLSContext
    private let loop: EventLoop
    private(set) var proto = Phase.handshake
    private var output: [UInt8] = []
    private var outputOffset = 0
    private(set) var closed = false
    /// Close once the output is flushed (error answers, `Connection: close`, draining).
    private var closeAfterFlush = false
    /// HTTP/1: answer the next response with `Connection: close` (draining).
    private var finishAfterCurrent = false
    private var readPaused = false
    var interest: UInt32 = Epoll.readable
    /// Monotonic ns after which the connection times out.
    var deadline: UInt64
    /// When the current HTTP/1 request started arriving (header/body timeouts).
    private var requestStarted: UInt64 = 0

    init(fd: Int32, context: TLSContext, loop: EventLoop) throws(TLSError) {
        self.fd = fd
        self.context = context
        self.loop = loop
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw TLSError("SSL_new") }
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        deadline = monotonicNanoseconds() + UInt64(loop.config.handshakeTimeoutSeconds) * 1_000_000_000
    }

    deinit { SSL_free(ssl) }

    var version: HTTPVersion? {
        switch proto {
        case .handshake: nil
        case .http1: .http1
        case .http2: .http2
        }
    }

    /// Idle: nothing half-received and nothing pending, so closing loses nothing.
    var isIdle: Bool {
        guard output.count == outputOffset else { return false }
        switch proto {
        case .handshake: return true
        case .http1(let s): return !s.isMidRequest
        case .http2(let s): return s.activeStreams == 0
        }
    }

    // MARK: - Events

    func handle(events: UInt32) {
        if events & Epoll.writable != 0 { flush() }
        if !closed, events & (Epoll.readable | Epoll.hangup) != 0 { readAvailable() }
        if !closed { updateInterest() }
    }

    private func readAvailable() {
        if case .handshake = proto {
            guard handshake() else { return }
        }
        var buffer = loop.takeReadBuffer()
        defer { loop.readBuffer = buffer }
        while !closed, !readPaused {
            ERR_clear_error()
            let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                buffer.withUnsafeBufferPointer { received(UnsafeBufferPointer(rebasing: $0[0..<Int(n)])) }
                // A short read with nothing buffered in OpenSSL means the socket is drained:
                // skip the read(2) that would only say EAGAIN (epoll is level-triggered).
                if Int(n) < buffer.count && SSL_has_pending(ssl) == 0 { break }
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { break }
            // Clean close (ZERO_RETURN) or a reset: either way the peer is gone.
            close()
            return
        }
        flush()
    }

    /// Returns true when the handshake is complete and the protocol chosen.
    private func handshake() -> Bool {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            var name: UnsafePointer<UInt8>?
            var length: UInt32 = 0
            SSL_get0_alpn_selected(ssl, &name, &length)
            let alpn = name.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
            if alpn == "h2" {
                do {
                    let session = try HTTP2Session(limits: .init(maxConcurrentStreams: loop.config.maxConcurrentStreams, maxBodyBytes: loop.config.maxBodyBytes))
                    proto = .http2(session)
                    session.drainOutput(into: &output)
                } catch {
                    close()
                    return false
                }
            } else {
                proto = .http1(HTTP1Session(maxHeadBytes: loop.config.maxHeadBytes, maxBodyBytes: loop.config.maxBodyBytes))
            }
            loop.observer.connectionOpened(version!)
            setIdleDeadline()
            if loop.draining { startDraining() }
            return true
        }
        let error = SSL_get_error(ssl, rc)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            interest = Epoll.readable | (error == SSL_ERROR_WANT_WRITE ? Epoll.writable : 0)
            return false
        }
        let reason = error == SSL_ERROR_SSL ? TLSError("handshake").description : "connection closed during handshake"
        loop.observer.handshakeFailed(reason)
        close()
        return false
    }

    private func received(_ bytes: UnsafeBufferPointer<UInt8>) {
        switch proto {
        case .handshake: break
        case .http1(var session):
            proto = .handshake  // drop our copy so the session is uniquely referenced
            session.receive(bytes)
            processHTTP1(&session)
            proto = .http1(session)
        case .http2(let session):
            do {
                try session.receive(bytes)
            } catch {
                session.drainOutput(into: &output)
                closeAfterFlush = true
                return
            }
            for (streamID, response) in session.takeRejected() { session.respond(streamID: streamID, response) }
            for (streamID, request) in session.takeReady() {
                session.respond(streamID: streamID, loop.handler(request))
            }
            session.drainOutput(into: &output)
            deadline = monotonicNanoseconds() + UInt64(session.activeStreams > 0 ? loop.config.bodyTimeoutSeconds : loop.config.idleTimeoutSeconds) * 1_000_000_000
        }
    }

    private func processHTTP1(_ session: inout HTTP1Session) {
        while !closeAfterFlush {
            if !session.isMidRequest { requestStarted = 0 }
            switch session.next() {
            case .needMore:
                if session.isMidRequest {
                    if requestStarted == 0 { requestStarted = monotonicNanoseconds() }
                    let limit = session.isReadingBody ? loop.config.bodyTimeoutSeconds : loop.config.headerTimeoutSeconds
                    deadline = requestStarted + UInt64(limit) * 1_000_000_000
                } else {
                    setIdleDeadline()
                }
                if output.count - outputOffset > loop.config.maxPendingOutputBytes { readPaused = true }
                return
            case .sendContinue:
                output += HTTP1Session.continueResponse
            case .error(let error):
                output += HTTP1Session.serialize(.text(error.status, error.message), keepAlive: false, date: loop.date())
                closeAfterFlush = true
            case .request(let head, let body, let keepAlive):
                requestStarted = 0
                let request = HTTPRequest(method: head.method, target: head.target, headers: HTTPHeaders(lowercased: head.headers), body: body, version: .http1)
                let response = loop.handler(request)
                let keep = keepAlive && !finishAfterCurrent
                output += HTTP1Session.serialize(response, keepAlive: keep, date: loop.date(), headOnly: head.method == "HEAD")
                if !keep { closeAfterFlush = true }
                if output.count - outputOffset > loop.config.maxPendingOutputBytes {
                    readPaused = true
                    return
                }
            }
        }
    }

    private func setIdleDeadline() {
        deadline = monotonicNanoseconds() + UInt64(loop.config.idleTimeoutSeconds) * 1_000_000_000
    }

    func flush() {
        while outputOffset < output.count {
            ERR_clear_error()
            let n = output.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + outputOffset, Int32(min($0.count - outputOffset, 1 << 20))) }
            if n > 0 {
                outputOffset += Int(n)
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ { return }
            close()
            return
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        outputOffset = 0
        if closeAfterFlush {
            close()
            return
        }
        if case .http2(let session) = proto, !session.wantsIO {
            close()
            return
        }
        if readPaused {
            readPaused = false
            // OpenSSL may hold decrypted bytes that epoll cannot see: have the loop read
            // again (not recursively from here, which a long pipelined flood could deepen).
            loop.scheduleRead(self)
        }
    }

    func updateInterest() {
        var wanted = readPaused ? 0 : Epoll.readable
        if outputOffset < output.count { wanted |= Epoll.writable }
        if case .handshake = proto { wanted |= interest & Epoll.writable }
        if wanted != interest {
            interest = wanted
            loop.updateInterest(self)
        }
    }

    // MARK: - Shutdown and timeouts

    /// Graceful drain: idle connections close now, busy ones after their current work.
    func startDraining() {
        switch proto {
        case .handshake:
            close()
        case .http1:
            finishAfterCurrent = true
            if isIdle { close() }
        case .http2(let session):
            session.goAway()
            session.drainOutput(into: &output)
            flush()
        }
        if !closed { updateInterest() }
    }

    func timedOut() {
        if case .http1(let session) = proto, session.isMidRequest, output.count == outputOffset {
            output += HTTP1Session.serialize(.text(408, "request not received in time"), keepAlive: false, date: loop.date())
            closeAfterFlush = true
            flush()
            if !closed { close() }
            return
        }
        if case .http2(let session) = proto {
            session.goAway()
            session.drainOutput(into: &output)
            closeAfterFlush = true
            flush()
            if !closed { close() }
            return
        }
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let version { loop.observer.connectionClosed(version) }
        if case .handshake = proto {} else {
            ERR_clear_error()
            SSL_shutdown(ssl)  // best effort close_notify; never wait for the peer's
        }
        loop.remove(self)
        Glibc.close(fd)
    }
}
