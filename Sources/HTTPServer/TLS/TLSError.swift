import CTLS

/// An OpenSSL failure with the library's own error queue text.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ what: String) {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        description = reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))"
    }
}

/// Empties this thread's OpenSSL error queue, so that `SSL_get_error` after the next call
/// speaks of that call only. The queue is nearly always empty already: `ERR_clear_error`
/// walks all of its 16 slots anyway (~800 instructions), `ERR_peek_error` only looks.
/// Twice a request on the TLS path.
@inline(__always)
func clearTLSErrorQueue() {
    if ERR_peek_error() != 0 { ERR_clear_error() }
}
