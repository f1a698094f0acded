import AdmissionKit

/// The scalar spec fields (rules doc §2, §5, §10.1; istiod `validateWasmPluginImagePullSecret`,
/// `validateWasmPluginName`).
enum ScalarRules {
    /// The spec fields the CRD declares: `SpecFields`' fields, one list for both.
    static let knownSpecKeys = NameList(SpecFields.Field.allCases.map(\.rawValue))
    private static let spec$ = FieldPath("spec")

    /// 1...max bytes: istiod counts bytes (Go `len`), the CRD's minLength 1 refuses "".
    /// Reports and returns false otherwise.
    static func lengthChecked(_ s: String, at path: FieldPath, max: Int, emptyHint: String, _ r: inout ValidationResult) -> Bool {
        if s.isEmpty {
            r.report(path, "must not be empty", hint: FindingText(emptyHint))
            return false
        }
        if s.utf8.count > max {
            r.report(FieldError(.tooLong, path, "is \(s.utf8.count) bytes, at most \(max) are allowed"))
            return false
        }
        return true
    }

    static func imagePullSecret(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let secret = input.fields.imagePullSecret?.stringValue else { return }
        let path = spec$.child("imagePullSecret")
        guard lengthChecked(secret, at: path, max: 253, emptyHint: "remove the field or name the pull Secret", &r) else { return }
        let name = secretName(secret)
        if !name.contains("/"), !DNSNames.isSubdomain(name) {
            r.report(path, "no Secret can have this name, so images are pulled without credentials", hint: "a Secret name is a DNS-1123 subdomain: lowercase a-z, 0-9, '-' and '.'")
        }
    }

    /// Pilot `toSecretResourceName`: the namespace is rewritten to the plugin's own.
    static func imagePullSecretNamespace(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let secret = input.fields.imagePullSecret?.stringValue else { return }
        let name = secretName(secret)
        guard let slash = name.lastIndex(of: "/") else { return }
        let namespace = name[..<slash]
        r.report(
            FieldPath("spec", "imagePullSecret"),
            "Istio reads only the Secret's name and looks it up in the WasmPlugin's namespace\(input.namespace.isEmpty ? "" : " (\(input.namespace))"), not in \(quoted: String(namespace.prefix(63)))",
            hint: "write just \(quoted: String(name[name.index(after: slash)...].prefix(253))) and copy the Secret into this namespace")
    }

    /// `kubernetes://` is the resource-name form Istio also accepts.
    private static func secretName(_ s: String) -> String {
        s.hasPrefix("kubernetes://") ? String(s.dropFirst("kubernetes://".count)) : s
    }

    static func pluginName(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let name = input.fields.pluginName?.stringValue else { return }
        _ = lengthChecked(name, at: spec$.child("pluginName"), max: 256, emptyHint: "remove the field or give it a value", &r)
    }

    private static let topLevelEnums: [(SpecFields.Field, [String])] = [
        (.phase, WasmPluginEnums.phase), (.imagePullPolicy, WasmPluginEnums.imagePullPolicy),
        (.failStrategy, WasmPluginEnums.failStrategy), (.type, WasmPluginEnums.pluginType),
    ]

    static func enums(_ input: RuleInput, _ r: inout ValidationResult) {
        let spec = input.fields
        for (field, allowed) in topLevelEnums where spec[field]?.stringValue != nil {
            r.enumString(spec[field], at: spec$.child(field.rawValue), allowed: allowed)
        }
        if spec.match != nil {
            for (path, selector) in JSONObject.objectItems(of: spec.match, at: spec$.child("match")) where selector.string("mode") != nil {
                r.enumString(selector["mode"], at: path.child("mode"), allowed: WasmPluginEnums.matchMode)
            }
        }
        if let vmConfig = spec.vmConfig?.objectValue, vmConfig["env"] != nil {
            for (path, entry) in vmConfig.objectItems("env", at: spec$.child("vmConfig").child("env")) where entry.string("valueFrom") != nil {
                r.enumString(entry["valueFrom"], at: path.child("valueFrom"), allowed: WasmPluginEnums.valueFrom)
            }
        }
    }

    static func priority(_ input: RuleInput, _ r: inout ValidationResult) {
        guard case .number(let text)? = input.fields.priority, ObjectRules.isIntegerLiteral(text) else { return }
        if let n = Int(text), Int(Int32.min)...Int(Int32.max) ~= n { return }
        r.report(spec$.child("priority"), "\(text.prefix(30)) is out of range", hint: "use a value from \(Int32.min) to \(Int32.max)")
    }

    static func unknownSpecFields(_ input: RuleInput, _ r: inout ValidationResult) {
        for key in input.spec.members.lazy.map(\.key) where !knownSpecKeys.contains(key) {
            r.report(spec$.child(key), "unknown field: the API server drops it")
        }
    }

    static func verificationKey(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.fields.verificationKey?.stringValue != nil else { return }
        r.report(spec$.child("verificationKey"), "is not implemented by Istio and has no effect")
    }
}

/// `vmConfig.env` (istiod `validateWasmPluginVMConfig`, the CRD, rules doc §8, §10.6).
enum VMConfigRules {
    /// Istio writes these into the VM env before the user's, so a user entry would override them.
    static let reservedEnvNames: Set<String> = [
        "ISTIO_META_WASM_IMAGE_PULL_SECRET", "ISTIO_META_WASM_IMAGE_PULL_POLICY", "ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION",
    ]
    private static let env$ = FieldPath("spec", "vmConfig", "env")

    static func entries(_ input: RuleInput) -> [(FieldPath, JSONObject)] {
        input.fields.vmConfig?.objectValue?.objectItems("env", at: env$) ?? []
    }

    static func envMax(_ input: RuleInput, _ r: inout ValidationResult) {
        guard let env = input.fields.vmConfig?["env"]?.arrayValue, env.count > 256 else { return }
        r.report(FieldError(.tooMany, env$, "has \(env.count) entries, at most 256 are allowed"))
    }

    static func envName(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, entry) in entries(input) {
            let namePath = path.child("name")
            guard let name = entry.string("name") else {
                if entry["name"]?.isNull ?? true { r.report(.required(namePath, "name must be set")) }
                continue
            }
            if name.isEmpty {
                r.report(.required(namePath, "name must not be empty"))
            } else if name.utf8.count > 256 {
                r.report(FieldError(.tooLong, namePath, "is \(name.utf8.count) characters, at most 256 are allowed"))
            } else if !isCIdentifier(name) {
                r.report(namePath, "must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)", hint: "use letters, digits and _ only")
            }
        }
    }

    static func envNameUnique(_ input: RuleInput, _ r: inout ValidationResult) {
        var seen: [String: Int] = [:]
        for (path, entry) in entries(input) {
            guard let name = entry.string("name"), !name.isEmpty, case .index(let i)? = path.steps.last else { continue }
            if let first = seen[name] {
                r.report(FieldError(.duplicate, path.child("name"), "duplicate name, also used by env[\(first)]", hint: "names must be unique"))
            } else {
                seen[name] = i
            }
        }
    }

    static func envNameReserved(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, entry) in entries(input) {
            guard let name = entry.string("name"), reservedEnvNames.contains(name) else { continue }
            r.report(FieldError(.forbidden, path.child("name"), "\(name) is set by Istio itself; overriding it breaks image pulls", hint: "choose another name"))
        }
    }

    /// CRD CEL `default(self.valueFrom, '') != 'HOST' || !has(self.value)`: even `value: ""`.
    static func envValueFrom(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, entry) in entries(input) where entry.string("valueFrom") == "HOST" && entry.string("value") != nil {
            r.report(
                FieldError(
                    .forbidden, path.child("value"), "value may only be set when valueFrom is INLINE",
                    hint: "remove value: HOST copies the proxy's own variable of that name"))
        }
    }

    static func envValueLength(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, entry) in entries(input) {
            guard let value = entry.string("value"), value.utf8.count > 2048, value.count > 2048 else { continue }
            r.report(FieldError(.tooLong, path.child("value"), "is \(value.count) characters, at most 2048 are allowed"))
        }
    }

    static func isCIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || isASCIILetter(first) else { return false }
        return s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isASCIILetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isASCIILetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
}
