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

    /// The characters of each 12-bit value, the first in the low byte: an encoder looks up
    /// two characters at once (8 KiB; per 3 bytes two lookups and two 16-bit stores, where one
    /// lookup a character with its shift and mask cost about 10 instructions a byte).
    private static let pairs: [UInt16] = (0..<4096).map { UInt16(alphabet[$0 >> 6]) | UInt16(alphabet[$0 & 63]) << 8 }

    /// The encoding of `input`, appended to `out`, written in place.
    static func encode(_ input: UnsafeBufferPointer<UInt8>, into out: ByteWriter) {
        let length = (input.count + 2) / 3 * 4
        guard let source = input.baseAddress else { return }
        pairs.withUnsafeBufferPointer { pairs in
            out.write(atMost: length) { o in
                let p = UnsafeMutableRawPointer(o)
                var i = 0
                var at = 0
                // Four bytes loaded at once while four remain (the fourth is not used).
                while i + 4 <= input.count {
                    let n = UInt32(bigEndian: UnsafeRawPointer(source + i).loadUnaligned(as: UInt32.self)) >> 8
                    p.storeBytes(of: pairs[Int(n >> 12)].littleEndian, toByteOffset: at, as: UInt16.self)
                    p.storeBytes(of: pairs[Int(n & 0xFFF)].littleEndian, toByteOffset: at + 2, as: UInt16.self)
                    i += 3
                    at += 4
                }
                if i < input.count {  // the last one to three bytes
                    let rest = input.count - i
                    let n = UInt32(input[i]) << 16 | (rest > 1 ? UInt32(input[i + 1]) << 8 : 0) | (rest > 2 ? UInt32(input[i + 2]) : 0)
                    p.storeBytes(of: pairs[Int(n >> 12)].littleEndian, toByteOffset: at, as: UInt16.self)
                    p.storeBytes(of: pairs[Int(n & 0xFFF)].littleEndian, toByteOffset: at + 2, as: UInt16.self)
                    if rest < 3 { o[at + 3] = UInt8(ascii: "=") }
                    if rest < 2 { o[at + 2] = UInt8(ascii: "=") }
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
