import AdmissionKit

/// One entry of a basic_auth rule's `credentials`, classified by what the plugin does with
/// it (istio-ecosystem/wasm-extensions `basic_auth/plugin.cc` + `common/wasm/base64.h`):
/// a string containing ':' is stored as base64(user:pass); anything else must decode
/// with `decodeWithoutPadding` and is stored *as written*, then compared byte-for-byte
/// with the client's header. So only canonical padded base64 of `user:pass` can match.
public enum BasicAuthCredential: Equatable, Sendable {
    /// `user:pass` with a non-empty user: accepted; can be rewritten as base64.
    case plain
    /// Canonical padded base64 of `user:pass`: exactly what clients send.
    case canonical
    /// Decodes to `user:pass` but is not the canonical encoding (missing or wrong `=`):
    /// the plugin accepts it and it can never match. `canonical` is the fix.
    case nonCanonical(canonical: String)
    /// Accepted by the plugin (or refused by it) but can never match a real client.
    case invalid(reason: String, pluginRefuses: Bool, hint: String)

    static let hint = "write user:pass or the standard padded base64 of user:pass"

    /// Runs once per credential, thousands per review in big configs: one pass over the
    /// bytes and a decode into stack memory; a String is built only for a finding.
    public static func classify(_ value: String) -> BasicAuthCredential {
        var value = value
        return value.withUTF8 { classify(bytes: $0) }
    }

    private static func classify(bytes: UnsafeBufferPointer<UInt8>) -> BasicAuthCredential {
        if bytes.isEmpty {
            return .invalid(reason: "is empty", pluginRefuses: true, hint: hint)
        }
        var colon: Int?
        for (position, b) in bytes.enumerated() {
            if b < 0x20 || b == 0x7F {
                return .invalid(reason: "contains control characters", pluginRefuses: !bytes.contains(UInt8(ascii: ":")), hint: hint)
            }
            if b == UInt8(ascii: ":"), colon == nil { colon = position }
        }
        if let colon {
            if colon == 0 {
                return .invalid(reason: "has an empty user name before ':'", pluginRefuses: false, hint: hint)
            }
            return .plain
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes.count * 3 / 4 + 1) { scratch in
            guard let n = Base64.decodeLenient(bytes, into: scratch) else {
                return .invalid(reason: "is neither user:pass nor standard base64 of user:pass", pluginRefuses: true, hint: hint)
            }
            let decoded = UnsafeBufferPointer(rebasing: scratch[0..<n])
            return judgeDecoded(decoded, encodedLength: bytes.count, padding: bytes.reversed().prefix(2).prefix { $0 == UInt8(ascii: "=") }.count)
        }
    }

    private static func judgeDecoded(_ decoded: UnsafeBufferPointer<UInt8>, encodedLength: Int, padding: Int) -> BasicAuthCredential {
        guard let decodedColon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
            return .invalid(
                reason: "has no ':' and its base64 decoding has none either (a forgotten ':'?); it can never match",
                pluginRefuses: false, hint: hint)
        }
        // What the plugin stores is compared byte for byte with what clients send: the
        // base64 of the UTF-8 `user:pass` they were given, never with a newline in it.
        if decoded.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return .invalid(
                reason: "decodes to user:pass with a control character (the newline `echo` adds?); it can never match",
                pluginRefuses: false, hint: "encode without the newline: printf %s 'user:pass' | base64")
        }
        if decoded.contains(where: { $0 >= 0x80 }), String(validating: decoded, as: UTF8.self) == nil {
            return .invalid(
                reason: "decodes to user:pass that is not UTF-8 (Latin-1?); clients send UTF-8, so it can never match",
                pluginRefuses: false, hint: "encode the UTF-8 bytes of user:pass, or write user:pass and let the webhook encode it")
        }
        if decodedColon == 0 {
            return .invalid(reason: "decodes to an empty user name before ':'", pluginRefuses: false, hint: hint)
        }
        // decodeLenient accepted the characters and trailing bits, so the string is the
        // canonical encoding exactly when its padding is the one the length calls for.
        let canonicalPadding = (3 - decoded.count % 3) % 3
        if padding == canonicalPadding, encodedLength % 4 == 0 { return .canonical }
        return .nonCanonical(canonical: Base64.encode(decoded))
    }
}
