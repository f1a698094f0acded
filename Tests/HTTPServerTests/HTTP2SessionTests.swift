import CNGHTTP2
import Testing

@testable import HTTPServer

/// A real nghttp2 client session in memory, wired to our server session byte for byte:
/// no sockets, no TLS, just the HTTP/2 protocol both ways.
final class MemoryHTTP2Client {
    struct Response {
        var status = 0
        var body: [UInt8] = []
        var closed = false
        /// RST_STREAM / close error code (0 when the stream ended normally).
        var errorCode: UInt32 = 0
    }

    private(set) var session: OpaquePointer?
    var responses: [Int32: Response] = [:]
    var goAwayReceived = false
    private var bodies: [Int32: RequestBody] = [:]

    final class RequestBody {
        let bytes: [UInt8]
        var offset = 0
        /// Leave the stream open after the bytes (a body that never finishes).
        let unfinished: Bool
        init(_ bytes: [UInt8], unfinished: Bool = false) {
            self.bytes = bytes
            self.unfinished = unfinished
        }
    }

    init() {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, namelen, value, valuelen, _, user in
            let client = Unmanaged<MemoryHTTP2Client>.fromOpaque(user!).takeUnretainedValue()
            let n = String(decoding: UnsafeBufferPointer(start: name, count: namelen), as: UTF8.self)
            if n == ":status" {
                client.responses[frame!.pointee.hd.stream_id, default: Response()].status =
                    Int(String(decoding: UnsafeBufferPointer(start: value, count: valuelen), as: UTF8.self)) ?? 0
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, stream, data, len, user in
            let client = Unmanaged<MemoryHTTP2Client>.fromOpaque(user!).takeUnretainedValue()
            client.responses[stream, default: Response()].body += UnsafeBufferPointer(start: data, count: len)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, code, user in
            let client = Unmanaged<MemoryHTTP2Client>.fromOpaque(user!).takeUnretainedValue()
            client.responses[stream, default: Response()].closed = true
            client.responses[stream, default: Response()].errorCode = code
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            let client = Unmanaged<MemoryHTTP2Client>.fromOpaque(user!).takeUnretainedValue()
            if frame!.pointee.hd.type == UInt8(NGHTTP2_GOAWAY.rawValue) { client.goAwayReceived = true }
            return 0
        }
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Room for the HPACK-bomb test's header block: nghttp2 checks the uncompressed size
        // (200 MB there) before compressing it to about 54 KB.
        nghttp2_option_set_max_send_header_block_length(option, 512 << 20)
        nghttp2_session_client_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0)
    }

    deinit { nghttp2_session_del(session) }

    @discardableResult
    func post(_ path: String, body: [UInt8], extraHeaders: [(String, String)] = [], unfinished: Bool = false) -> Int32 {
        let fields = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", path), ("content-type", "application/json")] + extraHeaders
        var storage: [[UInt8]] = fields.flatMap { [Array($0.0.utf8), Array($0.1.utf8)] }
        let box = RequestBody(body, unfinished: unfinished)
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: Unmanaged.passUnretained(box).toOpaque())) { _, _, buffer, length, flags, source, _ in
            let box = Unmanaged<RequestBody>.fromOpaque(source!.pointee.ptr).takeUnretainedValue()
            let n = min(length, box.bytes.count - box.offset)
            if n == 0 && box.unfinished { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
            box.bytes.withUnsafeBufferPointer { buffer!.update(from: $0.baseAddress! + box.offset, count: n) }
            box.offset += n
            if box.offset == box.bytes.count && !box.unfinished { flags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
            return n
        }
        let stream: Int32 = storage.withUnsafeMutableBufferPointer { parts in
            var nva: [nghttp2_nv] = []
            for i in stride(from: 0, to: parts.count, by: 2) {
                nva.append(
                    parts[i].withUnsafeMutableBufferPointer { name in
                        parts[i + 1].withUnsafeMutableBufferPointer { value in
                            nghttp2_nv(name: name.baseAddress, value: value.baseAddress, namelen: name.count, valuelen: value.count, flags: 0)
                        }
                    })
            }
            return nghttp2_submit_request(session, nil, nva, nva.count, &provider, nil)
        }
        bodies[stream] = box
        return stream
    }

    func output() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var pointer: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &pointer)
            guard n > 0, let pointer else { return out }
            out += UnsafeBufferPointer(start: pointer, count: n)
        }
    }

    func reset(_ stream: Int32) {
        nghttp2_submit_rst_stream(session, 0, stream, UInt32(NGHTTP2_CANCEL.rawValue))
    }

    func receive(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) }
    }
}

/// One frame of raw HTTP/2 bytes.
struct RawFrame: Equatable {
    var type: UInt8
    var flags: UInt8
    var stream: Int32
    var payload: [UInt8]

    var bytes: [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags]
            + withUnsafeBytes(of: UInt32(stream).bigEndian, Array.init) + payload
    }

    /// Splits a byte stream into frames; the bytes must end on a frame boundary.
    static func parse(_ bytes: [UInt8]) throws -> [RawFrame] {
        var frames: [RawFrame] = []
        var i = 0
        while i < bytes.count {
            try #require(i + 9 <= bytes.count, "a truncated frame header at \(i)")
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let stream = Int32(bytes[i + 5] & 0x7F) << 24 | Int32(bytes[i + 6]) << 16 | Int32(bytes[i + 7]) << 8 | Int32(bytes[i + 8])
            try #require(i + 9 + length <= bytes.count, "a truncated frame at \(i)")
            frames.append(RawFrame(type: bytes[i + 3], flags: bytes[i + 4], stream: stream, payload: Array(bytes[(i + 9)..<(i + 9 + length)])))
            i += 9 + length
        }
        return frames
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let emptySettings = RawFrame(type: 0x4, flags: 0, stream: 0, payload: [])
    /// `GET /` from static-table entries only (RFC 7541 Appendix A), END_STREAM|END_HEADERS.
    static func get(stream: Int32) -> RawFrame {
        RawFrame(type: 0x1, flags: 0x5, stream: stream, payload: [0x82, 0x87, 0x84, 0x41, 0x09] + Array("localhost".utf8))
    }

    /// GOAWAY's error code.
    var goAwayError: UInt32? {
        guard type == 0x7, payload.count >= 8 else { return nil }
        return payload[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

@Suite struct HTTP2SessionTests {
    static func session(_ limits: HTTP2Session.Limits, budget: BufferBudget = BufferBudget(limit: 1 << 30)) throws -> HTTP2Session {
        try HTTP2Session(limits: limits, budget: budget, now: 0)
    }

    /// Everything the server would send now, pulled as the connection does (in bounded
    /// batches, until nothing is left).
    static func drainAll(_ server: HTTP2Session) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var batch: [UInt8] = []
            server.drainOutput(into: &batch, pending: 0)
            if batch.isEmpty { return out }
            out += batch
        }
    }

    /// Pumps bytes both ways (bounded) and answers each request with its own body.
    func exchange(_ client: MemoryHTTP2Client, _ server: HTTP2Session, rounds: Int = 200) throws {
        for _ in 0..<rounds {
            let toServer = client.output()
            if !toServer.isEmpty { try toServer.withUnsafeBufferPointer { try server.receive($0, now: 0) } }
            for (stream, response) in server.takeRejected() { server.respond(streamID: stream, response) }
            for (stream, request) in server.takeReady() {
                server.respond(streamID: stream, HTTPResponse(status: 200, headers: [HTTPField("content-type", "application/json")], body: Array(request.path.utf8) + request.body))
            }
            let toClient = Self.drainAll(server)
            if toServer.isEmpty && toClient.isEmpty { return }
            client.receive(toClient)
        }
        Issue.record("exchange did not settle")
    }

    @Test func manyConcurrentStreamsWithBodiesLargerThanAWindow() throws {
        let server = try Self.session(.init(maxConcurrentStreams: 128, maxBodyBytes: 1 << 20))
        let client = MemoryHTTP2Client()
        var expected: [Int32: [UInt8]] = [:]
        for i in 0..<100 {
            // Every tenth body exceeds the default 64 KiB stream window: flow control must work.
            let body = [UInt8](repeating: UInt8(ascii: "a") + UInt8(i % 26), count: i % 10 == 0 ? 100_000 : 3_000)
            expected[client.post("/validate?n=\(i)", body: body)] = Array("/validate".utf8) + body
        }
        try exchange(client, server)
        #expect(client.responses.count == 100)
        for (stream, body) in expected {
            #expect(client.responses[stream]?.status == 200)
            #expect(client.responses[stream]?.body.count == body.count, "stream \(stream)")
            #expect(client.responses[stream]?.body == body, "stream \(stream): the body differs")
            #expect(client.responses[stream]?.closed == true)
        }
        #expect(server.activeStreams == 0)
    }

    /// Interleaved bodies that together exceed the connection window: the window fills with
    /// unfinished bodies and none could finish. The newest stream is refused (REFUSED_STREAM,
    /// safe to retry) so the oldest always completes: no deadlock, nothing held at the end.
    @Test func interleavedBodiesLargerThanTheConnectionWindowDoNotDeadlock() throws {
        let server = try Self.session(.init(maxConcurrentStreams: 10, maxBodyBytes: 3 << 20))
        let client = MemoryHTTP2Client()
        var streams: [Int32] = []
        for i in 0..<4 { streams.append(client.post("/validate", body: [UInt8](repeating: UInt8(0x30 + i), count: 3 << 20))) }
        try exchange(client, server, rounds: 2000)
        var served = 0
        for stream in streams {
            let response = try #require(client.responses[stream])
            #expect(response.closed)
            if response.status == 200 {
                served += 1
                #expect(response.body.count == "/validate".utf8.count + (3 << 20))
            } else {
                #expect(response.errorCode == NGHTTP2_REFUSED_STREAM.rawValue)
            }
        }
        #expect(served >= 1)
        #expect(server.bufferedBodyBytes == 0)
        #expect(server.activeStreams == 0)
    }

    @Test func aStreamOverTheBodyLimitGets413AndTheOthersAreServed() throws {
        let server = try Self.session(.init(maxConcurrentStreams: 128, maxBodyBytes: 10_000))
        let client = MemoryHTTP2Client()
        let big = client.post("/validate", body: [UInt8](repeating: 0x61, count: 50_000))
        let small = client.post("/validate", body: [UInt8](repeating: 0x62, count: 100))
        try exchange(client, server)
        #expect(client.responses[big]?.status == 413)
        #expect(client.responses[small]?.status == 200)
    }

    /// Regression: unfinished bodies on many streams used to be held without bound (the
    /// automatic WINDOW_UPDATE gave credit back as bytes arrived). Now the connection
    /// window bounds them, and what was held is released when the streams go.
    @Test func unfinishedBodiesAreBoundedByTheConnectionWindow() throws {
        let budget = BufferBudget(limit: 1 << 30)
        let limits = HTTP2Session.Limits(maxConcurrentStreams: 128, maxBodyBytes: 1 << 20)
        let server = try Self.session(limits, budget: budget)
        let client = MemoryHTTP2Client()
        let streams = (0..<100).map { _ in client.post("/validate", body: [UInt8](repeating: 0x61, count: 1 << 20), unfinished: true) }
        try exchange(client, server, rounds: 1000)
        #expect(server.bufferedBodyBytes > 0)
        #expect(server.bufferedBodyBytes <= Int(limits.connectionWindowSize))
        #expect(server.bufferedHeaderBytes > 0)
        #expect(budget.usedBytes == server.bufferedBodyBytes + server.bufferedHeaderBytes)
        for stream in streams { client.reset(stream) }
        try exchange(client, server)
        #expect(server.bufferedBodyBytes == 0)
        #expect(server.bufferedHeaderBytes == 0)
        #expect(budget.usedBytes == 0)
        #expect(server.activeStreams == 0)
    }

    /// Regression: a header list that references one 4 KB HPACK entry over and over was
    /// stored in full (200+ MiB); the server now counts the list and answers 431.
    @Test func hpackBombGets431() throws {
        let server = try Self.session(.init(maxBodyBytes: 1000, maxHeaderListBytes: 16 * 1024))
        let client = MemoryHTTP2Client()
        // nghttp2's encoder indexes the first copy (it indexes entries up to 3/4 of the 4 KiB
        // table) and sends each other copy as one byte: 60 KB on the wire, 180 MB decoded.
        let value = String(repeating: "a", count: 3000)
        let bomb = client.post("/validate", body: Array("{}".utf8), extraHeaders: Array(repeating: ("x-bomb", value), count: 60_000))
        let fine = client.post("/validate", body: Array("{}".utf8))
        try exchange(client, server)
        #expect(client.responses[bomb]?.status == 431, "\(String(describing: client.responses[bomb]))")
        #expect(client.responses[fine]?.status == 200)
        #expect(server.activeStreams == 0)
    }

    /// Regression (h2spec 5.1.1/2): HEADERS that opens a stream below the highest one seen
    /// is a connection error; nghttp2 ignores it, so the session refuses it itself.
    @Test func aLowerStreamIDIsAConnectionError() throws {
        let server = try Self.session(.init(maxBodyBytes: 1000))
        let bytes = RawFrame.preface + RawFrame.emptySettings.bytes + RawFrame.get(stream: 5).bytes + RawFrame.get(stream: 3).bytes
        #expect(throws: HTTP2Session.SessionError.self) { try bytes.withUnsafeBufferPointer { try server.receive($0, now: 0) } }
        let frames = try RawFrame.parse(Self.drainAll(server))
        let last = try #require(frames.last)
        #expect(last.goAwayError == NGHTTP2_PROTOCOL_ERROR.rawValue)
        #expect(!server.wantsIO)
        #expect(server.takeReady().map(\.streamID) == [5])
    }

    /// Trailers on an open stream reuse its id: that is no error.
    @Test func trailersOnAnOpenStreamAreFine() throws {
        let server = try Self.session(.init(maxBodyBytes: 1000))
        let open = RawFrame(type: 0x1, flags: 0x4, stream: 1, payload: [0x83, 0x87, 0x84, 0x41, 0x09] + Array("localhost".utf8))
        let data = RawFrame(type: 0x0, flags: 0, stream: 1, payload: Array("{}".utf8))
        let trailers = RawFrame(type: 0x1, flags: 0x5, stream: 1, payload: [0x40, 0x01, 0x78, 0x01, 0x79])  // x: y
        let bytes = RawFrame.preface + RawFrame.emptySettings.bytes + open.bytes + data.bytes + trailers.bytes
        try bytes.withUnsafeBufferPointer { try server.receive($0, now: 0) }
        #expect(server.takeReady().map(\.request.body) == [Array("{}".utf8)])
        #expect(server.wantsIO)
    }

    /// Regression: a stream answered early (413 by content-length) and reset by the client
    /// in the same read left its answer behind, so the connection never counted as idle.
    @Test func aRejectedStreamResetByTheClientLeavesNothingBehind() throws {
        let server = try Self.session(.init(maxBodyBytes: 1000))
        let client = MemoryHTTP2Client()
        let stream = client.post("/validate", body: [UInt8](repeating: 0x61, count: 10), extraHeaders: [("content-length", "5000")], unfinished: true)
        client.reset(stream)
        try exchange(client, server)
        #expect(server.activeStreams == 0)
        #expect(server.unsentResponseBytes == 0)
    }

    /// Past the process-wide budget a stream is refused with REFUSED_STREAM (safe to retry);
    /// once the budget is free again, requests go through.
    @Test func overTheBudgetStreamsAreRefused() throws {
        let budget = BufferBudget(limit: 10_000)
        let server = try Self.session(.init(maxBodyBytes: 100_000), budget: budget)
        let client = MemoryHTTP2Client()
        let held = client.post("/validate", body: [UInt8](repeating: 0x61, count: 9_000), unfinished: true)
        try exchange(client, server)
        let refused = client.post("/validate", body: [UInt8](repeating: 0x62, count: 5_000))
        try exchange(client, server)
        #expect(client.responses[refused]?.errorCode == NGHTTP2_REFUSED_STREAM.rawValue)
        #expect(budget.usedBytes == 9_000 + server.bufferedHeaderBytes)
        client.reset(held)
        try exchange(client, server)
        #expect(budget.usedBytes == 0)
        let later = client.post("/validate", body: [UInt8](repeating: 0x63, count: 5_000))
        try exchange(client, server)
        #expect(client.responses[later]?.status == 200)
    }

    /// Output is taken from nghttp2 in bounded batches; what is left stays queued inside
    /// nghttp2, where its own flood limits apply.
    @Test func outputIsPulledInBoundedBatches() throws {
        let server = try Self.session(.init(maxBodyBytes: 1 << 20, maxPendingOutputBytes: 16 * 1024))
        let client = MemoryHTTP2Client()
        // 60 KB of answers: within the client's 64 KiB windows, four times the batch limit.
        for _ in 0..<20 { client.post("/validate", body: [UInt8](repeating: 0x61, count: 3_000)) }
        try client.output().withUnsafeBufferPointer { try server.receive($0, now: 0) }
        for (stream, request) in server.takeReady() { server.respond(streamID: stream, HTTPResponse(status: 200, body: request.body)) }
        var batch: [UInt8] = []
        server.drainOutput(into: &batch, pending: 0)
        #expect(batch.count >= 16 * 1024 && batch.count < 16 * 1024 + 3_100)
        #expect(server.wantsWrite)
        var rest: [UInt8] = []
        server.drainOutput(into: &rest, pending: 20 * 1024)
        #expect(rest.isEmpty)  // the caller's output is already over the limit
    }

    @Test func goAwayLetsTheClientKnow() throws {
        let server = try Self.session(.init(maxBodyBytes: 1000))
        let client = MemoryHTTP2Client()
        client.post("/validate", body: Array("{}".utf8))
        try exchange(client, server)
        server.goAway()
        try exchange(client, server)
        #expect(client.goAwayReceived)
    }

    /// A broken frame after the preface: nghttp2 queues GOAWAY with an error code as the
    /// last frame and stops wanting I/O, which is what closes the connection.
    @Test func garbageEndsTheSessionWithGoAway() throws {
        let server = try Self.session(.init(maxBodyBytes: 1000))
        let garbage = RawFrame.preface + [UInt8](repeating: 0xFF, count: 64)
        try garbage.withUnsafeBufferPointer { try server.receive($0, now: 0) }
        let frames = try RawFrame.parse(Self.drainAll(server))
        #expect(frames.first?.type == 0x4)  // our SETTINGS
        let last = try #require(frames.last)
        #expect(last.goAwayError.map { $0 != 0 } == true, "GOAWAY with an error code")
        #expect(!server.wantsIO)
        #expect(server.takeReady().isEmpty)
    }

    /// HTTP/2 has no connection-specific headers (RFC 9113 §8.2.2): a handler's
    /// `Connection` header, in any case, is left out of the answer. A real client treats
    /// one as a malformed response and resets the stream.
    @Test func aConnectionHeaderInAnyCaseIsLeftOut() throws {
        let server = try Self.session(.init(maxConcurrentStreams: 8, maxBodyBytes: 1 << 20))
        let client = MemoryHTTP2Client()
        let names = ["connection", "Connection", "CONNECTION"]
        var streams: [Int32] = []
        for _ in names { streams.append(client.post("/validate", body: Array("{}".utf8))) }
        for _ in 0..<50 {
            let toServer = client.output()
            if !toServer.isEmpty { try toServer.withUnsafeBufferPointer { try server.receive($0, now: 0) } }
            for (stream, _) in server.takeReady() {
                let name = names[streams.firstIndex(of: stream)!]
                server.respond(streamID: stream, HTTPResponse(status: 200, headers: [HTTPField(name, "close")], body: Array("ok".utf8)))
            }
            let toClient = Self.drainAll(server)
            if toServer.isEmpty && toClient.isEmpty { break }
            client.receive(toClient)
        }
        for (stream, name) in zip(streams, names) {
            #expect(client.responses[stream]?.status == 200, "\(name)")
            #expect(client.responses[stream]?.body == Array("ok".utf8), "\(name)")
            #expect(client.responses[stream]?.closed == true, "\(name)")
            #expect(client.responses[stream]?.errorCode == 0, "\(name): the client reset the stream")
        }
    }
}
