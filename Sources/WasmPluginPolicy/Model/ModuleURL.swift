/// A WasmPlugin `url`, classified the way Go's net/url (used by the CRD's CEL rule, istiod's
/// webhook and pilot) would see it, so we can explain the cases Istio gets wrong:
/// `localhost:5000/img` parses with scheme "localhost"; `192.168.1.1:5000/x` is admitted and
/// then dropped by pilot; `/opt/x.wasm` becomes `oci:///opt/x.wasm`.
public struct ModuleURL: Sendable, Equatable {
    public enum Shape: Sendable, Equatable {
        /// `scheme:rest` with a syntactically valid scheme (any case).
        case scheme(String)
        /// `host:port/...` with no scheme: a registry reference that needs `oci://`.
        case registryHostPort
        /// `ghcr.io/x:1`: Istio prepends `oci://`.
        case noScheme
        /// `/opt/filters/x.wasm`: almost certainly meant as `file://`.
        case absolutePath
        case invalid(String)
    }

    public static let supportedSchemes = ["oci", "http", "https", "file"]

    public let raw: String
    public let shape: Shape

    public init(_ raw: String) {
        self.raw = raw
        self.shape = ModuleURL.classify(raw)
    }

    /// The scheme lowercased, or nil when there is none.
    public var scheme: String? {
        if case .scheme(let s) = shape { return s.lowercased() }
        return nil
    }

    /// What Istio will fetch: scheme-less references become `oci://`.
    public var effectiveScheme: String? {
        switch shape {
        case .scheme(let s): s.lowercased()
        case .noScheme, .registryHostPort: "oci"
        case .absolutePath, .invalid: nil
        }
    }

    /// The text after `scheme://` (or the whole string when there is no scheme).
    public var reference: Substring {
        if case .scheme(let s) = shape {
            let rest = raw.dropFirst(s.count + 1)
            return rest.hasPrefix("//") ? rest.dropFirst(2) : rest
        }
        return raw[...]
    }

    /// `host[:port]` of the url, without userinfo.
    public var authority: Substring {
        var a = reference.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = a.lastIndex(of: "@") { a = a[a.index(after: at)...] }
        return a
    }

    public var host: Substring {
        let a = authority
        if a.hasPrefix("[") { return a.prefix { $0 != "]" }.dropFirst() }
        return a.prefix { $0 != ":" }
    }

    /// The url with `oci://` added to a scheme-less registry reference and the scheme
    /// lowercased; nil when there is nothing to normalise.
    public var normalized: String? {
        switch shape {
        case .noScheme, .registryHostPort: "oci://" + raw
        case .scheme(let s) where s != s.lowercased(): s.lowercased() + raw.dropFirst(s.count)
        default: nil
        }
    }

    /// For OCI references: the repository path after the registry host, its tag and digest.
    public var ociParts: (repository: Substring, tag: Substring?, digest: Substring?)? {
        guard effectiveScheme == "oci" else { return nil }
        var ref = reference
        var digest: Substring?
        if let at = ref.firstIndex(of: "@") {
            digest = ref[ref.index(after: at)...]
            ref = ref[..<at]
        }
        let hostEnd = ref.firstIndex(of: "/") ?? ref.endIndex
        let path = ref[hostEnd...].drop { $0 == "/" }
        var repository = path
        var tag: Substring?
        let lastSlash = path.lastIndex(of: "/") ?? path.startIndex
        if let colon = path[lastSlash...].lastIndex(of: ":") {
            tag = path[path.index(after: colon)...]
            repository = path[..<colon]
        }
        return (repository, tag, digest)
    }

    /// The module's name: last path segment without tag, digest or `.wasm`
    /// (`.../basic_auth:1.12.0` → `basic_auth`), used for per-module defaults and rules.
    public var moduleName: String {
        var path = reference.prefix { $0 != "?" && $0 != "#" }
        if let at = path.firstIndex(of: "@") { path = path[..<at] }
        var last = path.split(separator: "/", omittingEmptySubsequences: true).last ?? ""
        if effectiveScheme == "oci", let colon = last.lastIndex(of: ":") { last = last[..<colon] }
        if last.hasSuffix(".wasm") { last = last.dropLast(5) }
        return String(last)
    }

    private static func isSchemeChar(_ c: Character, first: Bool) -> Bool {
        guard c.isASCII else { return false }
        if c.isLetter { return true }
        return !first && (c.isNumber || c == "+" || c == "-" || c == ".")
    }

    private static func classify(_ s: String) -> Shape {
        if s.isEmpty { return .invalid("is empty") }
        if s.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return .invalid("contains whitespace or control characters")
        }
        if let bad = invalidPercentEscape(s) { return .invalid(bad) }
        let delimiter = s.firstIndex { $0 == ":" || $0 == "/" || $0 == "?" || $0 == "#" }
        if let delimiter, s[delimiter] == ":", delimiter != s.startIndex {
            let prefix = s[..<delimiter]
            let after = s[s.index(after: delimiter)...]
            let port = after.prefix { $0.isASCII && $0.isNumber }
            let afterPort = after.dropFirst(port.count)
            if !port.isEmpty, afterPort.isEmpty || afterPort.first == "/" {
                return .registryHostPort
            }
            if isSchemeChar(prefix.first!, first: true), prefix.dropFirst().allSatisfy({ isSchemeChar($0, first: false) }) {
                return .scheme(String(prefix))
            }
            return .invalid("has a ':' in its first path segment and is not a url")
        }
        if s.hasPrefix("/") { return .absolutePath }
        if s.first == ":" || s.first == "?" || s.first == "#" { return .invalid("has no host or path") }
        return .noScheme
    }

    private static func invalidPercentEscape(_ s: String) -> String? {
        let utf8 = Array(s.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%") {
                guard i + 2 < utf8.count, isHex(utf8[i + 1]), isHex(utf8[i + 2]) else {
                    return "has an invalid %-escape"
                }
                i += 3
            } else {
                i += 1
            }
        }
        return nil
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }
}
