/// One header line. A struct, not a `(name, value)` tuple: an array of tuples is copied
/// and destroyed through the runtime's generic tuple witnesses, ~280 instructions an entry
/// (measured), and every request destroys its headers and its answer's.
public struct HTTPField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Whether this is the header `lowercased` names, lengths first: most headers a
    /// lookup passes have another length, and a String `==` that fails costs a call.
    @inline(__always)
    public func isNamed(_ lowercased: String) -> Bool {
        name.utf8.count == lowercased.utf8.count && name == lowercased
    }
}

/// Request headers with lower-cased names (HTTP/2 requires it; HTTP/1 names are
/// case-insensitive), in arrival order.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var entries: [HTTPField] = []

    public init(_ entries: [(name: String, value: String)] = []) {
        self.entries = entries.map { HTTPField($0.name.lowercased(), $0.value) }
    }

    /// For names the HTTP/1 parser already lower-cased.
    init(lowercased entries: [HTTPField]) {
        self.entries = entries
    }

    public mutating func add(_ name: String, _ value: String) {
        entries.append(HTTPField(name.lowercased(), value))
    }

    /// The first value of a header.
    public subscript(name: String) -> String? {
        entries.first { $0.isNamed(name) }?.value
    }

    public func makeIterator() -> IndexingIterator<[HTTPField]> {
        entries.makeIterator()
    }
}

/// Which listener a request came through: the TLS port, or the plain-HTTP probe port
/// (health, readiness, metrics) that kubelet and Prometheus reach without client
/// certificates.
public enum ListenerRole: Sendable {
    case tls
    case probe
}

public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent, e.g. `/validate?timeout=10s` (an absolute-form target
    /// arrives here in origin form).
    public var target: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var version: HTTPVersion
    public var listener: ListenerRole

    public init(method: String, target: String, headers: HTTPHeaders, body: [UInt8], version: HTTPVersion, listener: ListenerRole = .tls) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.version = version
        self.listener = listener
    }

    /// The path without the query string (`?timeout=10s` from the apiserver is ignored).
    public var path: Substring {
        // On the UTF-8 view: `prefix { $0 != "?" }` walked Characters, ~3,500 instructions
        // for every request. '?' is ASCII, so its index is a character boundary.
        guard let query = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target[...] }
        return target[..<query]
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [HTTPField]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPField] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static let serverBusyMessage = "the server holds too many request bytes now; retry (another replica may answer)"

    /// Past the process-wide buffer budget.
    static let serverBusy: HTTPResponse = {
        var response = HTTPResponse.text(503, serverBusyMessage)
        response.headers.append(HTTPField("retry-after", "1"))
        return response
    }()

    /// A short plain-text answer, as for protocol errors.
    public static func text(_ status: Int, _ message: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [HTTPField("content-type", "text/plain; charset=utf-8")], body: Array((message + "\n").utf8))
    }
}

/// The one seam between the server and the application: a request in, a response out,
/// run on the loop thread (the admission work takes microseconds).
public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

enum HTTPStatus {
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
