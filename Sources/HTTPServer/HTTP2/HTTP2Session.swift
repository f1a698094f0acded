import CNGHTTP2

/// An HTTP/2 server session over nghttp2's memory API: bytes in (`receive`), complete
/// requests out, responses submitted, bytes out (`drainOutput`). No sockets, so a client
/// session in memory can drive it in tests. nghttp2's own defences (rapid reset,
/// CONTINUATION floods, header list size) stay on; we add per-stream body limits.
final class HTTP2Session {
    struct Limits: Sendable {
        var maxConcurrentStreams: UInt32 = 128
        var maxBodyBytes: Int
        var maxHeaderListBytes: UInt32 = 16 * 1024
        /// Large enough that a 100 KB review needs no WINDOW_UPDATE round trip.
        var initialWindowSize: UInt32 = 1 << 20
        var connectionWindowSize: Int32 = 16 << 20
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
        var body: [UInt8] = []
        var rejected: HTTPResponse?
    }

    private final class Outgoing {
        let body: [UInt8]
        var offset = 0
        init(_ body: [UInt8]) { self.body = body }
    }

    private var session: OpaquePointer?
    private let limits: Limits
    private var streams: [Int32: Stream] = [:]
    private var outgoing: [Int32: Outgoing] = [:]
    /// Requests whose END_STREAM arrived, in arrival order.
    private(set) var ready: [(streamID: Int32, request: HTTPRequest)] = []
    /// Responses decided during receive (limits), answered by the connection.
    private(set) var rejected: [(streamID: Int32, response: HTTPResponse)] = []
    private var callbackError: SessionError?

    init(limits: Limits) throws {
        self.limits = limits
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw SessionError(description: "nghttp2 callbacks") }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_max_send_header_block_length(option, 64 * 1024)
        var s: OpaquePointer?
        let rc = nghttp2_session_server_new2(&s, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        guard rc == 0, let s else { throw SessionError(description: "nghttp2_session_server_new: \(rc)") }
        session = s
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: limits.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: limits.initialWindowSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: limits.maxHeaderListBytes),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
        ]
        nghttp2_submit_settings(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, limits.connectionWindowSize)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    /// Feeds received bytes. Throws when the peer broke the protocol (the session has then
    /// queued a GOAWAY; flush output and close).
    func receive(_ bytes: UnsafeBufferPointer<UInt8>) throws(SessionError) {
        guard let session, let base = bytes.baseAddress else { return }
        let n = nghttp2_session_mem_recv(session, base, bytes.count)
        if let callbackError {
            self.callbackError = nil
            throw callbackError
        }
        if n < 0 {
            throw SessionError(description: String(cString: nghttp2_strerror(Int32(n))))
        }
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
        var fields: [(String, String)] = [(":status", String(response.status))]
        for (name, value) in response.headers where name != "connection" {
            fields.append((name.lowercased(), value))
        }
        fields.append(("content-length", String(response.body.count)))
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

    /// Appends everything nghttp2 wants to send.
    func drainOutput(into out: inout [UInt8]) {
        guard let session else { return }
        while true {
            var pointer: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &pointer)
            guard n > 0, let pointer else { return }
            out.append(contentsOf: UnsafeBufferPointer(start: pointer, count: n))
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

    /// Streams open (requests received and not yet fully answered).
    var activeStreams: Int { streams.count + outgoing.count }

    // MARK: - Callbacks (file-private C functions recover `self` through Unmanaged)

    fileprivate func beginHeaders(_ streamID: Int32) {
        streams[streamID] = Stream()
    }

    fileprivate func header(_ streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        guard streams[streamID] != nil else { return }
        let n = String(decoding: name, as: UTF8.self)
        let v = String(decoding: value, as: UTF8.self)
        switch n {
        case ":method": streams[streamID]!.method = v
        case ":path": streams[streamID]!.path = v
        case ":scheme": streams[streamID]!.scheme = v
        case ":authority": streams[streamID]!.authority = v
        default: streams[streamID]!.headers.add(n, v)
        }
    }

    fileprivate func headersDone(_ streamID: Int32, endStream: Bool) {
        guard let stream = streams[streamID] else { return }
        if let text = stream.headers["content-length"], let length = Int(text), length > limits.maxBodyBytes {
            reject(streamID, .text(413, "request body of \(length) bytes exceeds the limit of \(limits.maxBodyBytes) bytes"))
            return
        }
        if endStream { complete(streamID) }
    }

    fileprivate func data(_ streamID: Int32, _ chunk: UnsafeBufferPointer<UInt8>) {
        guard var stream = streams[streamID], stream.rejected == nil else { return }
        if stream.body.count + chunk.count > limits.maxBodyBytes {
            reject(streamID, .text(413, "request body exceeds the limit of \(limits.maxBodyBytes) bytes"))
            return
        }
        streams[streamID] = nil  // keep the body uniquely referenced while appending
        stream.body.append(contentsOf: chunk)
        streams[streamID] = stream
    }

    fileprivate func endStream(_ streamID: Int32) {
        guard let stream = streams[streamID], stream.rejected == nil else { return }
        complete(streamID)
    }

    fileprivate func streamClosed(_ streamID: Int32) {
        streams[streamID] = nil
        outgoing[streamID] = nil
        ready.removeAll { $0.streamID == streamID }  // reset before we answered
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
        guard !stream.method.isEmpty, !stream.path.isEmpty else {
            rejected.append((streamID, .text(400, "missing :method or :path")))
            return
        }
        var headers = stream.headers
        if !stream.authority.isEmpty { headers.add("host", stream.authority) }
        ready.append((streamID, HTTPRequest(method: stream.method, target: stream.path, headers: headers, body: stream.body, version: .http2)))
    }

    private func reject(_ streamID: Int32, _ response: HTTPResponse) {
        streams[streamID]?.rejected = response
        streams[streamID]?.body = []
        rejected.append((streamID, response))
    }

    private func withHeaderFields(_ fields: [(String, String)], _ body: (UnsafeBufferPointer<nghttp2_nv>) -> Void) {
        var storage: [UInt8] = []
        var ranges: [(Int, Int, Int, Int)] = []
        for (name, value) in fields {
            let n = storage.count
            storage += name.utf8
            let v = storage.count
            storage += value.utf8
            ranges.append((n, name.utf8.count, v, value.utf8.count))
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
