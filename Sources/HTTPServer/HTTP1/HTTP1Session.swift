/// The HTTP/1.1 side of a connection as a value-type state machine: bytes in, events out.
/// No sockets, so it is tested byte by byte. Pipelined requests come out one at a time and
/// the connection answers each before asking for the next, so answers stay in order.
struct HTTP1Session: Sendable {
    enum Event: Equatable {
        case request(HTTP1Head, body: [UInt8], keepAlive: Bool)
        /// Send `100 Continue` now: the client waits for it before sending the body.
        case sendContinue
        /// Answer with this status and close the connection.
        case error(HTTP1Error)
        case needMore
    }

    private enum State: Sendable {
        case head
        case body(HTTP1Head, length: Int)
        case chunked(HTTP1Head, ChunkedDecoder)
        case failed
    }

    let maxHeadBytes: Int
    let maxBodyBytes: Int
    /// Received bytes not yet consumed start at `inputStart` (a read index instead of
    /// `removeFirst` per request, which copied the rest of the buffer each time).
    private var input: [UInt8] = []
    private var inputStart = 0
    /// How far the search for the end of the head got (so each read scans only new bytes).
    private(set) var headScanFrom = 0
    private var state = State.head
    private var continuePending = false

    init(maxHeadBytes: Int, maxBodyBytes: Int) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    private var unread: Int { input.count - inputStart }

    /// True while a request has started arriving (for the header/body timeouts).
    var isMidRequest: Bool {
        switch state {
        case .head: unread > 0
        case .body, .chunked: true
        case .failed: false
        }
    }

    /// True once the head is in and the body is still arriving.
    var isReadingBody: Bool {
        switch state {
        case .body, .chunked: true
        default: false
        }
    }

    /// True after an error answer: nothing more is read from this connection.
    var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// Bytes this session holds or has agreed to take for the current request: the input
    /// buffer, a chunked body decoded so far, and the rest of a declared Content-Length.
    /// The connection charges this to the process-wide buffer budget.
    var committedBytes: Int {
        switch state {
        case .head, .failed: unread
        case .body(_, let length): max(unread, length)
        case .chunked(_, let decoder): unread + decoder.body.count
        }
    }

    mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>) {
        // After an error answer the connection only closes: buffering more would let a
        // client that keeps sending grow memory for nothing.
        if case .failed = state { return }
        if inputStart > 0 {
            input.removeFirst(inputStart)  // once per read, not once per request
            headScanFrom = max(0, headScanFrom - inputStart)
            inputStart = 0
        }
        input.append(contentsOf: bytes)
    }

    mutating func next() -> Event {
        switch state {
        case .failed:
            return .needMore
        case .head:
            // RFC 9112 §2.2: empty lines before a request line are ignored (clients may send
            // a CRLF after a body). Dropped here, before the parser sees them, so that the
            // answer does not depend on where a read split them from the request line.
            while inputStart < input.count, input[inputStart] == 0x0A || input[inputStart] == 0x0D {
                if input[inputStart] == 0x0D {
                    guard inputStart + 1 < input.count else { return .needMore }
                    guard input[inputStart + 1] == 0x0A else { break }
                }
                consume(input[inputStart] == 0x0D ? 2 : 1)
            }
            let result = input.withUnsafeBufferPointer {
                HTTP1Parser.parseHead(UnsafeBufferPointer(rebasing: $0[inputStart...]), maxHeadBytes: maxHeadBytes, scanFrom: headScanFrom)
            }
            switch result {
            case .incomplete:
                headScanFrom = HTTP1Parser.headEndSearchResume(afterSearching: unread)
                return .needMore
            case .invalid(let error): return fail(error)
            case .complete(let head, let consumed):
                consume(consumed)
                return startBody(head)
            }
        case .body(let head, let length):
            guard unread >= length else { return continueIfPending() }
            let body = Array(input[inputStart..<(inputStart + length)])
            consume(length)
            return finish(head, body: body)
        case .chunked(let head, var decoder):
            state = .failed  // drop our copy so the decoder's body is uniquely referenced
            do {
                let used = try input.withUnsafeBufferPointer { buffer throws(HTTP1Error) in
                    try decoder.feed(UnsafeBufferPointer(rebasing: buffer[inputStart...]))
                }
                consume(used)
            } catch {
                return fail(error)
            }
            guard decoder.isDone else {
                state = .chunked(head, decoder)
                return continueIfPending()
            }
            return finish(head, body: decoder.body)
        }
    }

    /// Refuses the request in progress (the connection answers with `error` and closes).
    mutating func abort(_ error: HTTP1Error) -> Event { fail(error) }

    private mutating func consume(_ count: Int) {
        inputStart += count
        headScanFrom = 0
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 64 * 1024)
            inputStart = 0
        }
    }

    private mutating func finish(_ head: HTTP1Head, body: [UInt8]) -> Event {
        state = .head
        continuePending = false
        return .request(head, body: body, keepAlive: Self.keepAlive(head))
    }

    private mutating func startBody(_ head: HTTP1Head) -> Event {
        // One pass over the headers (this runs once per request): the Transfer-Encoding
        // values, and the Content-Length if every one of them says the same.
        var transferEncoding: [String] = []
        var contentLength: String?
        var conflictingLengths = false
        for field in head.headers {
            if field.isNamed("transfer-encoding") {
                transferEncoding.append(field.value)
            } else if field.isNamed("content-length") {
                if let first = contentLength, first != field.value { conflictingLengths = true }
                contentLength = contentLength ?? field.value
            }
        }
        if !transferEncoding.isEmpty {
            // Both framings at once is the request-smuggling shape: refuse it.
            guard contentLength == nil else {
                return fail(HTTP1Error(status: 400, message: "both Transfer-Encoding and Content-Length are set"))
            }
            guard transferEncoding.count == 1, transferEncoding[0].lowercased() == "chunked" else {
                return fail(HTTP1Error(status: 501, message: "only the chunked transfer coding is supported"))
            }
            guard head.minorVersion == 1 else { return fail(HTTP1Error(status: 400, message: "chunked requires HTTP/1.1")) }
            if let error = expectation(head) { return fail(error) }
            state = .chunked(head, ChunkedDecoder(maxBody: maxBodyBytes))
            return next()
        }
        guard !conflictingLengths else { return fail(HTTP1Error(status: 400, message: "conflicting Content-Length headers")) }
        var length = 0
        if let text = contentLength {
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy(HTTP1Parser.isDigit), let n = Int(text) else {
                return fail(HTTP1Error(status: 400, message: "invalid Content-Length"))
            }
            length = n
        }
        // Refuse an oversized body before reading it (and before sending 100 Continue).
        if length > maxBodyBytes {
            return fail(HTTP1Error(status: 413, message: "request body of \(length) bytes exceeds the limit of \(maxBodyBytes) bytes"))
        }
        if let error = expectation(head) { return fail(error) }
        if length == 0 { continuePending = false }  // nothing to wait for
        state = .body(head, length: length)
        return next()
    }

    /// `Expect: 100-continue` arms a 100 answer; any other expectation is refused (417).
    /// A client that already sent body bytes is not waiting, so it gets no 100 (RFC 9110
    /// §10.1.1), and the flag never outlives its request.
    private mutating func expectation(_ head: HTTP1Head) -> HTTP1Error? {
        guard let expect = head.headers.first(where: { $0.isNamed("expect") })?.value else { return nil }
        guard expect.lowercased() == "100-continue" else {
            return HTTP1Error(status: 417, message: "unsupported expectation")
        }
        continuePending = head.minorVersion == 1 && unread == 0
        return nil
    }

    private mutating func continueIfPending() -> Event {
        if continuePending {
            continuePending = false
            return .sendContinue
        }
        return .needMore
    }

    private mutating func fail(_ error: HTTP1Error) -> Event {
        state = .failed
        continuePending = false
        input = []
        inputStart = 0
        return .error(error)
    }

    static func keepAlive(_ head: HTTP1Head) -> Bool {
        var keepAlive = head.minorVersion == 1
        for field in head.headers where field.isNamed("connection") {
            for token in field.value.lowercased().split(separator: ",") {
                switch token.trimmingCharacters(in: " \t") {
                case "close": return false
                case "keep-alive": keepAlive = true
                default: break
                }
            }
        }
        return keepAlive
    }

    /// Serializes a response head and body.
    static func serialize(_ response: HTTPResponse, keepAlive: Bool, date: String, headOnly: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        serialize(response, keepAlive: keepAlive, date: date, headOnly: headOnly, into: &out)
        return out
    }

    /// Appends the response to `out`, the connection's output buffer: no intermediate
    /// array and no interpolated strings (this runs once per request). The head is written
    /// into a buffer on the stack, a `memcpy` a piece, and appended to `out` in one step:
    /// each `append(contentsOf:)` on the array cost 80-160 instructions, and a head is a
    /// dozen pieces. (A head past the stack buffer, many or long headers, takes the same
    /// steps on a heap buffer.)
    static func serialize(_ response: HTTPResponse, keepAlive: Bool, date: String, headOnly: Bool = false, into out: inout [UInt8]) {
        let reason = HTTPStatus.reason(response.status)
        var size = headFixedBytes + reason.utf8.count + date.utf8.count
        for field in response.headers { size += field.name.utf8.count + field.value.utf8.count + 4 }
        out.reserveCapacity(out.count + size + (headOnly ? 0 : response.body.count))
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(size, 1024)) { buffer in
            var head = HeadWriter(buffer)
            head.write("HTTP/1.1 ")
            head.writeDecimal(response.status)
            head.write(" ")
            head.write(string: reason)
            head.write("\r\n")
            for field in response.headers {
                head.write(string: field.name)
                head.write(": ")
                head.write(string: field.value)
                head.write("\r\n")
            }
            head.write("content-length: ")
            head.writeDecimal(response.body.count)
            head.write("\r\ndate: ")
            head.write(string: date)
            head.write("\r\n")
            if !keepAlive { head.write("connection: close\r\n") }
            head.write("\r\n")
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: head.count))
        }
        if !headOnly { out += response.body }
    }

    /// The most bytes of a head besides its reason, date and headers: the literals
    /// `serialize` writes, and 20 digits for each of the two numbers.
    private static let headFixedBytes =
        "HTTP/1.1 ".utf8.count + 20 + " ".utf8.count + "\r\n".utf8.count + "content-length: ".utf8.count + 20
        + "\r\ndate: ".utf8.count + "\r\n".utf8.count + "connection: close\r\n".utf8.count + "\r\n".utf8.count

    /// Writes pieces one after another into a buffer that `serialize` sized for the head
    /// (checked all the same: a wrong size must stop the process, not write past the end).
    private struct HeadWriter {
        let base: UnsafeMutablePointer<UInt8>
        let capacity: Int
        private(set) var count = 0

        init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
            base = buffer.baseAddress!
            capacity = buffer.count
        }

        mutating func write(_ text: StaticString) {
            write(bytes: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }

        /// Labelled: a literal would pick this overload over `StaticString`'s.
        mutating func write(string text: String) {
            var text = text
            text.withUTF8 { write(bytes: $0) }
        }

        mutating func write(bytes: UnsafeBufferPointer<UInt8>) {
            guard let start = bytes.baseAddress else { return }
            precondition(count + bytes.count <= capacity)
            (base + count).initialize(from: start, count: bytes.count)
            count += bytes.count
        }

        /// A non-negative decimal, digit by digit from the highest power of ten.
        mutating func writeDecimal(_ value: Int) {
            var power = 1
            while power <= value / 10 { power *= 10 }
            while power > 0 {
                precondition(count < capacity)
                base[count] = UInt8(ascii: "0") + UInt8(value / power % 10)
                count += 1
                power /= 10
            }
        }
    }

    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
