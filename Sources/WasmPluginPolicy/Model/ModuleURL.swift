/// A WasmPlugin `url`, classified the way Go's net/url (used by the CRD's CEL rule, istiod's
/// webhook and pilot) would see it, so we can explain the cases Istio gets wrong:
/// `localhost:5000/img` parses with scheme "localhost"; `192.168.1.1:5000/x` is admitted and
/// then dropped by pilot; `/opt/x.wasm` becomes `oci:///opt/x.wasm`.
///
/// A class: its parts are a dozen Substrings, each holding a reference to the text, and
/// every rule that read `input.url` as a struct retained and released all of them (a few
/// percent of the server's CPU under load went to copying urls).
public final class ModuleURL: Sendable, Equatable {
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

    /// The parts every rule reads, worked out once from the bytes (a review reads them
    /// dozens of times; Substring index arithmetic made this a fifth of a validation).
    public let reference: Substring
    public let authority: Substring
    public let host: Substring
    public let oci: OCIReference?
    public let moduleName: String
    /// The scheme lowercased, or nil when there is none.
    public let scheme: String?
    /// `scheme://`, not just `scheme:`.
    public let hasSlashesAfterScheme: Bool
    /// What Istio will fetch: scheme-less references become `oci://`.
    public let effectiveScheme: String?

    public init(_ raw: String) {
        var contiguous = raw
        contiguous.makeContiguousUTF8()
        let raw = contiguous
        self.raw = raw
        let shape = ModuleURL.classify(raw)
        self.shape = shape
        var scheme: String?
        if case .scheme(let s) = shape { scheme = s.lowercased() }
        self.scheme = scheme
        let effective: String? =
            switch shape {
            case .scheme: scheme
            case .noScheme, .registryHostPort, .networkPath: "oci"
            case .absolutePath, .invalid: nil
            }
        effectiveScheme = effective
        // Byte offsets into `raw`, made Substrings at the end.
        let parts = raw.utf8.withContiguousStorageIfAvailable { bytes in
            Self.parts(bytes, shape: shape, isOCI: effective == "oci")
        }!
        // Offsets are at ASCII delimiters or the ends: always character boundaries, so the
        // UTF-8 view's slices are the Substrings (a String subscript re-aligns each index).
        let u = raw.utf8
        func sub(_ r: Range<Int>) -> Substring {
            Substring(u[u.index(u.startIndex, offsetBy: r.lowerBound)..<u.index(u.startIndex, offsetBy: r.upperBound)])
        }
        reference = sub(parts.reference)
        authority = sub(parts.authority)
        host = sub(parts.host)
        oci = parts.oci.map { o in
            OCIReference(registry: o.registry.map(sub), repository: sub(o.repository), tag: o.tag.map(sub), digest: o.digest.map(sub))
        }
        moduleName = String(sub(parts.module))
        hasSlashesAfterScheme = parts.slashesAfterScheme
    }

    private struct Parts {
        typealias OCI = (registry: Range<Int>?, repository: Range<Int>, tag: Range<Int>?, digest: Range<Int>?)
        var reference: Range<Int>
        var authority: Range<Int>
        var host: Range<Int>
        var oci: OCI?
        var module: Range<Int>
        var slashesAfterScheme: Bool
    }

    private static func parts(_ b: UnsafeBufferPointer<UInt8>, shape: Shape, isOCI: Bool) -> Parts {
        func first(_ r: Range<Int>, _ match: (UInt8) -> Bool) -> Int? {
            var i = r.lowerBound
            while i < r.upperBound {
                if match(b[i]) { return i }
                i += 1
            }
            return nil
        }
        func last(_ r: Range<Int>, _ match: (UInt8) -> Bool) -> Int? {
            var i = r.upperBound
            while i > r.lowerBound {
                i -= 1
                if match(b[i]) { return i }
            }
            return nil
        }
        // The text after `scheme://` (or after `//`, or all of it).
        var refStart = 0
        var slashesAfterScheme = false
        switch shape {
        case .scheme(let s):
            refStart = s.utf8.count + 1
            if refStart + 1 < b.count, b[refStart] == slash, b[refStart + 1] == slash {
                refStart += 2
                slashesAfterScheme = true
            }
        case .networkPath: refStart = 2
        default: break
        }
        let reference = refStart..<b.count
        // `host[:port]`, without userinfo.
        var authority = refStart..<(first(reference) { $0 == slash || $0 == question || $0 == hash } ?? b.count)
        if let at = last(authority, { $0 == UInt8(ascii: "@") }) { authority = (at + 1)..<authority.upperBound }
        var host = authority
        if let open = authority.first, b[open] == UInt8(ascii: "[") {
            host = (open + 1)..<(first(authority) { $0 == UInt8(ascii: "]") } ?? authority.upperBound)
        } else if let c = first(authority, { $0 == colon }) {
            host = authority.lowerBound..<c
        }
        // The OCI reference as the agent splits it.
        var oci: Parts.OCI?
        if isOCI {
            var base = reference
            var digest: Range<Int>?
            if let at = first(base, { $0 == UInt8(ascii: "@") }) {
                digest = (at + 1)..<base.upperBound
                base = base.lowerBound..<at
            }
            var tag: Range<Int>?
            if let c = last(base, { $0 == colon }), first(c..<base.upperBound, { $0 == slash }) == nil {
                tag = (c + 1)..<base.upperBound
                base = base.lowerBound..<c
            }
            var registry: Range<Int>?
            var repository = base
            if let s = first(base, { $0 == slash }), first(base.lowerBound..<s, { $0 == UInt8(ascii: ".") || $0 == colon }) != nil {
                registry = base.lowerBound..<s
                repository = (s + 1)..<base.upperBound
            }
            oci = (registry, repository, tag, digest)
        }
        // The module's name: last path segment without tag, digest or `.wasm`
        // (`.../basic_auth:1.12.0` → `basic_auth`), for per-module defaults and rules.
        var path = refStart..<(first(reference) { $0 == question || $0 == hash || $0 == UInt8(ascii: "@") } ?? b.count)
        while let end = path.last, b[end] == slash { path = path.lowerBound..<end }
        var module = (last(path, { $0 == slash }).map { $0 + 1 } ?? path.lowerBound)..<path.upperBound
        if isOCI, let c = last(module, { $0 == colon }) { module = module.lowerBound..<c }
        if module.count > 5, b[(module.upperBound - 5)..<module.upperBound].elementsEqual(".wasm".utf8) {
            module = module.lowerBound..<(module.upperBound - 5)
        }
        return Parts(reference: reference, authority: authority, host: host, oci: oci, module: module, slashesAfterScheme: slashesAfterScheme)
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

    public static func == (a: ModuleURL, b: ModuleURL) -> Bool {
        a.raw == b.raw && a.shape == b.shape && a.reference == b.reference && a.authority == b.authority && a.host == b.host
            && a.oci == b.oci && a.moduleName == b.moduleName && a.scheme == b.scheme && a.effectiveScheme == b.effectiveScheme
            && a.hasSlashesAfterScheme == b.hasSlashesAfterScheme
    }

    /// `ModuleURL(normalized)`, without parsing it again: normalising only adds or
    /// lowercases the scheme, so every part after it is the same text.
    public var normalizedURL: ModuleURL? {
        guard let text = normalized else { return nil }
        let scheme = effectiveScheme ?? "oci"
        return ModuleURL(normalizedRaw: text, scheme: scheme, from: self)
    }

    private init(normalizedRaw raw: String, scheme: String, from original: ModuleURL) {
        self.raw = raw
        shape = .scheme(scheme)
        self.scheme = scheme
        effectiveScheme = scheme
        reference = original.reference
        authority = original.authority
        host = original.host
        oci = original.oci
        moduleName = original.moduleName
        // `oci://` is added to scheme-less urls, `oci:` to `//host/…`; a lowercased scheme keeps what followed it.
        if case .scheme = original.shape { hasSlashesAfterScheme = original.hasSlashesAfterScheme } else { hasSlashesAfterScheme = true }
    }

    /// An OCI reference split the way the agent's image fetcher splits it
    /// (go-containerregistry `name.ParseReference`, weak validation): `repo@digest`, a tag
    /// after the last ':' that is not followed by '/', and a registry only when the first
    /// path component has a '.' or ':' (otherwise the image is on Docker Hub).
    public final class OCIReference: Sendable, Equatable {
        /// nil: Docker Hub (`index.docker.io`).
        public let registry: Substring?
        public let repository: Substring
        public let tag: Substring?
        public let digest: Substring?

        init(registry: Substring?, repository: Substring, tag: Substring?, digest: Substring?) {
            self.registry = registry
            self.repository = repository
            self.tag = tag
            self.digest = digest
        }

        public static func == (a: OCIReference, b: OCIReference) -> Bool {
            a.registry == b.registry && a.repository == b.repository && a.tag == b.tag && a.digest == b.digest
        }

        /// What the fetcher resolves it to, e.g. `index.docker.io/library/test:latest`.
        public var resolved: String {
            let repo = registry == nil && !repository.contains("/") ? "library/" + repository : String(repository)
            var text = String(registry ?? "index.docker.io") + "/" + repo
            if let digest { text += "@" + digest } else { text += ":" + String(tag ?? "latest") }
            return text
        }
    }

    private static func isSchemeByte(_ c: UInt8, first: Bool) -> Bool {
        if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) { return true }
        return !first && ((c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: "."))
    }

    /// On the bytes: as String.UTF8View slices this cost 8,000 instructions a url.
    private static func classify(_ s: String) -> Shape {
        var contiguous = s
        return contiguous.withUTF8 { classify(bytes: $0, s) }
    }

    private static func classify(bytes b: UnsafeBufferPointer<UInt8>, _ s: String) -> Shape {
        if b.isEmpty { return .invalid("is empty") }
        var nonASCII = false
        var pending = 0  // hex digits still expected after a '%'
        var badEscape = false
        // Byte by byte only when a byte needs it: a url is nearly always printable ASCII
        // without escapes, and the loop below cost ~10 instructions a byte.
        if hasSpecialBytes(b) {
            for byte in b {
                if byte <= 0x20 || byte == 0x7F { return .invalid(byte == 0x20 ? "contains whitespace" : "contains control characters") }
                if byte >= 0x80 { nonASCII = true }
                if pending > 0 {
                    if !isHex(byte) { badEscape = true }
                    pending -= 1
                } else if byte == UInt8(ascii: "%") {
                    pending = 2
                }
            }
        }
        if nonASCII, s.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            return .invalid("contains whitespace or control characters")
        }
        if badEscape || pending > 0 { return .invalid("has an invalid %-escape") }
        var delimiter = 0
        while delimiter < b.count, b[delimiter] != colon, b[delimiter] != slash, b[delimiter] != question, b[delimiter] != hash { delimiter += 1 }
        if delimiter < b.count, b[delimiter] == colon, delimiter > 0 {
            var afterPort = delimiter + 1
            while afterPort < b.count, b[afterPort] >= 0x30, b[afterPort] <= 0x39 { afterPort += 1 }
            if afterPort > delimiter + 1, afterPort == b.count || b[afterPort] == slash {
                return .registryHostPort
            }
            if isSchemeByte(b[0], first: true), (1..<delimiter).allSatisfy({ isSchemeByte(b[$0], first: false) }) {
                return .scheme(String(decoding: UnsafeBufferPointer(rebasing: b[0..<delimiter]), as: UTF8.self))
            }
            return .invalid("has a ':' in its first path segment and is not a url")
        }
        if b.count >= 2, b[0] == slash, b[1] == slash { return b.count > 2 && b[2] != slash ? .networkPath : .absolutePath }
        if b[0] == slash { return .absolutePath }
        if b[0] == colon || b[0] == question || b[0] == hash { return .invalid("has no host or path") }
        return .noScheme
    }

    /// Whether any byte is whitespace or a control (<= 0x20, 0x7F), non-ASCII or '%':
    /// the bytes `classify` looks at one by one. Sixteen at a time, the last block read
    /// back from the end (bytes already checked count again, harmlessly), never past it;
    /// a url under 16 bytes byte by byte.
    static func hasSpecialBytes(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return false }
        let count = b.count
        if count >= 16 {
            var i = 0
            while i + 16 <= count {
                if special16(base + i) { return true }
                i += 16
            }
            return i < count && special16(base + count - 16)
        }
        var i = 0
        while i < count {
            let byte = base[i]
            if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "%") { return true }
            i += 1
        }
        return false
    }

    @inline(__always)
    private static func special16(_ p: UnsafePointer<UInt8>) -> Bool {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self)
        // As JSONParser.specialBytes16: masks cast to bytes and OR-ed as two words (`any`
        // on the masks cost a review ~1,800 instructions more than the byte loop).
        // 0x7F and every byte from 0x80: at least 0x7F, unsigned.
        let low = unsafeBitCast(v .< SIMD16<UInt8>(repeating: 0x21), to: SIMD16<UInt8>.self)
        let high = unsafeBitCast(v .> SIMD16<UInt8>(repeating: 0x7E), to: SIMD16<UInt8>.self)
        let percent = unsafeBitCast(v .== SIMD16<UInt8>(repeating: 0x25), to: SIMD16<UInt8>.self)
        let words = unsafeBitCast(low | high | percent, to: (UInt64, UInt64).self)
        return words.0 | words.1 != 0
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }
}

private let colon = UInt8(ascii: ":")
private let slash = UInt8(ascii: "/")
private let question = UInt8(ascii: "?")
private let hash = UInt8(ascii: "#")

extension Substring {
    /// `body` over the UTF-8 bytes in place: walking a Substring's UTF8View costs tens of
    /// instructions a byte, and rules scan url parts on every review.
    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var copy = self
        return copy.withUTF8(body)
    }
}
