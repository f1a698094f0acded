import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set once to end every transfer and sleep of a watcher promptly.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func stop() { flag.store(true, ordering: .releasing) }
    public var isStopped: Bool { flag.load(ordering: .acquiring) }

    /// Sleeps up to `seconds`, waking early once stopped. Returns false when stopped.
    @discardableResult
    public func sleep(seconds: Double) -> Bool {
        var left = seconds
        while left > 0, !isStopped {
            let slice = min(left, 0.05)
            usleepSeconds(slice)
            left -= slice
        }
        return !isStopped
    }
}

/// What a request came to: a status and body, or a transport failure (connect, TLS,
/// timeout, a body over its limit, a callback that asked to stop).
public enum APIResult: Sendable {
    case response(status: Int, body: [UInt8])
    case failed(String)
}

/// GETs against the Kubernetes API over libcurl (TLS, HTTP/1.1 chunked or HTTP/2,
/// timeouts, proxies done by a library that does them well). Credentials are resolved
/// per request, so rotation needs nothing from the caller.
public struct APIClient: Sendable {
    public let credentials: CredentialSource
    /// Seconds to connect (TCP + TLS).
    public var connectTimeout = 10

    public init(credentials: CredentialSource) {
        self.credentials = credentials
        APIClient.globalInit
    }

    /// How a response over its byte limit fails (`get`).
    public static let tooLarge = "response larger than"

    /// libcurl's global state, set up once before any transfer.
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// GET `path`, the whole body up to `maxBytes` (a larger body fails the request).
    public func get(_ path: String, maxBytes: Int, timeoutSeconds: Int, stop: StopSignal) -> APIResult {
        let sink = TransferSink(maxBytes: maxBytes, stop: stop, onLine: nil)
        return perform(path, timeoutSeconds: timeoutSeconds, sink: sink)
    }

    /// GET `path` as a stream of newline-delimited records (a watch): `onLine` gets each
    /// complete line as it arrives, at most `maxLineBytes` long, and returns false to end
    /// the stream. A non-2xx answer is returned whole instead (up to `maxLineBytes`).
    public func stream(
        _ path: String, maxLineBytes: Int, timeoutSeconds: Int, stop: StopSignal, onLine: @escaping ([UInt8]) -> Bool
    ) -> APIResult {
        let sink = TransferSink(maxBytes: maxLineBytes, stop: stop, onLine: onLine)
        return perform(path, timeoutSeconds: timeoutSeconds, sink: sink)
    }

    private func perform(_ path: String, timeoutSeconds: Int, sink: TransferSink) -> APIResult {
        let endpoint: APIEndpoint
        do {
            endpoint = try credentials.endpoint()
        } catch {
            return .failed("credentials: \(error)")
        }
        guard let curl = curl_easy_init() else { return .failed("libcurl: cannot create a handle") }
        defer { curl_easy_cleanup(curl) }
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headers) }
        headers = curl_slist_append(headers, "Accept: application/json")
        if let token = endpoint.bearerToken, !token.isEmpty {
            headers = curl_slist_append(headers, "Authorization: Bearer \(token)")
        }
        var ok = ccurl_set_string(curl, CURLOPT_URL, endpoint.server + path) == CURLE_OK
        ok = ok && ccurl_set_pointer(curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK
        ok = ok && ccurl_set_string(curl, CURLOPT_USERAGENT, "wasmplugin-webhook") == CURLE_OK
        // Threads and signals: libcurl must not use SIGALRM for DNS timeouts.
        ok = ok && ccurl_set_long(curl, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && ccurl_set_long(curl, CURLOPT_CONNECTTIMEOUT, connectTimeout) == CURLE_OK
        ok = ok && ccurl_set_long(curl, CURLOPT_TIMEOUT, timeoutSeconds) == CURLE_OK
        ok = ok && ccurl_set_long(curl, CURLOPT_TCP_KEEPALIVE, 1) == CURLE_OK
        ok = ok && ccurl_set_string(curl, CURLOPT_PROTOCOLS_STR, "https,http") == CURLE_OK
        if let ca = endpoint.caPEM {
            ok = ok && ca.withUnsafeBytes { ccurl_set_blob(curl, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) } == CURLE_OK
        }
        if endpoint.insecureSkipTLSVerify {
            ok = ok && ccurl_set_long(curl, CURLOPT_SSL_VERIFYPEER, 0) == CURLE_OK
            ok = ok && ccurl_set_long(curl, CURLOPT_SSL_VERIFYHOST, 0) == CURLE_OK
        }
        if let certificate = endpoint.clientCertificatePEM, let key = endpoint.clientKeyPEM {
            ok = ok && certificate.withUnsafeBytes { ccurl_set_blob(curl, CURLOPT_SSLCERT_BLOB, $0.baseAddress, $0.count) } == CURLE_OK
            ok = ok && ccurl_set_string(curl, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK
            ok = ok && key.withUnsafeBytes { ccurl_set_blob(curl, CURLOPT_SSLKEY_BLOB, $0.baseAddress, $0.count) } == CURLE_OK
            ok = ok && ccurl_set_string(curl, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK
        }
        sink.curl = curl
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        ok = ok && ccurl_set_write(curl, TransferSink.write, context.toOpaque()) == CURLE_OK
        ok = ok && ccurl_set_progress(curl, TransferSink.progress, context.toOpaque()) == CURLE_OK
        guard ok else { return .failed("libcurl: cannot set up the request") }
        let rc = curl_easy_perform(curl)
        let status = ccurl_response_code(curl)
        if let refusal = sink.refusal { return .failed(refusal) }
        if sink.stop.isStopped { return .failed("stopped") }
        guard rc == CURLE_OK else {
            // A watch the server ends by closing is CURLE_OK; anything else is a failure,
            // named by libcurl (no token or key is in its messages).
            return .failed("\(endpoint.server): \(String(cString: curl_easy_strerror(rc)))")
        }
        return .response(status: status, body: sink.body)
    }
}

/// Receives a transfer's bytes: the whole body, or (streaming a 2xx) line by line.
private final class TransferSink {
    let maxBytes: Int
    let stop: StopSignal
    let onLine: (([UInt8]) -> Bool)?
    var body: [UInt8] = []
    /// Why the transfer was cut short by us (limit, or the line handler said stop).
    var refusal: String?
    /// The transfer's handle, to read the status once headers are in.
    var curl: UnsafeMutableRawPointer?
    private var status: Int?

    init(maxBytes: Int, stop: StopSignal, onLine: (([UInt8]) -> Bool)?) {
        self.maxBytes = maxBytes
        self.stop = stop
        self.onLine = onLine
    }

    static let write: ccurl_write_callback = { data, size, count, context in
        let sink = Unmanaged<TransferSink>.fromOpaque(context!).takeUnretainedValue()
        let n = size * count
        guard let data else { return n }
        let bytes = UnsafeRawBufferPointer(start: data, count: n).bindMemory(to: UInt8.self)
        return sink.receive(bytes) ? n : 0
    }

    static let progress: ccurl_progress_callback = { context, _, _, _, _ in
        let sink = Unmanaged<TransferSink>.fromOpaque(context!).takeUnretainedValue()
        return sink.stop.isStopped ? 1 : 0
    }

    private func receive(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if stop.isStopped { return false }
        guard let onLine, isSuccess else {
            guard body.count + bytes.count <= maxBytes else {
                refusal = "\(APIClient.tooLarge) \(maxBytes) bytes"
                return false
            }
            body.append(contentsOf: bytes)
            return true
        }
        // Lines: keep only the unfinished one between calls.
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            body.append(contentsOf: bytes[start..<newline])
            start = newline + 1
            guard body.count <= maxBytes else { return tooLong() }
            let line = body
            body.removeAll(keepingCapacity: true)
            if line.isEmpty { continue }
            if !onLine(line) {
                refusal = refusal ?? "ended by the reader"
                return false
            }
        }
        body.append(contentsOf: bytes[start...])
        return body.count <= maxBytes || tooLong()
    }

    private func tooLong() -> Bool {
        refusal = "a watch event longer than \(maxBytes) bytes"
        return false
    }

    /// Only a 2xx stream is split into lines; an error answer is kept whole.
    private var isSuccess: Bool {
        if status == nil, let curl { status = ccurl_response_code(curl) }
        return (200..<300).contains(status ?? 0)
    }
}

func usleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
