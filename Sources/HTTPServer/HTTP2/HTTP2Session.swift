import CNGHTTP2

/// An HTTP/2 server session over nghttp2's memory API: bytes in (`receive`), complete
/// requests out, responses submitted, bytes out (`drainOutput`). No sockets, so a client
/// session in memory can drive it in tests. nghttp2's own defences (rapid reset,
/// CONTINUATION floods, queued-ACK floods) stay on; on top of them this type bounds what it
/// stores itself:
/// - flow control reflects consumption: automatic WINDOW_UPDATE is off, a stream's credit is
///   returned as its bytes are buffered (the body limit bounds a stream), and the
///   connection's credit only when a body is handed over or dropped, so the connection
///   window bounds the bodies one connection holds;
/// - header lists are counted per stream (nghttp2 1.52 only advertises
///   SETTINGS_MAX_HEADER_LIST_SIZE) and answered with 431 past the limit;
/// - body bytes are charged to the process-wide `BufferBudget`; a stream that does not fit
///   is refused with REFUSED_STREAM (safe to retry: nothing was processed);
/// - a HEADERS frame that opens a stream below the highest one seen is a connection error
///   (RFC 9113 §5.1.1), which nghttp2 leaves to the application.
final class HTTP2Session {
    struct Limits: Sendable {
        var maxConcurrentStreams: UInt32 = 100
        var maxBodyBytes: Int
        /// RFC 9113 §6.5.2 size: name + value + 32 per field.
        var maxHeaderListBytes: Int = 16 * 1024
        /// Large enough that a 100 KB review needs no WINDOW_UPDATE round trip.
        var initialWindowSize: UInt32 = 1 << 20
        /// Bounds the request bodies one connection holds at once; at least one full body.
        var connectionWindowSize: Int32
        /// The most answer bytes taken out of nghttp2 into the connection's output at once.
        var maxPendingOutputBytes: Int = 1 << 20

        init(maxConcurrentStreams: UInt32 = 100, maxBodyBytes: Int, maxHeaderListBytes: Int = 16 * 1024, maxPendingOutputBytes: Int = 1 << 20) {
            self.maxConcurrentStreams = maxConcurrentStreams
            self.maxBodyBytes = maxBodyBytes
            self.maxHeaderListBytes = maxHeaderListBytes
            self.maxPendingOutputBytes = maxPendingOutputBytes
            // One full body and room for small requests beside it.
            connectionWindowSize = Int32(clamping: maxBodyBytes + (1 << 20))
        }
    }

    struct SessionError: Error, CustomStringConvertible {
        var description: String
    }

    private struct Stream {
        var method = ""
        var path = ""
        var scheme = ""
        var authority = ""
        var headers = HTTPHeaders()
        var headerListBytes = 0
        /// The part of `headerListBytes` charged to the budget (all of it once complete).
        var chargedHeaderBytes = 0
        var body: [UInt8] = []
        /// Decided already (413, 431, 400, REFUSED_STREAM): further bytes are dropped.
        var rejected = false
        var startedAt: UInt64
    }

    private final class Outgoing {
        let body: [UInt8]
        var offset = 0
        init(_ body: [UInt8]) { self.body = body }
    }

    private var session: OpaquePointer?
    private let limits: Limits
    private let budget: BufferBudget
    private var streams: [Int32: Stream] = [:]
    private var outgoing: [Int32: Outgoing] = [:]
    /// Requests whose END_STREAM arrived, in arrival order.
    private(set) var ready: [(streamID: Int32, request: HTTPRequest)] = []
    /// Responses decided during receive (limits), answered by the connection.
    private(set) var rejected: [(streamID: Int32, response: HTTPResponse)] = []
    private var callbackError: SessionError?
    private var now: UInt64 = 0
    /// Highest client stream id seen in a HEADERS frame.
    private var highestStreamID: Int32 = 0
    /// Streams we answered or reset before the client finished them: the client may still
    /// send trailers there without being at fault. The most recent ones, bounded.
    private var answeredEarly: [Int32] = []
    /// Connection-level credit owed to the client for bytes no longer held (handed over or
    /// dropped), sent in batches (`sendConnectionCredit`). Not `nghttp2_session_consume`:
    /// nghttp2 sends that only once half the window is consumed, which never happens while
    /// unfinished bodies hold more than half of it, and the connection would stall.
    private var connectionCredit = 0
    /// Bytes of stored request bodies and header lists, charged to the budget.
    private(set) var bufferedBodyBytes = 0
    private(set) var bufferedHeaderBytes = 0
    /// When the last request was answered (or the session began): the idle clock. Frames
    /// that open no request (PING, SETTINGS, WINDOW_UPDATE, garbage) do not move it.
    private(set) var lastRequestActivity: UInt64

    init(limits: Limits, budget: BufferBudget, now: UInt64) throws {
        self.limits = limits
        self.budget = budget
        self.lastRequestActivity = now
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw SessionError(description: "nghttp2 callbacks") }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, onBeginFrame)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_max_send_header_block_length(option, 64 * 1024)
        nghttp2_option_set_no_auto_window_update(option, 1)
        var s: OpaquePointer?
        let rc = nghttp2_session_server_new2(&s, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        guard rc == 0, let s else { throw SessionError(description: "nghttp2_session_server_new: \(rc)") }
        session = s
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: limits.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: limits.initialWindowSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(limits.maxHeaderListBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
        ]
        nghttp2_submit_settings(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, limits.connectionWindowSize)
    }

    deinit {
        budget.release(bufferedBodyBytes + bufferedHeaderBytes)
        if let session { nghttp2_session_del(session) }
    }

    /// Feeds received bytes. Throws when the peer broke the protocol (the session has then
    /// queued a GOAWAY; flush output and close).
    func receive(_ bytes: UnsafeBufferPointer<UInt8>, now: UInt64) throws(SessionError) {
        guard let session, let base = bytes.baseAddress else { return }
        self.now = now
        let n = nghttp2_session_mem_recv(session, base, bytes.count)
        if let callbackError {
            self.callbackError = nil
            throw callbackError
        }
        if n < 0 {
            throw SessionError(description: String(cString: nghttp2_strerror(Int32(n))))
        }
        sendConnectionCredit()
    }

    /// Returns the owed credit in one WINDOW_UPDATE once it is worth a frame (64 KiB), or
    /// at once when the client may be short of window: what we hold plus what we owe is
    /// within 64 KiB of the whole window.
    private func sendConnectionCredit() {
        guard let session, connectionCredit > 0 else { return }
        let slack = 64 * 1024
        guard connectionCredit >= slack || bufferedBodyBytes + connectionCredit + slack >= Int(limits.connectionWindowSize) else { return }
        nghttp2_submit_window_update(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(clamping: connectionCredit))
        connectionCredit = 0
    }

    func takeReady() -> [(streamID: Int32, request: HTTPRequest)] {
        defer { ready.removeAll(keepingCapacity: true) }
        return ready
    }

    func takeRejected() -> [(streamID: Int32, response: HTTPResponse)] {
        defer { rejected.removeAll(keepingCapacity: true) }
        return rejected
    }

    func respond(streamID: Int32, _ response: HTTPResponse) {
        guard let session else { return }
        lastRequestActivity = now
        // A stream the client reset meanwhile takes no answer (and must not leave an
        // `Outgoing` behind: no close callback would ever remove it).
        guard nghttp2_session_find_stream(session, streamID) != nil else { return }
        var fields = [HTTPField(":status", String(response.status))]
        for field in response.headers {
            // Lower-cased before the test: HTTP/2 has no `Connection` header in any case.
            let lowercased = HTTPField(field.name.lowercased(), field.value)
            if !lowercased.isNamed("connection") { fields.append(lowercased) }
        }
        fields.append(HTTPField("content-length", String(response.body.count)))
        let out = Outgoing(response.body)
        outgoing[streamID] = out
        var provider = nghttp2_data_provider(
            source: nghttp2_data_source(ptr: Unmanaged.passUnretained(out).toOpaque()), read_callback: readBodyCallback)
        withHeaderFields(fields) { nva in
            let rc =
                response.body.isEmpty
                ? nghttp2_submit_response(session, streamID, nva.baseAddress, nva.count, nil)
                : nghttp2_submit_response(session, streamID, nva.baseAddress, nva.count, &provider)
            if rc != 0 { outgoing[streamID] = nil }
        }
    }

    /// Appends what nghttp2 wants to send while `out` holds fewer than the limit's bytes.
    /// What stays inside nghttp2 stays under its own flood limits (queued PING and SETTINGS
    /// ACKs), which a drain without limit would defeat.
    func drainOutput(into out: inout [UInt8], pending: Int) {
        guard let session else { return }
        sendConnectionCredit()  // bodies released since the last receive (stream resets)
        var pending = pending
        while pending < limits.maxPendingOutputBytes {
            var pointer: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &pointer)
            guard n > 0, let pointer else { return }
            out.append(contentsOf: UnsafeBufferPointer(start: pointer, count: n))
            pending += n
        }
    }

    /// GOAWAY for a graceful shutdown: in-flight streams finish, no new ones start.
    func goAway() {
        guard let session else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session), 0, nil, 0)
    }

    var wantsIO: Bool {
        guard let session else { return false }
        return nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// nghttp2 has frames it would send now (the connection pulls them as output drains).
    var wantsWrite: Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }

    /// Streams open (requests received and not yet fully answered).
    var activeStreams: Int { streams.count + outgoing.count }

    /// When the oldest request still arriving started (its body timeout runs from there).
    var oldestIncompleteRequest: UInt64? { streams.values.lazy.map(\.startedAt).min() }

    /// Answer bytes submitted but not yet taken out by `drainOutput` (a client that keeps
    /// its windows shut holds them here).
    var unsentResponseBytes: Int { outgoing.values.reduce(0) { $0 + $1.body.count - $1.offset } }

    // MARK: - Callbacks (file-private C functions recover `self` through Unmanaged)

    fileprivate func beginFrame(type: UInt8, streamID: Int32) -> Int32 {
        guard type == UInt8(NGHTTP2_HEADERS.rawValue), streamID & 1 == 1, let session else { return 0 }
        if streamID > highestStreamID {
            highestStreamID = streamID
            return 0
        }
        // Not a new stream: trailers on an open stream are fine, and so are frames on a
        // stream we answered early. Anything else reuses an id below the highest (h2spec
        // 5.1.1/2), which nghttp2 ignores on purpose.
        if let stream = nghttp2_session_find_stream(session, streamID) {
            let state = nghttp2_stream_get_state(stream)
            if state == NGHTTP2_STREAM_STATE_OPEN || state == NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL { return 0 }
        }
        if answeredEarly.contains(streamID) { return 0 }
        nghttp2_session_terminate_session(session, UInt32(NGHTTP2_PROTOCOL_ERROR.rawValue))
        callbackError = SessionError(description: "HEADERS on stream \(streamID), below the highest stream \(highestStreamID)")
        return 0
    }

    fileprivate func beginHeaders(_ streamID: Int32) {
        guard callbackError == nil else { return }
        streams[streamID] = Stream(startedAt: now)
        lastRequestActivity = now
        // Past the budget a new request is refused at once, before anything is buffered.
        if budget.isExhausted { refuse(streamID) }
    }

    fileprivate func header(_ streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        // Edited in place through the index: one hash lookup per field.
        guard let index = streams.index(forKey: streamID), !streams.values[index].rejected else { return }
        let size = name.count + value.count + 32
        if streams.values[index].headerListBytes + size > limits.maxHeaderListBytes {
            reject(streamID, .text(431, "request header list exceeds \(limits.maxHeaderListBytes) bytes"))
            return
        }
        streams.values[index].headerListBytes += size
        let n = String(decoding: name, as: UTF8.self)
        let v = String(decoding: value, as: UTF8.self)
        switch n {
        case ":method": streams.values[index].method = v
        case ":path": streams.values[index].path = v
        case ":scheme": streams.values[index].scheme = v
        case ":authority": streams.values[index].authority = v
        default: streams.values[index].headers.add(n, v)
        }
    }

    fileprivate func headersDone(_ streamID: Int32, endStream: Bool) {
        guard let stream = streams[streamID], !stream.rejected else { return }
        // The list is charged once it is complete (the per-stream limit bounds it until
        // then): one atomic operation per request, not one per field.
        guard budget.tryCharge(stream.headerListBytes) else {
            streams[streamID]?.headerListBytes = 0  // not charged: nothing to give back
            refuse(streamID)
            return
        }
        streams[streamID]?.chargedHeaderBytes = stream.headerListBytes
        bufferedHeaderBytes += stream.headerListBytes
        if let text = stream.headers["content-length"], let length = Int(text), length > limits.maxBodyBytes {
            reject(streamID, .text(413, "request body of \(length) bytes exceeds the limit of \(limits.maxBodyBytes) bytes"))
            return
        }
        if endStream { complete(streamID) }
    }

    fileprivate func data(_ streamID: Int32, _ chunk: UnsafeBufferPointer<UInt8>) {
        guard var stream = streams[streamID], !stream.rejected else {
            giveBackConnectionWindow(chunk.count)  // dropped: the bytes are not held
            return
        }
        if stream.body.count + chunk.count > limits.maxBodyBytes {
            giveBackConnectionWindow(chunk.count)
            reject(streamID, .text(413, "request body exceeds the limit of \(limits.maxBodyBytes) bytes"))
            return
        }
        guard budget.tryCharge(chunk.count) else {
            giveBackConnectionWindow(chunk.count)
            refuse(streamID)
            return
        }
        bufferedBodyBytes += chunk.count
        streams[streamID] = nil  // keep the body uniquely referenced while appending
        stream.body.append(contentsOf: chunk)
        streams[streamID] = stream
        lastRequestActivity = now
        // The stream may go on (its body limit bounds it); the connection's credit comes
        // back when the body is handed over.
        if let session { nghttp2_session_consume_stream(session, streamID, chunk.count) }
        relieveFullWindow()
    }

    /// Unfinished bodies that fill the connection window would wait for each other forever
    /// (the client has no credit left to finish any). Refuse the newest one holding bytes,
    /// so the older ones can finish; the client may retry it.
    private func relieveFullWindow() {
        guard bufferedBodyBytes + 64 * 1024 >= Int(limits.connectionWindowSize) else { return }
        let holding = streams.filter { !$0.value.rejected && !$0.value.body.isEmpty }
        guard holding.count > 1, let newest = holding.keys.max() else { return }
        refuse(newest)
    }

    fileprivate func endStream(_ streamID: Int32) {
        guard let stream = streams[streamID], !stream.rejected else { return }
        complete(streamID)
    }

    fileprivate func streamClosed(_ streamID: Int32) {
        if let stream = streams.removeValue(forKey: streamID) { release(stream) }
        outgoing[streamID] = nil
        ready.removeAll { $0.streamID == streamID }  // reset before we answered
        rejected.removeAll { $0.streamID == streamID }
    }

    fileprivate func readBody(_ source: UnsafeMutableRawPointer?, into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let source else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let out = Unmanaged<Outgoing>.fromOpaque(source).takeUnretainedValue()
        let n = min(length, out.body.count - out.offset)
        out.body.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + out.offset, count: n) }
        out.offset += n
        if out.offset == out.body.count { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
        return n
    }

    private func complete(_ streamID: Int32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        // Handed over: the bytes leave this session's keeping.
        release(stream)
        guard !stream.method.isEmpty, !stream.path.isEmpty else {
            rejected.append((streamID, .text(400, "missing :method or :path")))
            return
        }
        var headers = stream.headers
        if !stream.authority.isEmpty { headers.add("host", stream.authority) }
        ready.append((streamID, HTTPRequest(method: stream.method, target: stream.path, headers: headers, body: stream.body, version: .http2)))
    }

    /// Answers a stream now (its request is not taken); later bytes on it are dropped.
    private func reject(_ streamID: Int32, _ response: HTTPResponse) {
        guard stopTaking(streamID) else { return }
        rejected.append((streamID, response))
    }

    /// RST_STREAM(REFUSED_STREAM): the request was not processed, so any client may retry it
    /// (RFC 9113 §8.7) — on another connection or replica while this one is over budget.
    private func refuse(_ streamID: Int32) {
        guard let session, stopTaking(streamID) else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, UInt32(NGHTTP2_REFUSED_STREAM.rawValue))
    }

    /// Gives back what the stream holds and drops what else arrives on it (it stays known
    /// until it closes). False if there is no such stream.
    private func stopTaking(_ streamID: Int32) -> Bool {
        guard let stream = streams[streamID] else { return false }
        release(stream)
        streams[streamID] = Stream(rejected: true, startedAt: stream.startedAt)
        rememberAnsweredEarly(streamID)
        return true
    }

    /// Gives back what a stream held: its header list and body (budget and window).
    private func release(_ stream: Stream) {
        budget.release(stream.chargedHeaderBytes)
        bufferedHeaderBytes -= stream.chargedHeaderBytes
        dropBody(stream.body.count)
    }

    private func dropBody(_ count: Int) {
        guard count > 0 else { return }
        bufferedBodyBytes -= count
        budget.release(count)
        giveBackConnectionWindow(count)
    }

    private func giveBackConnectionWindow(_ count: Int) {
        connectionCredit += count
    }

    private func rememberAnsweredEarly(_ streamID: Int32) {
        if answeredEarly.count >= 2 * Int(limits.maxConcurrentStreams) { answeredEarly.removeFirst(answeredEarly.count / 2) }
        answeredEarly.append(streamID)
    }

    private func withHeaderFields(_ fields: [HTTPField], _ body: (UnsafeBufferPointer<nghttp2_nv>) -> Void) {
        var storage: [UInt8] = []
        var ranges: [(Int, Int, Int, Int)] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            // As buffers: `+=` of a String's UTF-8 view is the generic sequence copy.
            var name = field.name
            var value = field.value
            let n = storage.count
            name.withUTF8 { storage.append(contentsOf: $0) }
            let v = storage.count
            value.withUTF8 { storage.append(contentsOf: $0) }
            ranges.append((n, v - n, v, storage.count - v))
        }
        storage.withUnsafeMutableBufferPointer { bytes in
            let base = bytes.baseAddress!
            let nva = ranges.map { r in
                nghttp2_nv(name: base + r.0, value: base + r.2, namelen: r.1, valuelen: r.3, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            nva.withUnsafeBufferPointer(body)
        }
    }
}

private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
    Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
}

private func onBeginFrame(_ session: OpaquePointer?, _ hd: UnsafePointer<nghttp2_frame_hd>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let hd else { return 0 }
    return owner(userData).beginFrame(type: hd.pointee.type, streamID: hd.pointee.stream_id)
}

private func onBeginHeaders(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
    owner(userData).beginHeaders(frame.pointee.hd.stream_id)
    return 0
}

private func onHeader(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ name: UnsafePointer<UInt8>?, _ namelen: Int,
    _ value: UnsafePointer<UInt8>?, _ valuelen: Int, _ flags: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    owner(userData).header(
        frame.pointee.hd.stream_id, name: UnsafeBufferPointer(start: name, count: namelen), value: UnsafeBufferPointer(start: value, count: valuelen))
    return 0
}

private func onFrameRecv(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame else { return 0 }
    let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    switch Int(frame.pointee.hd.type) {
    case Int(NGHTTP2_HEADERS.rawValue) where frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST:
        owner(userData).headersDone(frame.pointee.hd.stream_id, endStream: endStream)
    case Int(NGHTTP2_HEADERS.rawValue), Int(NGHTTP2_DATA.rawValue):
        if endStream { owner(userData).endStream(frame.pointee.hd.stream_id) }
    default: break
    }
    return 0
}

private func onDataChunk(
    _ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32, _ data: UnsafePointer<UInt8>?, _ len: Int, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    owner(userData).data(streamID, UnsafeBufferPointer(start: data, count: len))
    return 0
}

private func onStreamClose(_ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    owner(userData).streamClosed(streamID)
    return 0
}

private func readBodyCallback(
    _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?, _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let buffer, let flags, let source else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
    return owner(userData).readBody(source.pointee.ptr, into: buffer, length: length, flags: flags)
}
