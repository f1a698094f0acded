import AdmissionKit

/// One entry of a basic_auth rule's `credentials`, classified by what the plugin does with
/// it (istio-ecosystem/wasm-extensions `basic_auth/plugin.cc` + `common/wasm/base64.h`):
/// a string containing ':' is stored as base64(user:pass); anything else must decode
/// with `decodeWithoutPadding` and is stored *as written*, then compared byte-for-byte
/// with the client's header. So only canonical padded base64 of `user:pass` can match.
public enum BasicAuthCredential: Equatable, Sendable {
    /// `user:pass` with a non-empty user: accepted; can be rewritten as base64.
    case plain(encoded: String)
    /// Canonical padded base64 of `user:pass`: exactly what clients send.
    case canonical
    /// Decodes to `user:pass` but is not the canonical encoding (missing or wrong `=`):
    /// the plugin accepts it and it can never match. `canonical` is the fix.
    case nonCanonical(canonical: String)
    /// Accepted by the plugin (or refused by it) but can never match a real client.
    case invalid(reason: String, pluginRefuses: Bool)

    public static func classify(_ value: String) -> BasicAuthCredential {
        if value.isEmpty {
            return .invalid(reason: "is empty", pluginRefuses: true)
        }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return .invalid(reason: "contains control characters", pluginRefuses: !value.contains(":"))
        }
        if let colon = value.firstIndex(of: ":") {
            if colon == value.startIndex {
                return .invalid(reason: "has an empty user name before ':'", pluginRefuses: false)
            }
            return .plain(encoded: Base64.encode(value.utf8))
        }
        guard let decoded = Base64.decodeLenient(value) else {
            return .invalid(
                reason: "is neither user:pass nor standard base64 of user:pass", pluginRefuses: true)
        }
        guard let text = String(validating: decoded, as: UTF8.self), let colon = text.firstIndex(of: ":"),
            colon != text.startIndex
        else {
            return .invalid(
                reason: "has no ':' and its base64 decoding is not user:pass (a forgotten ':'?); it can never match",
                pluginRefuses: false)
        }
        let canonical = Base64.encode(decoded)
        return canonical == value ? .canonical : .nonCanonical(canonical: canonical)
    }
}
