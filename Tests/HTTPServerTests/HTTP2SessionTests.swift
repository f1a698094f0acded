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
    }

    private(set) var session: OpaquePointer?
    var responses: [Int32: Response] = [:]
    var goAwayReceived = false
    private var bodies: [Int32: RequestBody] = [:]

    final class RequestBody {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
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
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, _, user in
            let client = Unmanaged<MemoryHTTP2Client>.fromOpaque(user!).takeUnretainedValue()
            client.responses[stream, default: Response()].closed = true
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            let client = Unmanaged<MemoryHTTP2Client>.fromOpaque(user!).takeUnretainedValue()
            if frame!.pointee.hd.type == UInt8(NGHTTP2_GOAWAY.rawValue) { client.goAwayReceived = true }
            return 0
        }
        nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0)
    }

    deinit { nghttp2_session_del(session) }

    @discardableResult
    func post(_ path: String, body: [UInt8]) -> Int32 {
        let fields = [(":method", "POST"), (":scheme", "https"), (":authority", "localhost"), (":path", path), ("content-type", "application/json")]
        var storage: [[UInt8]] = fields.flatMap { [Array($0.0.utf8), Array($0.1.utf8)] }
        let box = RequestBody(body)
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: Unmanaged.passUnretained(box).toOpaque())) { _, _, buffer, length, flags, source, _ in
            let box = Unmanaged<RequestBody>.fromOpaque(source!.pointee.ptr).takeUnretainedValue()
            let n = min(length, box.bytes.count - box.offset)
            box.bytes.withUnsafeBufferPointer { buffer!.update(from: $0.baseAddress! + box.offset, count: n) }
            box.offset += n
            if box.offset == box.bytes.count { flags!.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
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

    func receive(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) }
    }
}

@Suite struct HTTP2SessionTests {
    /// Pumps bytes both ways (bounded) and answers each request with its own body.
    func exchange(_ client: MemoryHTTP2Client, _ server: HTTP2Session, rounds: Int = 200) throws {
        for _ in 0..<rounds {
            let toServer = client.output()
            if !toServer.isEmpty { try toServer.withUnsafeBufferPointer { try server.receive($0) } }
            for (stream, response) in server.takeRejected() { server.respond(streamID: stream, response) }
            for (stream, request) in server.takeReady() {
                server.respond(streamID: stream, HTTPResponse(status: 200, headers: [("content-type", "application/json")], body: Array(request.path.utf8) + request.body))
            }
            var toClient: [UInt8] = []
            server.drainOutput(into: &toClient)
            if toServer.isEmpty && toClient.isEmpty { return }
            client.receive(toClient)
        }
        Issue.record("exchange did not settle")
    }

    @Test func manyConcurrentStreamsWithBodiesLargerThanAWindow() throws {
        let server = try HTTP2Session(limits: .init(maxConcurrentStreams: 128, maxBodyBytes: 1 << 20))
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
            #expect(client.responses[stream]?.body == body, "stream \(stream)")
            #expect(client.responses[stream]?.closed == true)
        }
        #expect(server.activeStreams == 0)
    }

    @Test func aStreamOverTheBodyLimitGets413AndTheOthersAreServed() throws {
        let server = try HTTP2Session(limits: .init(maxConcurrentStreams: 128, maxBodyBytes: 10_000))
        let client = MemoryHTTP2Client()
        let big = client.post("/validate", body: [UInt8](repeating: 0x61, count: 50_000))
        let small = client.post("/validate", body: [UInt8](repeating: 0x62, count: 100))
        try exchange(client, server)
        #expect(client.responses[big]?.status == 413)
        #expect(client.responses[small]?.status == 200)
    }

    @Test func goAwayLetsTheClientKnow() throws {
        let server = try HTTP2Session(limits: .init(maxBodyBytes: 1000))
        let client = MemoryHTTP2Client()
        client.post("/validate", body: Array("{}".utf8))
        try exchange(client, server)
        server.goAway()
        try exchange(client, server)
        #expect(client.goAwayReceived)
    }

    /// A broken frame after the preface: nghttp2 queues GOAWAY and stops wanting I/O, which
    /// is what makes the connection close once that GOAWAY is written.
    @Test func garbageEndsTheSessionWithGoAway() throws {
        let server = try HTTP2Session(limits: .init(maxBodyBytes: 1000))
        let garbage = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [UInt8](repeating: 0xFF, count: 64)
        do {
            try garbage.withUnsafeBufferPointer { try server.receive($0) }
        } catch {
            // Either way (error or queued GOAWAY) the session must end.
        }
        var out: [UInt8] = []
        server.drainOutput(into: &out)
        #expect(out.count > 9)
        // The last frame written is a GOAWAY (type 0x7).
        let goAway = out.indices.dropLast(8).contains { out[$0 + 3] == 0x07 && out[$0 + 5..<$0 + 9].elementsEqual([0, 0, 0, 0]) }
        #expect(goAway)
        #expect(!server.wantsIO)
        #expect(server.takeReady().isEmpty)
    }
}
