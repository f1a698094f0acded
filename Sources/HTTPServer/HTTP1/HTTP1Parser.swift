#if canImport(Glibc)
import Glibc
#endif

/// A parsed HTTP/1.x request head.
struct HTTP1Head: Sendable, Equatable {
    var method: String
    var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var headers: [HTTPField]
}

/// A protocol error with the status the client gets.
struct HTTP1Error: Error, Equatable, Sendable {
    var status: Int
    var message: String
}

/// One function over a buffer, as picohttpparser: complete (with bytes consumed),
/// incomplete, or invalid. Tested on every prefix of a request.
enum HTTP1Parser {
    enum Result: Equatable {
        case complete(HTTP1Head, consumed: Int)
        case incomplete
        case invalid(HTTP1Error)
    }

    /// `scanFrom` lets a caller that already searched a prefix for the end of the head skip
    /// it (each read then costs its own bytes, not the whole head again: 1-byte TLS records
    /// would otherwise make the scan quadratic). `headEndSearchResume` says where to resume.
    static func parseHead(_ buffer: UnsafeBufferPointer<UInt8>, maxHeadBytes: Int, scanFrom: Int = 0) -> Result {
        // A request must start with a method; reject binary garbage (e.g. a TLS ClientHello
        // sent in clear, or a PRI preface) without waiting for more. Checked first, so that
        // the answer does not depend on how much has arrived.
        if let first = buffer.first, !isTokenChar(first) {
            return .invalid(HTTP1Error(status: 400, message: "malformed request line"))
        }
        guard let end = findHeadEnd(buffer, from: scanFrom, limit: maxHeadBytes + 4) else {
            // A head of `maxHeadBytes` still needs its closing CRLF: only past that can no
            // valid head come of what is here (or an early 431 would depend on the split).
            if buffer.count > maxHeadBytes + 2 {
                return .invalid(HTTP1Error(status: 431, message: "request line and headers exceed \(maxHeadBytes) bytes"))
            }
            return .incomplete
        }
        if end.headEnd > maxHeadBytes {
            return .invalid(HTTP1Error(status: 431, message: "request line and headers exceed \(maxHeadBytes) bytes"))
        }
        // One pass over the head's lines, in place: no array of lines, no copies (this
        // runs once per request).
        let head = UnsafeBufferPointer(rebasing: buffer[0..<end.headEnd])
        var lineStart = 0
        var request: (method: String, target: String, minor: Int)?
        var headers: [HTTPField] = []
        headers.reserveCapacity(8)  // one allocation for a usual head, not one per doubling
        while let line = nextLine(head, from: &lineStart) {
            guard request != nil else {
                // RFC 9112 §2.2: ignore at least one empty line before the request line.
                if line.isEmpty { continue }
                switch parseRequestLine(UnsafeBufferPointer(rebasing: head[line])) {
                case .failure(let error): return .invalid(error)
                case .success(let parsed): request = parsed
                }
                continue
            }
            switch parseHeaderLine(UnsafeBufferPointer(rebasing: head[line])) {
            case .failure(let error): return .invalid(error)
            case .success(let header): headers.append(header)
            }
        }
        guard let request else { return .invalid(HTTP1Error(status: 400, message: "missing request line")) }
        return .complete(HTTP1Head(method: request.method, target: request.target, minorVersion: request.minor, headers: headers), consumed: end.consumed)
    }

    /// Where the next search for the end of the head may start once `count` bytes were
    /// searched without finding it: the last 2 bytes may begin the terminator.
    static func headEndSearchResume(afterSearching count: Int) -> Int { max(0, count - 2) }

    /// Finds the empty line ending the head (CRLF CRLF, or LF LF as lenient parsers allow).
    /// LF by LF with `memchr` (vectorised in libc; a byte loop was ~5 instructions a byte).
    private static func findHeadEnd(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> (headEnd: Int, consumed: Int)? {
        let n = min(buffer.count, limit)
        var i = start
        while let lf = lineFeed(in: buffer, from: i, to: n) {
            if lf + 1 < buffer.count, buffer[lf + 1] == 0x0A { return (lf + 1, lf + 2) }
            if lf + 2 < buffer.count, buffer[lf + 1] == 0x0D, buffer[lf + 2] == 0x0A { return (lf + 1, lf + 3) }
            i = lf + 1
        }
        return nil
    }

    /// The index of the first LF in `buffer[from..<to]`.
    @inline(__always)
    private static func lineFeed(in buffer: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard from < to, let base = buffer.baseAddress, let found = memchr(base + from, 0x0A, to - from) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    /// The next line of the head at or after `start` (without its LF and a CR before it),
    /// moving `start` past it; nil after the last.
    private static func nextLine(_ head: UnsafeBufferPointer<UInt8>, from start: inout Int) -> Range<Int>? {
        guard let i = lineFeed(in: head, from: start, to: head.count) else { return nil }
        var end = i
        if end > start, head[end - 1] == 0x0D { end -= 1 }
        defer { start = i + 1 }
        return start..<end
    }

    private static func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) -> Swift.Result<(method: String, target: String, minor: Int), HTTP1Error> {
        // Exactly three parts separated by single spaces.
        var spaces = (0, 0)
        var count = 0
        for i in 0..<line.count where line[i] == 0x20 {
            count += 1
            if count == 1 { spaces.0 = i } else if count == 2 { spaces.1 = i }
        }
        guard count == 2, spaces.0 > 0, spaces.1 > spaces.0 + 1 else {
            return .failure(HTTP1Error(status: 400, message: "malformed request line"))
        }
        let method = UnsafeBufferPointer(rebasing: line[0..<spaces.0])
        let target = UnsafeBufferPointer(rebasing: line[(spaces.0 + 1)..<spaces.1])
        let version = UnsafeBufferPointer(rebasing: line[(spaces.1 + 1)..<line.count])
        guard method.allSatisfy(isTokenChar) else { return .failure(HTTP1Error(status: 400, message: "invalid method")) }
        guard target.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            return .failure(HTTP1Error(status: 400, message: "invalid request target"))
        }
        // Byte by byte: `elementsEqual` with a String's UTF-8 view was ~300 instructions.
        guard version.count == 8, version[0] == UInt8(ascii: "H"), version[1] == UInt8(ascii: "T"), version[2] == UInt8(ascii: "T"),
            version[3] == UInt8(ascii: "P"), version[4] == UInt8(ascii: "/"), isDigit(version[5]), version[6] == UInt8(ascii: "."),
            isDigit(version[7])
        else {
            return .failure(HTTP1Error(status: 400, message: "malformed HTTP version"))
        }
        guard version[5] == UInt8(ascii: "1") else {
            return .failure(HTTP1Error(status: 505, message: "only HTTP/1.0 and HTTP/1.1 are supported on this connection"))
        }
        guard let targetText = originForm(target) else {
            return .failure(HTTP1Error(status: 400, message: "request target is not UTF-8"))
        }
        return .success((text(method), targetText, version[7] == UInt8(ascii: "0") ? 0 : 1))
    }

    /// RFC 9112 §3.2.2: a server must accept the absolute form (`https://host:port/path?q`),
    /// which proxies send. Routing needs only the path and query, so the scheme and
    /// authority are dropped; an empty path means `/`. Other forms pass through unchanged.
    /// Returns the target as text, nil when it is not UTF-8.
    static func originForm(_ target: UnsafeBufferPointer<UInt8>) -> String? {
        for scheme in ["http://", "https://"] as [StaticString] {
            let prefix = UnsafeBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount)
            guard target.count >= prefix.count, zip(target.prefix(prefix.count), prefix).allSatisfy({ $0 | 0x20 == $1 }) else { continue }
            var pathStart = prefix.count
            while pathStart < target.count, target[pathStart] != UInt8(ascii: "/"), target[pathStart] != UInt8(ascii: "?") { pathStart += 1 }
            guard pathStart < target.count else { return "/" }
            guard let rest = utf8Text(UnsafeBufferPointer(rebasing: target[pathStart..<target.count])) else { return nil }
            return target[pathStart] == UInt8(ascii: "?") ? "/" + rest : rest
        }
        return utf8Text(target)
    }

    /// The bytes as text, nil when they are not UTF-8. An ASCII target (nearly all) is
    /// decoded without `String(validating:)`, which costs several times more.
    private static func utf8Text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if !bytes.contains(where: { $0 >= 0x80 }) { return text(bytes) }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The bytes as text, ill-formed UTF-8 repaired, as `String(decoding:as:)` makes it but
    /// copied straight into the string's storage: `String(decoding:)` validated ASCII
    /// through its general path (~60 instructions more a string; a head has ~10).
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count) { storage in
            _ = storage.initialize(fromContentsOf: bytes)
            return bytes.count
        }
    }

    private static func parseHeaderLine(_ line: UnsafeBufferPointer<UInt8>) -> Swift.Result<HTTPField, HTTP1Error> {
        guard let first = line.first, first != 0x20, first != 0x09 else {
            return .failure(HTTP1Error(status: 400, message: "obsolete header line folding is not accepted"))
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            return .failure(HTTP1Error(status: 400, message: "malformed header line"))
        }
        let name = UnsafeBufferPointer(rebasing: line[0..<colon])
        guard name.allSatisfy(isTokenChar) else { return .failure(HTTP1Error(status: 400, message: "invalid header name")) }
        var start = colon + 1
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        let value = UnsafeBufferPointer(rebasing: line[start..<end])
        guard value.allSatisfy(isFieldValueByte) else {
            return .failure(HTTP1Error(status: 400, message: "invalid character in a header value"))
        }
        return .success(HTTPField(lowercasedName(name), text(value)))
    }

    /// A header name (token characters: ASCII) lower-cased byte by byte, straight into the
    /// string's storage; names up to 15 bytes, nearly all, become small strings without an
    /// allocation.
    private static func lowercasedName(_ name: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: name.count) { lower in
            for i in 0..<name.count {
                let b = name[i]
                lower[i] = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
            }
            return name.count
        }
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// RFC 9110 tchar: 0-9, A-Z, a-z and !#$%&'*+-.^_`|~, as two 64-bit masks over ASCII
    /// (a switch per byte of every header name cost several times more).
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_6CFA_0000_0000  // !#$%&'*+-. and 0-9
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // A-Z ^_` a-z | ~
        guard b < 128 else { return false }
        return ((b < 64 ? low : high) >> UInt64(b & 63)) & 1 == 1
    }

    /// A header value byte (RFC 9110 field-vchar, SP or HTAB; obs-text allowed).
    @inline(__always)
    static func isFieldValueByte(_ b: UInt8) -> Bool { b == 0x09 || (b >= 0x20 && b != 0x7F) }
}

/// Incremental chunked transfer-coding decoder (RFC 9112 §7.1) with a size limit.
struct ChunkedDecoder: Sendable {
    enum State: Sendable { case size, data(remaining: Int), dataEnd, trailer, done }

    private(set) var state = State.size
    private var line: [UInt8] = []
    var body: [UInt8] = []
    let maxBody: Int
    /// Chunk-size lines (with extensions) and trailer lines are small; cap them.
    static let maxLineBytes = 4096

    init(maxBody: Int) { self.maxBody = maxBody }

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// Consumes bytes; returns how many were used (stops at the end of the body).
    mutating func feed(_ input: UnsafeBufferPointer<UInt8>) throws(HTTP1Error) -> Int {
        var i = 0
        while i < input.count {
            switch state {
            case .done:
                return i
            case .data(let remaining):
                let n = min(remaining, input.count - i)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<(i + n)]))
                i += n
                state = remaining - n == 0 ? .dataEnd : .data(remaining: remaining - n)
            case .size, .dataEnd, .trailer:
                let b = input[i]
                i += 1
                if case .dataEnd = state, b != 0x0D, b != 0x0A {
                    throw HTTP1Error(status: 400, message: "missing CRLF after chunk data")
                }
                guard b == 0x0A else {
                    line.append(b)
                    if line.count > Self.maxLineBytes { throw HTTP1Error(status: 400, message: "chunk line too long") }
                    continue
                }
                if line.last == 0x0D { line.removeLast() }
                defer { line.removeAll(keepingCapacity: true) }
                try endOfLine()
            }
        }
        return i
    }

    private mutating func endOfLine() throws(HTTP1Error) {
        switch state {
        case .size:
            let size = try Self.chunkSize(line)
            guard body.count + size <= maxBody else {
                throw HTTP1Error(status: 413, message: "request body exceeds \(maxBody) bytes")
            }
            state = size == 0 ? .trailer : .data(remaining: size)
        case .dataEnd:
            guard line.isEmpty else { throw HTTP1Error(status: 400, message: "missing CRLF after chunk data") }
            state = .size
        case .trailer:
            if line.isEmpty { state = .done }  // trailer fields are read and ignored
        case .data, .done:
            break
        }
    }

    /// RFC 9112 §7.1: `chunk-size = 1*HEXDIG`, then optional whitespace and extensions.
    /// Byte by byte: no sign, no inner spaces (`Int(_:radix:)` accepted "-1", "+5" and, after
    /// removing blanks, "1 0"). At most 15 digits, so the size never overflows.
    static func chunkSize(_ line: [UInt8]) throws(HTTP1Error) -> Int {
        var size = 0
        var digits = 0
        var i = 0
        while i < line.count, let digit = hexValue(line[i]) {
            guard digits < 15 else { throw HTTP1Error(status: 400, message: "invalid chunk size") }
            size = size << 4 | digit
            digits += 1
            i += 1
        }
        while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        guard digits > 0, i == line.count || line[i] == UInt8(ascii: ";") else {
            throw HTTP1Error(status: 400, message: "invalid chunk size")
        }
        return size
    }

    private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x41...0x46: Int(b - 0x41 + 10)
        case 0x61...0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }
}
