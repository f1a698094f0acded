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
        /// `//host/path`: a network-path reference. Pilot parses it with host `host` and no
        /// scheme, so it fetches `oci://host/path`.
        case networkPath
        /// `/opt/filters/x.wasm`: almost certainly meant as `file://`.
        case absolutePath
        case invalid(String)
    }

    public static let supportedSchemes = ["oci", "http", "https", "file"]

    public let raw: String
    public let shape: Shape

    /// The parts every rule reads, worked out once (a review reads them dozens of times).
    public let reference: Substring
    public let authority: Substring
    public let host: Substring
    public let oci: OCIReference?
    public let moduleName: String

    public init(_ raw: String) {
        self.raw = raw
        let shape = ModuleURL.classify(raw)
        self.shape = shape
        reference = Self.reference(raw, shape)
        authority = Self.authority(reference)
        host = Self.host(authority)
        oci = Self.oci(reference, shape)
        moduleName = Self.moduleName(reference, isOCI: oci != nil)
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
        case .noScheme, .registryHostPort, .networkPath: "oci"
        case .absolutePath, .invalid: nil
        }
    }

    /// The text after `scheme://` (or the whole string when there is no scheme).
    private static func reference(_ raw: String, _ shape: Shape) -> Substring {
        if case .scheme(let s) = shape {
            let rest = raw.utf8.dropFirst(s.utf8.count + 1)
            let afterSlashes = rest.starts(with: "//".utf8) ? rest.dropFirst(2) : rest
            return raw[afterSlashes.startIndex...]
        }
        if shape == .networkPath { return raw.dropFirst(2) }
        return raw[...]
    }

    /// `host[:port]` of the url, without userinfo. (All scanning is on UTF-8 bytes:
    /// grapheme-level Character operations cost more than the rest of a review.)
    private static func authority(_ ref: Substring) -> Substring {
        var a = ref[..<(ref.utf8.firstIndex { $0 == slash || $0 == question || $0 == hash } ?? ref.endIndex)]
        if let at = a.utf8.lastIndex(of: UInt8(ascii: "@")) { a = a[a.utf8.index(after: at)...] }
        return a
    }

    private static func host(_ a: Substring) -> Substring {
        if a.utf8.first == UInt8(ascii: "[") {
            let end = a.utf8.firstIndex(of: UInt8(ascii: "]")) ?? a.endIndex
            return a[a.utf8.index(after: a.startIndex)..<end]
        }
        return a[..<(a.utf8.firstIndex(of: colon) ?? a.endIndex)]
    }

    /// The url with `oci://` added to a scheme-less registry reference and the scheme
    /// lowercased; nil when there is nothing to normalise.
    public var normalized: String? {
        switch shape {
        case .noScheme, .registryHostPort: "oci://" + raw
        case .networkPath: "oci:" + raw
        case .scheme(let s) where s != s.lowercased(): s.lowercased() + raw.dropFirst(s.count)
        default: nil
        }
    }

    /// An OCI reference split the way the agent's image fetcher splits it
    /// (go-containerregistry `name.ParseReference`, weak validation): `repo@digest`, a tag
    /// after the last ':' that is not followed by '/', and a registry only when the first
    /// path component has a '.' or ':' (otherwise the image is on Docker Hub).
    public struct OCIReference: Sendable, Equatable {
        /// nil: Docker Hub (`index.docker.io`).
        public var registry: Substring?
        public var repository: Substring
        public var tag: Substring?
        public var digest: Substring?

        /// What the fetcher resolves it to, e.g. `index.docker.io/library/test:latest`.
        public var resolved: String {
            let repo = registry == nil && !repository.contains("/") ? "library/" + repository : String(repository)
            var text = String(registry ?? "index.docker.io") + "/" + repo
            if let digest { text += "@" + digest } else { text += ":" + String(tag ?? "latest") }
            return text
        }
    }

    /// For OCI urls (written or implied): the reference the agent fetches.
    private static func oci(_ reference: Substring, _ shape: Shape) -> OCIReference? {
        switch shape {
        case .scheme(let s) where s.lowercased() == "oci": break
        case .noScheme, .registryHostPort, .networkPath: break
        default: return nil
        }
        var base = reference
        var digest: Substring?
        if let at = base.utf8.firstIndex(of: UInt8(ascii: "@")) {
            digest = base[base.utf8.index(after: at)...]
            base = base[..<at]
        }
        var tag: Substring?
        if let c = base.utf8.lastIndex(of: colon), !base[c...].utf8.contains(slash) {
            tag = base[base.utf8.index(after: c)...]
            base = base[..<c]
        }
        var registry: Substring?
        var repository = base
        if let s = base.utf8.firstIndex(of: slash) {
            let first = base[..<s]
            if first.utf8.contains(UInt8(ascii: ".")) || first.utf8.contains(colon) {
                registry = first
                repository = base[base.utf8.index(after: s)...]
            }
        }
        return OCIReference(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// The module's name: last path segment without tag, digest or `.wasm`
    /// (`.../basic_auth:1.12.0` → `basic_auth`), used for per-module defaults and rules.
    private static func moduleName(_ ref: Substring, isOCI: Bool) -> String {
        var path = ref[..<(ref.utf8.firstIndex { $0 == question || $0 == hash || $0 == UInt8(ascii: "@") } ?? ref.endIndex)]
        while path.utf8.last == slash { path = path.dropLast() }
        var last = path[(path.utf8.lastIndex(of: slash).map { path.utf8.index(after: $0) } ?? path.startIndex)...]
        if isOCI, let c = last.utf8.lastIndex(of: colon) { last = last[..<c] }
        if last.utf8.count > 5, last.utf8.suffix(5).elementsEqual(".wasm".utf8) { last = last.dropLast(5) }
        return String(last)
    }

    private static func isSchemeByte(_ c: UInt8, first: Bool) -> Bool {
        if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) { return true }
        return !first && ((c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: "."))
    }

    private static func classify(_ s: String) -> Shape {
        if s.isEmpty { return .invalid("is empty") }
        for b in s.utf8 where b <= 0x20 || b == 0x7F {
            return .invalid(b == 0x20 ? "contains whitespace" : "contains control characters")
        }
        if s.utf8.contains(where: { $0 >= 0x80 }),
            s.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        {
            return .invalid("contains whitespace or control characters")
        }
        if let bad = invalidPercentEscape(s) { return .invalid(bad) }
        let utf8 = s.utf8
        let delimiter = utf8.firstIndex { $0 == colon || $0 == slash || $0 == question || $0 == hash }
        if let delimiter, utf8[delimiter] == colon, delimiter != s.startIndex {
            let prefix = utf8[..<delimiter]
            let after = utf8[utf8.index(after: delimiter)...]
            let portLength = after.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
            let afterPort = after.dropFirst(portLength)
            if portLength > 0, afterPort.isEmpty || afterPort.first == slash {
                return .registryHostPort
            }
            if isSchemeByte(prefix.first!, first: true), prefix.dropFirst().allSatisfy({ isSchemeByte($0, first: false) }) {
                return .scheme(String(s[..<delimiter]))
            }
            return .invalid("has a ':' in its first path segment and is not a url")
        }
        if utf8.starts(with: "//".utf8) { return utf8.count > 2 && utf8.dropFirst(2).first != slash ? .networkPath : .absolutePath }
        if utf8.first == slash { return .absolutePath }
        if let first = utf8.first, first == colon || first == question || first == hash { return .invalid("has no host or path") }
        return .noScheme
    }

    private static func invalidPercentEscape(_ s: String) -> String? {
        var pending = 0  // hex digits still expected after a '%'
        for b in s.utf8 {
            if pending > 0 {
                guard isHex(b) else { return "has an invalid %-escape" }
                pending -= 1
            } else if b == UInt8(ascii: "%") {
                pending = 2
            }
        }
        return pending > 0 ? "has an invalid %-escape" : nil
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }
}

private let colon = UInt8(ascii: ":")
private let slash = UInt8(ascii: "/")
private let question = UInt8(ascii: "?")
private let hash = UInt8(ascii: "#")
