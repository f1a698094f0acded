import Testing

@testable import HTTPServer

private func parse(_ text: String, maxHead: Int = 16384) -> HTTP1Parser.Result {
    Array(text.utf8).withUnsafeBufferPointer { HTTP1Parser.parseHead($0, maxHeadBytes: maxHead) }
}

@Suite struct HTTP1ParserTests {
    static let request = "POST /validate?timeout=10s HTTP/1.1\r\nHost: webhook.ns.svc:443\r\nContent-Type: application/json\r\nAccept: application/json, */*\r\nContent-Length: 2\r\n\r\n"

    /// The two-mask tchar test is RFC 9110's list, byte for byte (all 256 values).
    @Test func tokenCharactersAreRFC9110s() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for b in 0...255 {
            #expect(HTTP1Parser.isTokenChar(UInt8(b)) == tchar.contains(UInt8(b)), "byte \(b)")
        }
    }

    /// The head end and the lines are found wherever the LFs sit (bare LF, CRLF, the end
    /// split across reads), with the request line and headers intact.
    @Test func headLinesAreFoundWhateverTheLineEnds() throws {
        for ending in ["\r\n", "\n"] {
            let text = ["POST /v HTTP/1.1", "Host: a", "X-Long: " + String(repeating: "v", count: 300), "Content-Length: 0", "", ""]
                .joined(separator: ending)
            guard case .complete(let head, let consumed) = parse(text) else {
                Issue.record("not complete with \(ending.debugDescription)")
                continue
            }
            #expect(consumed == text.utf8.count)
            #expect(head.method == "POST" && head.target == "/v")
            #expect(head.headers.map(\.name) == ["host", "x-long", "content-length"])
            #expect(head.headers[1].value.utf8.count == 300)
            #expect(parse(String(text.dropLast())) == .incomplete)
        }
    }

    @Test func parsesTheApiserverRequest() throws {
        guard case .complete(let head, let consumed) = parse(Self.request) else {
            Issue.record("not complete")
            return
        }
        #expect(head.method == "POST" && head.target == "/validate?timeout=10s" && head.minorVersion == 1)
        #expect(head.headers.map(\.name) == ["host", "content-type", "accept", "content-length"])
        #expect(head.headers[2].value == "application/json, */*")
        #expect(consumed == Self.request.utf8.count)
    }

    @Test func everyPrefixIsIncomplete() {
        let bytes = Array(Self.request.utf8)
        for n in 0..<bytes.count {
            let result = Array(bytes[0..<n]).withUnsafeBufferPointer { HTTP1Parser.parseHead($0, maxHeadBytes: 16384) }
            #expect(result == .incomplete, "prefix of \(n) bytes: \(result)")
        }
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\nHost: x\n\n", 0),  // bare LF accepted
        ("GARBAGE\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nNo Colon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        ("G@T / HTTP/1.1\r\n\r\n", 400),
        ("\u{16}\u{03}\u{01}", 400),  // a TLS ClientHello in clear text
    ])
    func refusesMalformedHeads(_ text: String, _ status: Int) {
        switch parse(text) {
        case .complete: #expect(status == 0)
        case .invalid(let error): #expect(error.status == status)
        case .incomplete: Issue.record("incomplete for \(text)")
        }
    }

    /// Regression: RFC 9112 §3.2.2 — the absolute form must be accepted; it was routed as
    /// an unknown path (404).
    @Test(arguments: [
        ("GET https://webhook.ns.svc:8443/healthz?x=1 HTTP/1.1", "/healthz?x=1"), ("GET HTTP://h HTTP/1.1", "/"), ("GET http://h?x=1 HTTP/1.1", "/?x=1"),
        ("GET /healthz HTTP/1.1", "/healthz"), ("OPTIONS * HTTP/1.1", "*"), ("GET httpx://h/p HTTP/1.1", "httpx://h/p"),
    ])
    func absoluteFormTargetsAreRoutedByPath(_ line: String, _ target: String) throws {
        guard case .complete(let head, _) = parse(line + "\r\nHost: x\r\n\r\n") else {
            Issue.record("not parsed: \(line)")
            return
        }
        #expect(head.target == target)
    }

    /// A target is text: UTF-8 beyond ASCII passes through as sent, in origin and absolute
    /// form; bytes that are not UTF-8 (a lone continuation byte, a cut sequence, 0xFF) get 400.
    /// Header names come out lower-cased and values as `String(decoding:)` reads them
    /// (obs-text that is not UTF-8 repaired, not refused), across the small-string limit:
    /// both are copied straight into the strings' storage.
    @Test func headerNamesAndValuesAreTheirBytes() {
        var values: [[UInt8]] = [[], Array("application/json".utf8), Array("caf\u{E9} \u{1F600}".utf8), [0x61, 0x80, 0x62], [0xFF, 0xFE], [0xC3]]
        for n in [1, 7, 8, 15, 16, 17, 40] { values.append(Array(String(repeating: "V", count: n).utf8)) }
        for (i, value) in values.enumerated() {
            let name = String(repeating: "Ab-", count: i + 1)
            let bytes = Array("GET / HTTP/1.1\r\n\(name): ".utf8) + value + Array("\r\n\r\n".utf8)
            guard case .complete(let head, _) = bytes.withUnsafeBufferPointer({ HTTP1Parser.parseHead($0, maxHeadBytes: 16384) }) else {
                Issue.record("not parsed: \(value)")
                continue
            }
            #expect(head.headers.map(\.name) == [name.lowercased()])
            #expect(head.headers.first?.value == String(decoding: value, as: UTF8.self), "\(value)")
            #expect(head.method == "GET")
        }
    }

    @Test func targetsMustBeUTF8() {
        func head(_ target: [UInt8]) -> HTTP1Parser.Result {
            (Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8)).withUnsafeBufferPointer {
                HTTP1Parser.parseHead($0, maxHeadBytes: 16384)
            }
        }
        for (target, expected) in [("/caf\u{E9}?q=\u{1F600}", "/caf\u{E9}?q=\u{1F600}"), ("http://h/\u{E9}", "/\u{E9}"), ("/plain", "/plain")] {
            guard case .complete(let parsed, _) = head(Array(target.utf8)) else {
                Issue.record("not parsed: \(target)")
                continue
            }
            #expect(parsed.target == expected)
        }
        for bad: [UInt8] in [[0x2F, 0x80], [0x2F, 0xC3], [0x2F, 0xFF, 0x61], [0x2F, 0xE2, 0x82], Array("http://h/".utf8) + [0xC3, 0x28]] {
            guard case .invalid(let error) = head(bad) else {
                Issue.record("accepted \(bad)")
                continue
            }
            #expect(error.status == 400 && error.message == "request target is not UTF-8")
        }
    }

    /// Regression (found by FuzzHTTP1): text that cannot start a request got 431 when more
    /// than the head limit had arrived, and 400 when less had.
    @Test func garbageGets400HoweverMuchHasArrived() {
        let garbage = "{\n  \"kind\": \"AdmissionReview\"" + String(repeating: " ", count: 20000)
        #expect(parse(garbage) == .invalid(HTTP1Error(status: 400, message: "malformed request line")))
        #expect(parse(String(garbage.prefix(10))) == .invalid(HTTP1Error(status: 400, message: "malformed request line")))
        // ...and when a blank line ends it just past the limit.
        let ended = "{" + String(repeating: " ", count: 99) + "\r\n\r\n"
        #expect(parse(ended, maxHead: 100) == .invalid(HTTP1Error(status: 400, message: "malformed request line")))
    }

    /// Regression (found by FuzzHTTP1): a head of exactly the limit was refused with 431
    /// when its closing CRLF had not arrived yet, and accepted once it had.
    @Test func aHeadOfExactlyTheLimitIsAcceptedHoweverItArrives() {
        let line = "GET / HTTP/1.1\r\nX: "
        let head = line + String(repeating: "a", count: 100 - line.utf8.count - 2) + "\r\n"  // 100 bytes
        #expect(head.utf8.count == 100)
        #expect(parse(head, maxHead: 100) == .incomplete)
        if case .complete(_, let consumed) = parse(head + "\r\n", maxHead: 100) {
            #expect(consumed == 102)
        } else {
            Issue.record("not complete")
        }
        #expect(parse(head + "\r\na", maxHead: 100) != .incomplete)
        #expect(parse(head + "xyz", maxHead: 100) == .invalid(HTTP1Error(status: 431, message: "request line and headers exceed 100 bytes")))
    }

    @Test func headLimitGives431() {
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20000)
        #expect(parse(big) == .invalid(HTTP1Error(status: 431, message: "request line and headers exceed 16384 bytes")))
    }
}

@Suite struct ChunkedDecoderTests {
    @Test func decodesChunksWithExtensionsAndTrailersByteByByte() throws {
        let body = Array("4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\nNEXT".utf8)
        var decoder = ChunkedDecoder(maxBody: 100)
        var used = 0
        for b in body where !decoder.isDone {
            used += try [b].withUnsafeBufferPointer { try decoder.feed($0) }
        }
        #expect(decoder.isDone)
        #expect(String(decoding: decoder.body, as: UTF8.self) == "Wikipedia")
        #expect(used == body.count - 4)
    }

    /// Regression: `Int(_, radix: 16)` took a sign, and `-1` then built an invalid range
    /// (the process trapped); `+5` and `1 0` were accepted.
    @Test func refusesBadSizesAndOversizedBodies() {
        let cases = [
            ("zz\r\n", 400), ("ffffffffffffffffff\r\n", 400), ("65\r\n", 413), ("4\r\nabcdX", 400), ("-1\r\nx", 400), ("+5\r\nhello", 400),
            ("1 0\r\n", 400), (" 5\r\n", 400), ("0x5\r\n", 400), ("\r\n", 400),
        ]
        for (text, status) in cases {
            var decoder = ChunkedDecoder(maxBody: 100)
            do {
                _ = try Array(text.utf8).withUnsafeBufferPointer { buffer throws(HTTP1Error) in try decoder.feed(buffer) }
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.status == status, "\(text)")
            }
        }
    }
}

@Suite struct ChunkSizeTests {
    @Test(arguments: [("5", 5), ("A", 10), ("ff", 255), ("0", 0), ("00000000000001", 1), ("5 ;ext=1", 5), ("5\t", 5), ("7fffffffffffffff", -1), ("-1", -1), ("+5", -1), ("1 0", -1), ("", -1), (";x", -1)])
    func chunkSizeLines(_ line: String, _ expected: Int) {
        let result = try? ChunkedDecoder.chunkSize(Array(line.utf8))
        #expect(result == (expected < 0 ? nil : expected), "\(line)")
    }
}

@Suite struct HTTP1SessionTests {
    func feed(_ session: inout HTTP1Session, _ text: String) {
        Array(text.utf8).withUnsafeBufferPointer { session.receive($0) }
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        feed(&session, "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
        var targets: [String] = []
        var bodies: [String] = []
        while case .request(let head, let body, let keepAlive) = session.next() {
            #expect(keepAlive)
            targets.append(head.target)
            bodies.append(String(decoding: body, as: UTF8.self))
        }
        #expect(targets == ["/a", "/b", "/c"])
        #expect(bodies == ["abc", "", "x"])
    }

    /// Headers are found by name, not by length: each header the session acts on next to
    /// others of its name's length (accept-charset and content-length are 14 bytes,
    /// user-agent and connection 10, cookie and expect 6, x-forwarded-proto and
    /// transfer-encoding 17), in both orders, with values that would mean something.
    @Test func headersOfTheSameLengthAreOtherHeaders() {
        let decoys = ["Accept-Charset: 99", "User-Agent: close", "Cookie: 100-continue", "X-Forwarded-Proto: chunked"]
        for decoysFirst in [true, false] {
            var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
            let real = ["Content-Length: 3"]
            let lines = (decoysFirst ? decoys + real : real + decoys).joined(separator: "\r\n")
            feed(&session, "POST /a HTTP/1.1\r\n\(lines)\r\n\r\nabc")
            guard case .request(let head, let body, let keepAlive) = session.next() else {
                Issue.record("no request (decoys first: \(decoysFirst))")
                continue
            }
            #expect(String(decoding: body, as: UTF8.self) == "abc")
            #expect(keepAlive)
            #expect(head.headers.count == 5)
            #expect(HTTPHeaders(lowercased: head.headers)["accept-charset"] == "99")
            #expect(HTTPHeaders(lowercased: head.headers)["content-length"] == "3")
            #expect(session.next() == .needMore)
        }
    }

    @Test func bodyArrivingByteByByte() throws {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        let text = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        var events: [HTTP1Session.Event] = []
        for c in text {
            feed(&session, String(c))
            let e = session.next()
            if e != .needMore { events.append(e) }
        }
        #expect(events.count == 1)
        guard case .request(_, let body, _) = try #require(events.first) else {
            Issue.record("not a request: \(events)")
            return
        }
        #expect(body == Array("hello".utf8))
    }

    @Test func expectContinueIsAnsweredOnceBeforeTheBody() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        feed(&session, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(session.next() == .sendContinue)
        #expect(session.next() == .needMore)
        feed(&session, "{}")
        if case .request = session.next() {} else { Issue.record("no request") }
    }

    @Test func oversizedBodyIsRefusedBeforeItIsRead() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 10)
        feed(&session, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        guard case .error(let error) = session.next() else {
            Issue.record("expected an error")
            return
        }
        #expect(error.status == 413)
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417),
    ])
    func framingAttacksAreRefused(_ text: String, _ status: Int) {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        feed(&session, text)
        guard case .error(let error) = session.next() else {
            Issue.record("expected \(status)")
            return
        }
        #expect(error.status == status)
    }

    /// Regression (found by FuzzHTTP1): an empty line before a request was ignored when the
    /// request arrived with it, and answered 400 when a read split them.
    @Test func emptyLinesBeforeARequestAreIgnoredHoweverTheyArrive() {
        let text = "\r\n\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for split in 1...text.utf8.count {
            var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
            var event = HTTP1Session.Event.needMore
            for piece in Array(text.utf8).chunked(split) {
                piece.withUnsafeBufferPointer { session.receive($0) }
                event = session.next()
                if event != .needMore { break }
            }
            guard case .request(let head, _, _) = event else {
                Issue.record("split every \(split) bytes: \(event)")
                continue
            }
            #expect(head.target == "/healthz")
        }
        var idle = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        feed(&idle, "\r\n\r\n")
        #expect(idle.next() == .needMore)
        #expect(!idle.isMidRequest)  // empty lines are no request in progress
    }

    /// Regression: the chunked `-1` request trapped the whole process.
    @Test func aNegativeChunkSizeIsA400() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        feed(&session, "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx")
        #expect(session.next() == .error(HTTP1Error(status: 400, message: "invalid chunk size")))
    }

    /// Regression: a request that sent its body with the head armed `100 Continue`, which
    /// then went to the next request, which never asked for it.
    @Test func continueIsNeverSentToARequestThatDidNotAskForIt() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        feed(&session, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n")
        guard case .request(let head, _, _) = session.next() else {
            Issue.record("no first request")
            return
        }
        #expect(head.target == "/a")
        #expect(session.next() == .needMore)
        feed(&session, "{")
        #expect(session.next() == .needMore)
    }

    /// Regression: after an error answer the session went on buffering whatever arrived.
    @Test func nothingIsBufferedAfterAnError() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 10)
        feed(&session, "POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\n")
        guard case .error(let error) = session.next() else {
            Issue.record("expected 413")
            return
        }
        #expect(error.status == 413)
        feed(&session, String(repeating: "x", count: 100_000))
        #expect(session.committedBytes == 0)
        #expect(session.next() == .needMore)
        #expect(!session.isMidRequest)
    }

    /// Regression: the search for the end of the head started at byte 0 on every read, so
    /// a head sent 1 byte per TLS record cost quadratic time. Each search now resumes
    /// where the last one stopped.
    @Test func theHeadEndSearchResumesWhereItStopped() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1000)
        let head = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Pad: 0123456789\r\n", count: 100) + "\r\n"
        var fed = 0
        for c in head.utf8.dropLast() {
            feed(&session, String(UnicodeScalar(c)))
            fed += 1
            #expect(session.next() == .needMore)
            #expect(session.headScanFrom == max(0, fed - 2), "after \(fed) bytes")
        }
        feed(&session, "\n")
        guard case .request(let parsed, _, _) = session.next() else {
            Issue.record("no request")
            return
        }
        #expect(parsed.headers.count == 101)
        #expect(session.headScanFrom == 0)
    }

    /// The session commits to a declared body before it arrives: that is what the
    /// connection charges to the process-wide budget (and refuses with 503 past it).
    @Test func committedBytesCoverADeclaredBody() {
        var session = HTTP1Session(maxHeadBytes: 16384, maxBodyBytes: 1_000_000)
        feed(&session, "POST /a HTTP/1.1\r\nContent-Length: 500000\r\n\r\nabc")
        #expect(session.next() == .needMore)
        #expect(session.committedBytes == 500_000)
        #expect(session.isReadingBody)
        #expect(session.abort(HTTP1Error(status: 503, message: "busy")) == .error(HTTP1Error(status: 503, message: "busy")))
        #expect(session.committedBytes == 0)
    }

    @Test func keepAliveRules() {
        func head(_ minor: Int, _ connection: String?) -> HTTP1Head {
            HTTP1Head(method: "GET", target: "/", minorVersion: minor, headers: connection.map { [HTTPField("connection", $0)] } ?? [])
        }
        #expect(HTTP1Session.keepAlive(head(1, nil)))
        #expect(!HTTP1Session.keepAlive(head(1, "close")))
        #expect(!HTTP1Session.keepAlive(head(1, "keep-alive, Close")))
        #expect(!HTTP1Session.keepAlive(head(0, nil)))
        #expect(HTTP1Session.keepAlive(head(0, "keep-alive")))
    }

    @Test func serializesResponses() {
        let bytes = HTTP1Session.serialize(.text(404, "no"), keepAlive: false, date: "Thu, 26 Nov 2026 00:00:00 GMT")
        #expect(String(decoding: bytes, as: UTF8.self) == "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 3\r\ndate: Thu, 26 Nov 2026 00:00:00 GMT\r\nconnection: close\r\n\r\nno\n")
    }

    /// The head is written into a buffer sized for it: heads around and past the stack
    /// buffer's 1,024 bytes, non-ASCII values, HEAD answers and pending output all come out
    /// whole and in order.
    @Test func serializesHeadsOfEverySize() {
        let date = "Thu, 26 Nov 2026 00:00:00 GMT"
        for count in [0, 1, 7, 15, 16, 17, 30, 200] {
            for valueLength in [0, 1, 40, 977] {
                var response = HTTPResponse(status: 200, body: Array("{}".utf8))
                for i in 0..<count { response.headers.append(HTTPField("x-h\(i)", String(repeating: i % 2 == 0 ? "v" : "é", count: valueLength))) }
                for (keepAlive, headOnly) in [(true, false), (false, true)] {
                    var expected = "HTTP/1.1 200 OK\r\n"
                    for field in response.headers { expected += "\(field.name): \(field.value)\r\n" }
                    expected += "content-length: 2\r\ndate: \(date)\r\n" + (keepAlive ? "" : "connection: close\r\n") + "\r\n" + (headOnly ? "" : "{}")
                    var out = Array("pending".utf8)
                    HTTP1Session.serialize(response, keepAlive: keepAlive, date: date, headOnly: headOnly, into: &out)
                    #expect(String(decoding: out, as: UTF8.self) == "pending" + expected, "\(count) headers of \(valueLength)")
                }
            }
        }
        let odd = HTTP1Session.serialize(HTTPResponse(status: 599, body: Array(repeating: 0x61, count: 12_345)), keepAlive: true, date: date)
        #expect(String(decoding: odd.prefix(60), as: UTF8.self).hasPrefix("HTTP/1.1 599 Status 599\r\ncontent-length: 12345\r\n"))
        #expect(odd.count == "HTTP/1.1 599 Status 599\r\ncontent-length: 12345\r\ndate: \(date)\r\n\r\n".utf8.count + 12_345)
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}

@Suite struct HTTPRequestPathTests {
    /// The path is the target up to the first '?', whatever precedes it.
    @Test func pathStopsAtTheQuery() {
        let cases = [
            ("/validate?timeout=10s", "/validate"), ("/mutate", "/mutate"), ("/a?b?c", "/a"), ("?x", ""), ("", ""),
            ("/é/ß?q=€", "/é/ß"), ("/%3F?x", "/%3F"),
        ]
        for (target, path) in cases {
            let request = HTTPRequest(method: "POST", target: target, headers: HTTPHeaders(), body: [], version: .http1)
            #expect(request.path == path, "\(target)")
        }
    }
}
