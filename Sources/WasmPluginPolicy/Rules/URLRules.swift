import AdmissionKit

/// `url` and `sha256` (rules doc §2, §7, §8, §10.2–3).
enum URLRules {
    /// `url` is `spec.url` already parsed, when it is a string.
    static func check(_ spec: JSONObject, url parsed: ModuleURL?, settings: PolicySettings, into r: inout ValidationResult) {
        let urlPath = FieldPath("spec", "url")
        let sha = checkSHA256(spec["sha256"], into: &r)
        guard let value = spec["url"], !value.isNull else {
            r.error(.required(urlPath, "url must be set", hint: "e.g. oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0"))
            return
        }
        guard let raw = r.string(value, at: urlPath) else { return }
        let url = parsed ?? ModuleURL(raw)
        switch url.shape {
        case .invalid(let why):
            if raw.isEmpty {
                r.error(.required(urlPath, "url must not be empty", hint: "e.g. oci://ghcr.io/org/plugin:1.0.0"))
            } else {
                r.error(.invalid(urlPath, "url \(why)", hint: "write oci://REGISTRY/REPO:TAG, https://HOST/PATH.wasm or file:///PATH.wasm"))
            }
            return
        case .registryHostPort:
            r.error(
                .invalid(
                    urlPath, "registry host:port without a scheme is not a valid url (Istio reads the host as the scheme, or drops the plugin)",
                    hint: "write oci://\(abbreviated(raw)) (the mutating webhook adds it)"))
            return
        case .absolutePath:
            r.warn(urlPath, "a path without a scheme is fetched as an OCI image; write file://\(abbreviated(raw)) for a local file")
            return
        case .noScheme:
            r.warn(urlPath, "url has no scheme; Istio assumes oci:// (the mutating webhook adds it)")
        case .scheme(let written):
            let scheme = written.lowercased()
            guard ModuleURL.supportedSchemes.contains(scheme) else {
                r.error(
                    FieldError(
                        .notSupported, urlPath, "unsupported url scheme \(JSON.string(String(written.prefix(32))).compactText)",
                        hint: "use oci://, https://, http:// or file://"))
                return
            }
            if written != scheme {
                if scheme == "file" {
                    r.error(.invalid(urlPath, "scheme must be lowercase: Istio strips only a lowercase file:// prefix", hint: "write file://"))
                } else {
                    r.warn(urlPath, "scheme \(written) should be lowercase (the mutating webhook lowercases it)")
                }
            }
            guard raw.dropFirst(written.count + 1).hasPrefix("//") else {
                r.error(.invalid(urlPath, "url must be \(scheme)://…", hint: "write \(scheme)://\(abbreviated(String(raw.dropFirst(written.count + 1))))"))
                return
            }
            if scheme != "file", url.host.isEmpty {
                r.error(.invalid(urlPath, "url has no host", hint: "write \(scheme)://HOST/PATH"))
                return
            }
            if scheme == "file", url.reference.isEmpty {
                r.error(.invalid(urlPath, "file url has no path", hint: "write file:///PATH/TO/plugin.wasm"))
            }
        }
        let scheme = url.effectiveScheme ?? ""
        if scheme == "http" {
            switch settings.insecureHTTP {
            case .allow: break
            case .warn: r.warn(urlPath, "http:// downloads the module without TLS; use https:// and set sha256")
            case .deny:
                r.error(FieldError(.forbidden, urlPath, "http:// is not allowed by this cluster's policy", hint: "use https:// or oci://"))
            }
        }
        checkRegistry(url, settings: settings, at: urlPath, into: &r)
        checkImage(url, sha: sha, spec: spec, settings: settings, into: &r)
    }

    static func checkRegistry(_ url: ModuleURL, settings: PolicySettings, at path: FieldPath, into r: inout ValidationResult) {
        guard !settings.allowedRegistries.isEmpty else { return }
        let full = url.normalized ?? url.raw
        let withoutScheme = String(url.reference)
        let allowed = settings.allowedRegistries.contains { prefix in
            prefix.contains("://") ? full.hasPrefix(prefix) : withoutScheme.hasPrefix(prefix)
        }
        if !allowed {
            r.error(
                FieldError(
                    .forbidden, path, "url is not from an allowed registry",
                    hint: "use a url starting with one of: \(settings.allowedRegistries.joined(separator: ", "))"))
        }
    }

    /// Digest/sha256 agreement, tags, and what `file://` ignores.
    static func checkImage(_ url: ModuleURL, sha: String?, spec: JSONObject, settings: PolicySettings, into r: inout ValidationResult) {
        let urlPath = FieldPath("spec", "url")
        let shaPath = FieldPath("spec", "sha256")
        let hasSHA = !(sha ?? "").isEmpty
        switch url.effectiveScheme {
        case "oci":
            guard let parts = url.ociParts else { return }
            if parts.repository.isEmpty {
                r.error(.invalid(urlPath, "OCI url names no repository", hint: "write oci://REGISTRY/REPOSITORY:TAG"))
            }
            if let digest = parts.digest {
                let hex = digest.hasPrefix("sha256:") ? digest.dropFirst(7) : ""
                if !isSHA256Hex(hex) {
                    r.error(.invalid(urlPath, "image digest must be sha256: followed by 64 lowercase hex digits"))
                } else if let sha, !sha.isEmpty, sha != String(hex) {
                    r.error(
                        .invalid(
                            shaPath, "does not match the @sha256 digest in url; the fetch would fail at runtime",
                            hint: "remove sha256 or make it equal to the url's digest"))
                }
            } else if parts.tag == nil {
                r.warn(urlPath, "image has no tag, so it is the moving 'latest'; pin a version tag or a digest")
            } else if parts.tag == "latest" {
                r.warn(urlPath, "image tag :latest moves; pin a version tag or a digest")
            }
            if settings.requireDigest, parts.digest == nil, !hasSHA {
                r.error(
                    FieldError(
                        .required, urlPath, "this cluster's policy requires a pinned image",
                        hint: "append @sha256:DIGEST to the url or set sha256"))
            }
        case "http", "https":
            if !hasSHA {
                if settings.requireDigest {
                    r.error(.required(shaPath, "this cluster's policy requires sha256 for http(s) modules", hint: "set sha256 to the module's checksum"))
                } else {
                    r.warn(shaPath, "not set: the downloaded module is not verified; set sha256")
                }
            }
        case "file":
            if hasSHA { r.warn(shaPath, "is ignored for file:// urls") }
            for key in ["imagePullPolicy", "imagePullSecret"] where spec[key].map({ !$0.isNull }) ?? false {
                r.warn(FieldPath("spec", key), "is ignored for file:// urls")
            }
        default: break
        }
    }

    /// Empty, or exactly 64 lowercase hex digits (the CRD pattern). Returns the value.
    static func checkSHA256(_ value: JSON?, into r: inout ValidationResult) -> String? {
        let path = FieldPath("spec", "sha256")
        guard let sha = r.string(value, at: path) else { return nil }
        if sha.isEmpty { return sha }
        if sha.count != 64 {
            r.error(.invalid(path, "must be 64 hex characters, not \(sha.count)", hint: "use the module's full sha256 checksum"))
        } else if !isSHA256Hex(sha[...]) {
            let hint = isSHA256Hex(sha.lowercased()[...]) ? "write it in lowercase" : "use only the characters 0-9 and a-f"
            r.error(.invalid(path, "must match [a-f0-9]{64}", hint: hint))
        }
        return sha
    }

    static func isSHA256Hex(_ s: Substring) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func abbreviated(_ s: String) -> String {
        s.count > 80 ? String(s.prefix(80)) + "…" : s
    }
}
