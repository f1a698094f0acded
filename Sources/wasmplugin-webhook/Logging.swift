import AdmissionKit
import HTTPServer
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One JSON object per line on stderr. Every write(2) carries whole lines, so lines from
/// several loop threads never interleave. Decision lines are buffered per loop thread
/// and flushed after each batch of events: one syscall per batch, not per request.
enum LogSink {
    static func write(_ fields: JSONObject) {
        var line = JSONWriter().bytes(.object(fields))
        line.append(UInt8(ascii: "\n"))
        writeAll(line)
    }

    /// Appends a line, written by `body`, to this thread's buffer (flushed by
    /// `flushThreadBuffer`, or at 32 KiB).
    static func bufferedLine(_ body: (inout ByteWriter) -> Void) {
        var out = threadBuffer().bytes
        body(&out)
        out.append(UInt8(ascii: "\n"))
        if out.count >= 32 * 1024 { flushThreadBuffer() }
    }

    static func flushThreadBuffer() {
        guard let raw = pthread_getspecific(bufferKey) else { return }
        let buffer = Unmanaged<LineBuffer>.fromOpaque(raw).takeUnretainedValue()
        guard buffer.bytes.count > 0 else { return }
        buffer.bytes.withBytes { writeAll($0) }
        buffer.bytes.removeAll()
        buffer.lastFlush = monotonicNanoseconds()
    }

    /// Called after each batch of events: under load a batch is often one request, so
    /// write only when 100 ms have passed (or 32 KiB piled up). An idle loop still wakes
    /// every second, so a line is never held longer than about that.
    static func flushThreadBufferIfDue() {
        guard let raw = pthread_getspecific(bufferKey) else { return }
        let buffer = Unmanaged<LineBuffer>.fromOpaque(raw).takeUnretainedValue()
        if buffer.bytes.count > 0, monotonicNanoseconds() - buffer.lastFlush >= 100_000_000 { flushThreadBuffer() }
    }

    private final class LineBuffer {
        /// A ByteWriter, not an array: a decision line is ~30 appends, and each array
        /// append checked uniqueness and capacity out of line.
        let bytes = ByteWriter(capacity: 40 * 1024)
        var lastFlush: UInt64 = 0
        var second = -1
        var secondText: [UInt8] = []
    }

    private static let bufferKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            if let raw { Unmanaged<AnyObject>.fromOpaque(raw).release() }
        }
        return key
    }()

    private static func threadBuffer() -> LineBuffer {
        if let raw = pthread_getspecific(bufferKey) {
            return Unmanaged<LineBuffer>.fromOpaque(raw).takeUnretainedValue()
        }
        let buffer = LineBuffer()
        pthread_setspecific(bufferKey, Unmanaged.passRetained(buffer).toOpaque())
        return buffer
    }

    private static func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { writeAll($0) }
    }

    private static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(2, base + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    /// RFC 3339 UTC with milliseconds. The seconds part is formatted once per second per
    /// thread: decision lines are written on every request.
    static func timestamp() -> String {
        var out: [UInt8] = []
        appendTimestamp(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendTimestamp<Sink: ByteSink>(into out: inout Sink) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let cache = threadBuffer()
        if cache.second != Int(ts.tv_sec) {
            var t = tm()
            var seconds = ts.tv_sec
            gmtime_r(&seconds, &t)
            var buffer = [CChar](repeating: 0, count: 32)
            let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S.", &t)
            cache.secondText = buffer[0..<n].map { UInt8(bitPattern: $0) }
            cache.second = Int(ts.tv_sec)
        }
        cache.secondText.withUnsafeBufferPointer { out.append(bytes: $0) }
        let millis = Int(ts.tv_nsec / 1_000_000)
        out.append(UInt8(ascii: "0") + UInt8(millis / 100))
        out.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis % 10))
        out.append(UInt8(ascii: "Z"))
    }
}

/// swift-log handler writing JSON lines through `LogSink`.
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = JSONObject([("time", .string(LogSink.timestamp())), ("level", .string(event.level.rawValue)), ("msg", .string("\(event.message)"))])
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
            fields[key] = .string("\(value)")
        }
        LogSink.write(fields)
    }
}

extension Logger {
    /// Adapter for the server layer's log callback.
    func serverLog(_ level: LogLevel, _ message: String) {
        switch level {
        case .debug: debug("\(message)")
        case .info: info("\(message)")
        case .warning: warning("\(message)")
        case .error: error("\(message)")
        }
    }
}

/// The one structured line per admission decision. Never a credential: only identity,
/// verdict and counts. Written straight into the thread's log buffer: it runs on every
/// request, and building a JSON object first cost as much as some rules.
enum DecisionLog {
    static func write(_ outcome: ReviewOutcome, latencyNanoseconds: UInt64) {
        let r = outcome.request
        let response = outcome.response
        LogSink.bufferedLine { out in
            // Literals appended as buffers (ByteSink): `append(contentsOf:)` of a String's
            // UTF-8 view goes through the generic sequence copy (about 150 instructions a piece).
            out.append(#"{"time":""#)
            LogSink.appendTimestamp(into: &out)
            out.append(#"","level":"info","msg":"admission decision","uid":"#)
            JSONWriter.writeString(r.uid, into: out)
            // The kind as `GroupVersionKind.description` spells it, without building it.
            out.append(#","kind":""#)
            if !r.kind.group.isEmpty {
                JSONWriter.writeStringContents(r.kind.group, into: out)
                out.append(UInt8(ascii: "/"))
            }
            JSONWriter.writeStringContents(r.kind.version, into: out)
            out.append(UInt8(ascii: "/"))
            JSONWriter.writeStringContents(r.kind.kind, into: out)
            out.append(#"","namespace":"#)
            JSONWriter.writeString(r.namespace, into: out)
            out.append(#","name":"#)
            JSONWriter.writeString(r.name, into: out)
            out.append(#","operation":""#)
            out.append(utf8: r.operation.rawValue)
            out.append(#"","endpoint":""#)
            out.append(utf8: outcome.endpoint.rawValue)
            out.append(#"","allowed":"#)
            out.append(response.allowed ? "true" : "false")
            appendNumber("errors", response.denial?.causes.count ?? 0, into: &out)
            appendNumber("warnings", response.warnings.count, into: &out)
            out.append(#","wouldDeny":"#)
            out.append(response.wouldDeny > 0 ? "true" : "false")
            appendNumber("wouldDenyErrors", response.wouldDeny, into: &out)
            appendNumber("patchOps", response.patch.count, into: &out)
            out.append(#","dryRun":"#)
            out.append(r.dryRun ? "true" : "false")
            appendNumber("latencyMicros", Int(latencyNanoseconds / 1000), into: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func appendNumber(_ key: StaticString, _ value: Int, into out: inout ByteWriter) {
        out.append(#",""#)
        out.append(key)
        out.append(#"":"#)
        out.append(decimal: value)
    }
}
