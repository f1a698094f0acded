import AdmissionKit

/// `url` and `sha256` (rules doc §2, §7, §8, §10.2–3; istiod `validateWasmPluginURL`,
/// `validateWasmPluginSHA`; pilot `extensions.go` builds the data source; the agent's
/// image fetcher parses OCI references with go-containerregistry `pkg/name`).
enum URLRules {
    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")
    static let url$ = FieldPath("spec", "url")
    static let sha$ = FieldPath("spec", "sha256")

    static func sha256(_ input: RuleInput) -> String { input.fields.sha256?.stringValue ?? "" }

    static func required(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let value = input.fields.url, !value.isNull else {
            r.report(.required(url$, "url must be set", hint: "e.g. oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"))
            return
        }
        if value.stringValue == "" { r.report(.required(url$, "url must not be empty", hint: "e.g. oci://ghcr.io/org/plugin:1.0.0")) }
    }

    /// What stops Go's url parser (CRD CEL, istiod, pilot) or leaves Istio nothing to fetch.
    static func syntaxProblem(_ url: ModuleURL) -> (detail: FindingText, hint: FindingText)? {
        let raw = url.raw
        switch url.shape {
        case .invalid(let why):
            if raw.isEmpty { return nil }  // url-required
            return ("url \(why)", "write oci://REGISTRY/REPO:TAG, https://HOST/PATH.wasm or file:///PATH.wasm")
        case .registryHostPort:
            return (
                "registry host:port without a scheme is not a valid url (Istio reads the host as the scheme, or drops the plugin)",
                "write oci://\(abbreviated(raw)) (the mutating webhook adds it)"
            )
        case .scheme(let written):
            let scheme = url.scheme ?? written.lowercased()
            guard ModuleURL.supportedSchemes.contains(scheme) else { return nil }  // url-scheme-supported
            guard url.hasSlashesAfterScheme else {
                return ("url must be \(scheme)://…", "write \(scheme)://\(abbreviated(String(raw.dropFirst(written.count + 1))))")
            }
            if scheme == "file" {
                return url.reference.isEmpty ? ("file url has no path", "write file:///PATH/TO/plugin.wasm") : nil
            }
            return hostProblem(url, scheme: scheme)
        case .networkPath:
            return hostProblem(url, scheme: "oci")
        case .noScheme, .absolutePath:
            return nil
        }
    }

    /// Go's url.Parse refuses a non-numeric port, and pilot then drops the plugin.
    private static func hostProblem(_ url: ModuleURL, scheme: String) -> (detail: FindingText, hint: FindingText)? {
        if url.host.isEmpty { return ("url has no host", "write \(scheme)://HOST/PATH") }
        let authority = url.authority
        // On the bytes first: most urls have no port, and Substring.UTF8View searches are generic.
        guard authority.withBytes({ $0.first != UInt8(ascii: "[") && $0.contains(UInt8(ascii: ":")) }),
            let colon = authority.utf8.firstIndex(of: UInt8(ascii: ":"))
        else { return nil }
        let port = authority[authority.utf8.index(after: colon)...]
        guard !port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let host = url.host
        let hint: FindingText =
            scheme == "oci" && !url.reference.contains("/")
            ? "an image needs its registry: write oci://docker.io/library/\(abbreviated(String(url.reference))) for Docker Hub, or oci://REGISTRY/\(abbreviated(String(url.reference)))"
            : "write \(scheme)://\(host)/PATH, with a port only as digits"
        return (
            "\(quoted: ":" + String(port.prefix(40))) after host \(quoted: String(host.prefix(63))) is read as a port, which Istio cannot parse, so the plugin is dropped",
            hint
        )
    }

    static func syntax(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let problem = input.urlSyntaxProblem else { return }
        r.report(url$, problem.detail, hint: problem.hint)
    }

    /// istiod: "url contains unsupported scheme"; pilot strips only a lowercase `file://`.
    static func schemeProblem(_ url: ModuleURL) -> (detail: FindingText, hint: FindingText, kind: FieldError.Kind)? {
        // `url.scheme` is `written` lowercased, set whenever the shape is `.scheme`.
        guard case .scheme(let written) = url.shape, let scheme = url.scheme else { return nil }
        guard ModuleURL.supportedSchemes.contains(scheme) else {
            let rest = url.raw.utf8.dropFirst(written.utf8.count + 1)
            // `name:tag` reads as scheme `name`: Go's parser (and so Istio) sees a url.
            let hint: FindingText =
                rest.isEmpty || rest.starts(with: "//".utf8)
                ? "use oci://, https://, http:// or file://"
                : "\(written): reads as a url scheme; for an image write oci://REGISTRY/\(abbreviated(url.raw)), e.g. oci://docker.io/library/\(abbreviated(url.raw)) on Docker Hub"
            // A scheme is ASCII: 32 bytes are 32 characters.
            return ("unsupported url scheme \(quoted: written.utf8.count > 32 ? String(written.prefix(32)) : written)", hint, .notSupported)
        }
        if written != scheme, scheme == "file" {
            return ("scheme must be lowercase: Istio strips only a lowercase file:// prefix", "write file://", .invalid)
        }
        return nil
    }

    static func schemeSupported(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let problem = input.urlSchemeProblem else { return }
        r.report(FieldError(problem.kind, url$, problem.detail, hint: problem.hint))
    }

    /// No scheme: pilot makes it `oci://…` (a bare name is a Docker Hub image).
    static func schemeMissing(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.judgedURL, url.shape == .noScheme || url.shape == .networkPath, let oci = url.oci else { return }
        let fetched = url.normalized ?? url.raw
        let where_ = oci.registry == nil ? ", which is \(oci.resolved)" : ""
        r.report(url$, "url has no scheme; Istio fetches \(abbreviated(fetched))\(where_) (the mutating webhook adds oci:)")
    }

    static func schemeCase(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.judgedURL, case .scheme(let written) = url.shape, written != written.lowercased() else { return }
        r.report(url$, "scheme \(written) should be lowercase (the mutating webhook lowercases it)")
    }

    static func absolutePath(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.url, url.shape == .absolutePath else { return }
        let path = "/" + url.raw.drop { $0 == "/" }
        r.report(url$, "a path without a scheme is fetched as an OCI image; write file://\(abbreviated(path)) for a local file")
    }

    /// Pilot hands Envoy `strings.TrimPrefix(url, "file://")`: only `file:///abs` is absolute.
    static func filePath(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.judgedURL, url.effectiveScheme == "file", url.reference.utf8.first != UInt8(ascii: "/") else { return }
        let path = url.reference
        r.report(
            url$, "Envoy gets the relative path \(quoted: abbreviated(String(path))) (Istio strips only file://)",
            hint: "write file:///\(abbreviated(String(path))) for an absolute path (three slashes; file:// takes no host)")
    }

    /// go-containerregistry `name`: repository of [a-z0-9_./-], 2..255; tag of
    /// [A-Za-z0-9_.-], 1..127; digest `sha256:` + 64 lowercase hex.
    static func ociReference(_ input: RuleInput, _ r: inout ValidationResult) {
        // `input.oci` is set only when the reference has no problem: nothing to report.
        guard input.oci == nil, let oci = input.judgedURL?.oci else { return }
        for problem in referenceProblems(oci) { r.report(url$, problem.detail, hint: problem.hint) }
    }

    static func referenceProblems(_ oci: ModuleURL.OCIReference) -> [(detail: FindingText, hint: FindingText)] {
        var problems: [(detail: FindingText, hint: FindingText)] = []
        let repository = oci.repository
        // `oci://ghcr.io` is the Docker Hub repository library/ghcr.io to the agent: meant
        // as a registry, it names no repository.
        if repository.isEmpty || (oci.registry == nil && !repository.withBytes({ $0.contains(slash) }) && repository.withBytes({ $0.contains(dot) })) {
            problems.append(("OCI url names no repository", "write oci://REGISTRY/REPOSITORY:TAG"))
        } else if repository.utf8.count < 2 || repository.utf8.count > 255 {
            problems.append(("repository \(quoted: abbreviated(String(repository))) must be 2 to 255 characters; the agent cannot parse it", "name the image's full repository"))
        } else if let bad = repository.withBytes({ $0.first(where: { !isRepositoryByte($0) }) }) {
            let upper = bad >= 0x41 && bad <= 0x5A
            let what: FindingText = upper ? "upper-case letters" : bad >= 0x80 ? "non-ASCII characters" : "the character \(quoted: String(UnicodeScalar(bad)))"
            problems.append((
                "repository \(quoted: abbreviated(String(repository))) has \(what); the agent cannot parse it and the plugin never loads",
                upper ? "OCI repositories are lowercase: write \(abbreviated(repository.lowercased()))" : "use a-z, 0-9, '.', '_', '-' and '/'"
            ))
        }
        if let tag = oci.tag, tag.isEmpty || tag.utf8.count > 127 || !tag.withBytes({ $0.allSatisfy(isTagByte) }) {
            let plus = tag.contains("+") ? " ('+' is not allowed in a tag; registries write it as '_')" : ""
            problems.append(("tag \(quoted: abbreviated(String(tag))) is not a valid OCI tag\(plus); the agent cannot parse it", "a tag is 1-127 of A-Z, a-z, 0-9, '_', '.', '-'"))
        }
        if let digest = oci.digest, !isSHA256Hex(digest.hasPrefix("sha256:") ? digest.dropFirst(7) : "") {
            problems.append(("image digest must be sha256: followed by 64 lowercase hex digits", "copy the digest from the registry"))
        }
        return problems
    }

    /// Docker Hub by default is legal and works; say so, so nobody is surprised.
    static func ociImplicitRegistry(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.judgedURL, let oci = input.oci, oci.registry == nil,
            url.shape != .noScheme  // url-scheme-missing says it already
        else { return }
        r.report(url$, "names no registry, so it is \(oci.resolved) on Docker Hub", hint: "write oci://docker.io/\(oci.resolved.dropFirst("index.docker.io/".count)) if that is meant")
    }

    /// Pinned by a version tag, a digest, or `sha256` (the agent checks the manifest digest).
    static func ociTag(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let oci = input.oci, oci.digest == nil, sha256(input).isEmpty else { return }
        if oci.tag == nil {
            r.report(url$, "image has no tag, so it is the moving 'latest'; pin a version tag or a digest")
        } else if oci.tag == "latest" {
            r.report(url$, "image tag :latest moves; pin a version tag or a digest")
        }
    }

    static func insecureHTTP(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.judgedURL, url.effectiveScheme == "http" else { return }
        r.report(FieldError(.forbidden, url$, "http:// downloads the module without TLS", hint: "use https:// and set sha256, or oci://"))
    }

    /// Registry allow-list: matched against what Istio fetches (`//host/x` and scheme-less
    /// references are OCI), so no spelling of a url gets around it.
    static func allowedRegistry(_ input: RuleInput, _ r: inout ValidationResult) {
        let allowedRegistries = input.settings.allowedRegistries
        guard !allowedRegistries.isEmpty, let url = input.url, url.effectiveScheme != nil, !url.raw.isEmpty else { return }
        let full = url.normalized ?? url.raw
        let withoutScheme = String(ModuleURL(full).reference)
        let allowed = allowedRegistries.contains { prefix in
            prefix.contains("://") ? full.hasPrefix(prefix) : withoutScheme.hasPrefix(prefix)
        }
        guard !allowed else { return }
        r.report(
            FieldError(
                .forbidden, url$, "url is not from an allowed registry",
                hint: "use a url starting with one of: \(allowedRegistries.joined(separator: ", "))"))
    }

    /// Empty, or exactly 64 lowercase hex digits (the CRD pattern; istiod's two messages).
    static func sha256Format(_ input: RuleInput, _ r: inout ValidationResult) {
        let sha = sha256(input)
        if sha.isEmpty { return }
        if sha.utf8.count != 64 {
            r.report(sha$, "must be 64 hex characters, not \(sha.utf8.count)", hint: "use the module's full sha256 checksum")
        } else if !isSHA256Hex(sha[...]) {
            let hint: FindingText = isSHA256Hex(sha.lowercased()[...]) ? "write it in lowercase" : "use only the characters 0-9 and a-f"
            r.report(sha$, "must match [a-f0-9]{64}", hint: hint)
        }
    }

    /// The agent compares sha256 with the manifest digest: both set and different fails
    /// every fetch (`module downloaded from … has checksum …, which does not match`).
    static func sha256DigestMismatch(_ input: RuleInput, _ r: inout ValidationResult) {
        let sha = sha256(input)
        guard !sha.isEmpty, let digest = input.judgedURL?.oci?.digest, digest.hasPrefix("sha256:") else { return }
        let hex = digest.dropFirst(7)
        guard isSHA256Hex(hex), sha != String(hex) else { return }
        r.report(sha$, "does not match the @sha256 digest in url; the fetch would fail at runtime", hint: "remove sha256 or make it equal to the url's digest")
    }

    static func sha256Missing(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let scheme = input.judgedURL?.effectiveScheme, scheme == "http" || scheme == "https", sha256(input).isEmpty,
            input.settings.verdict(for: WasmPluginRules.byID["digest-required"]!) == .off  // else that rule says it
        else { return }
        r.report(sha$, "not set: the downloaded module is not verified; set sha256")
    }

    static func digestRequired(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let url = input.judgedURL, sha256(input).isEmpty else { return }
        switch url.effectiveScheme {
        case "oci" where url.oci?.digest == nil:
            r.report(FieldError(.required, url$, "this cluster's policy requires a pinned image", hint: "append @sha256:DIGEST to the url or set sha256"))
        case "http", "https":
            r.report(FieldError(.required, sha$, "this cluster's policy requires sha256 for http(s) modules", hint: "set sha256 to the module's checksum"))
        default: break
        }
    }

    /// Pilot builds a local data source for file://: no checksum, no pull.
    static func fileIgnoredFields(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.judgedURL?.effectiveScheme == "file" else { return }
        if !sha256(input).isEmpty { r.report(sha$, "is ignored for file:// urls") }
        for field in [SpecFields.Field.imagePullPolicy, .imagePullSecret] where input.fields[field].map({ !$0.isNull }) ?? false {
            r.report(FieldPath("spec", field.rawValue), "is ignored for file:// urls")
        }
    }

    static func isRepositoryByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "/")
    }

    static func isTagByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    static func isSHA256Hex(_ s: Substring) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func abbreviated(_ s: String) -> String {
        // At most 80 bytes is at most 80 characters; counting Characters walks grapheme
        // breaks (~1,500 instructions for a url), so only longer text is counted.
        guard s.utf8.count > 80, s.count > 80 else { return s }
        return String(s.prefix(80)) + "…"
    }
}
