/// Standard-alphabet base64 (RFC 4648 §4) with the strictness the admission path needs:
/// the apiserver decodes `patch` as padded standard base64, and the basic_auth plugin
/// compares stored credentials byte-for-byte with what clients send, so "decodes" is not
/// enough: we must know whether a string is the *canonical* encoding.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let out = ByteWriter(capacity: 64)
        Array(bytes).withUnsafeBufferPointer { encode($0, into: out) }
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The encoding of `input`, appended to `out`, written in place.
    static func encode(_ input: UnsafeBufferPointer<UInt8>, into out: ByteWriter) {
        let length = (input.count + 2) / 3 * 4
        alphabet.withUnsafeBufferPointer { alphabet in
            out.write(atMost: length) { o in
                var i = 0
                var p = o
                while i + 3 <= input.count {
                    let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    p[0] = alphabet[Int(n >> 18 & 63)]
                    p[1] = alphabet[Int(n >> 12 & 63)]
                    p[2] = alphabet[Int(n >> 6 & 63)]
                    p[3] = alphabet[Int(n & 63)]
                    i += 3
                    p += 4
                }
                let rest = input.count - i
                if rest > 0 {
                    let n = UInt32(input[i]) << 16 | (rest == 2 ? UInt32(input[i + 1]) << 8 : 0)
                    p[0] = alphabet[Int(n >> 18 & 63)]
                    p[1] = alphabet[Int(n >> 12 & 63)]
                    p[2] = rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "=")
                    p[3] = UInt8(ascii: "=")
                }
                return length
            }
        }
    }

    /// Decodes with or without `=` padding (at most two), rejecting characters outside the
    /// standard alphabet, a length ≡ 1 (mod 4) and non-zero trailing bits — the same
    /// acceptance as the basic_auth plugin's `decodeWithoutPadding`. Nil when rejected.
    public static func decodeLenient(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { input in
            var out = [UInt8](repeating: 0, count: input.count * 3 / 4 + 1)
            let n = out.withUnsafeMutableBufferPointer { decodeLenient(input, into: $0) }
            guard let n else { return nil }
            out.removeSubrange(n...)
            return out
        }
    }

    /// `decodeLenient` without allocating: decodes `input` into `out` (at least
    /// `input.count * 3 / 4` bytes) and returns the decoded length. Runs once per basic_auth
    /// credential, and configs hold thousands.
    public static func decodeLenient(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        var count = input.count
        var padding = 0
        while padding < 2, count > 0, input[count - 1] == UInt8(ascii: "=") {
            count -= 1
            padding += 1
        }
        guard count > 0, count % 4 != 1 else { return nil }
        var written = 0
        var buffer: UInt32 = 0
        var bits = 0
        for i in 0..<count {
            guard let v = value(input[i]) else { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out[written] = UInt8(truncatingIfNeeded: buffer >> UInt32(bits))
                written += 1
            }
        }
        // Leftover bits must be zero, or a different string would encode the same bytes.
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return written
    }

    /// The 6-bit value of a standard-alphabet character (arithmetic: a lookup table is a
    /// lazily initialised global, checked on every access).
    @inline(__always)
    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    /// Decodes only the canonical padded encoding: `encode(decode(s)) == s`.
    public static func decodeCanonical(_ text: String) -> [UInt8]? {
        guard let bytes = decodeLenient(text), encode(bytes) == text else { return nil }
        return bytes
    }
}
