import AdmissionKit

/// The scalar fields, vmConfig and match (rules doc §2, §5, §10.1, §10.6).
enum SpecFieldRules {
    static let knownSpecKeys: Set<String> = [
        "selector", "targetRef", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret",
        "verificationKey", "pluginConfig", "pluginName", "phase", "priority", "failStrategy", "vmConfig", "match", "type",
    ]
    /// Istio writes these into the VM env before the user's, so a user entry would override them.
    static let reservedEnvNames: Set<String> = [
        "ISTIO_META_WASM_IMAGE_PULL_SECRET", "ISTIO_META_WASM_IMAGE_PULL_POLICY", "ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION",
    ]

    static func check(_ spec: JSONObject, into r: inout ValidationResult) {
        let spec$ = FieldPath("spec")
        for key in spec.keys where !knownSpecKeys.contains(key) {
            r.warn(spec$.child(key), "unknown field: the API server drops it")
        }
        r.enumString(spec["phase"], at: spec$.child("phase"), allowed: WasmPluginEnums.phase)
        r.enumString(spec["imagePullPolicy"], at: spec$.child("imagePullPolicy"), allowed: WasmPluginEnums.imagePullPolicy)
        r.enumString(spec["failStrategy"], at: spec$.child("failStrategy"), allowed: WasmPluginEnums.failStrategy)
        r.enumString(spec["type"], at: spec$.child("type"), allowed: WasmPluginEnums.pluginType)
        lengthChecked(spec["imagePullSecret"], at: spec$.child("imagePullSecret"), max: 253, into: &r)
        lengthChecked(spec["pluginName"], at: spec$.child("pluginName"), max: 256, into: &r)
        r.integer(spec["priority"], at: spec$.child("priority"), in: Int(Int32.min)...Int(Int32.max))
        if r.string(spec["verificationKey"], at: spec$.child("verificationKey")) != nil {
            r.warn(spec$.child("verificationKey"), "is not implemented by Istio and has no effect")
        }
        if let value = spec["pluginConfig"], !value.isNull, value.objectValue == nil {
            r.error(.wrongType(spec$.child("pluginConfig"), expected: "an object", got: value))
        }
        checkVMConfig(spec["vmConfig"], into: &r)
        checkMatch(spec["match"], into: &r)
    }

    /// 1...max characters: the CRD's minLength 1 is stricter than istiod, which accepts "".
    static func lengthChecked(_ value: JSON?, at path: FieldPath, max: Int, into r: inout ValidationResult) {
        guard let s = r.string(value, at: path) else { return }
        if s.isEmpty {
            r.error(.invalid(path, "must not be empty", hint: "remove the field or give it a value"))
        } else if s.count > max {
            r.error(FieldError(.tooLong, path, "is \(s.count) characters, at most \(max) are allowed"))
        }
    }

    static func checkVMConfig(_ value: JSON?, into r: inout ValidationResult) {
        let path = FieldPath("spec", "vmConfig")
        guard let vm = r.object(value, at: path), let env = r.array(vm["env"], at: path.child("env")) else { return }
        if env.count > 256 {
            r.error(FieldError(.tooMany, path.child("env"), "has \(env.count) entries, at most 256 are allowed"))
        }
        var seen: [String: Int] = [:]
        for (i, item) in env.enumerated() {
            let itemPath = path.child("env").index(i)
            guard let entry = r.object(item, at: itemPath) else {
                if item.isNull { r.error(.required(itemPath, "must be an object {name, value, valueFrom}")) }
                continue
            }
            let namePath = itemPath.child("name")
            if let name = r.string(entry["name"], at: namePath) {
                if name.isEmpty {
                    r.error(.required(namePath, "name must not be empty"))
                } else if name.count > 256 {
                    r.error(FieldError(.tooLong, namePath, "is \(name.count) characters, at most 256 are allowed"))
                } else if !isCIdentifier(name) {
                    r.error(.invalid(namePath, "must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)", hint: "use letters, digits and _ only"))
                } else if reservedEnvNames.contains(name) {
                    r.error(FieldError(.forbidden, namePath, "\(name) is set by Istio itself; overriding it breaks image pulls", hint: "choose another name"))
                }
                if let first = seen[name] {
                    r.error(FieldError(.duplicate, namePath, "duplicate name, also used by env[\(first)]", hint: "names must be unique"))
                } else {
                    seen[name] = i
                }
            } else if entry["name"]?.isNull ?? true {
                r.error(.required(namePath, "name must be set"))
            }
            let valueFrom = r.enumString(entry["valueFrom"], at: itemPath.child("valueFrom"), allowed: WasmPluginEnums.valueFrom) ?? "INLINE"
            let valuePath = itemPath.child("value")
            if let v = r.string(entry["value"], at: valuePath) {
                if valueFrom == "HOST" {
                    r.error(
                        FieldError(
                            .forbidden, valuePath, "value may only be set when valueFrom is INLINE",
                            hint: "remove value: HOST copies the proxy's own variable of that name"))
                } else if v.count > 2048 {
                    r.error(FieldError(.tooLong, valuePath, "is \(v.count) characters, at most 2048 are allowed"))
                }
            }
        }
    }

    static func checkMatch(_ value: JSON?, into r: inout ValidationResult) {
        let path = FieldPath("spec", "match")
        guard let match = r.array(value, at: path) else { return }
        for (i, item) in match.enumerated() {
            let itemPath = path.index(i)
            guard let selector = r.object(item, at: itemPath) else {
                if item.isNull { r.error(.required(itemPath, "must be an object {mode, ports}")) }
                continue
            }
            r.enumString(selector["mode"], at: itemPath.child("mode"), allowed: WasmPluginEnums.matchMode)
            guard let ports = r.array(selector["ports"], at: itemPath.child("ports")) else { continue }
            var seen: [Int: Int] = [:]
            for (j, portItem) in ports.enumerated() {
                let portPath = itemPath.child("ports").index(j)
                guard let port = r.object(portItem, at: portPath) else {
                    if portItem.isNull { r.error(.required(portPath, "must be an object {number}")) }
                    continue
                }
                let numberPath = portPath.child("number")
                guard let numberValue = port["number"], !numberValue.isNull else {
                    r.error(.required(numberPath, "port number must be set"))
                    continue
                }
                guard let number = r.integer(numberValue, at: numberPath, in: 1...65535) else { continue }
                if let first = seen[number] {
                    r.error(FieldError(.duplicate, numberPath, "duplicate port \(number), also in ports[\(first)]"))
                } else {
                    seen[number] = j
                }
            }
        }
    }

    static func isCIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || isASCIILetter(first) else { return false }
        return s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isASCIILetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isASCIILetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
}
