import AdmissionKit

/// The basic_auth plugin's configuration (rules doc §9, §10.7): everything that makes the
/// plugin refuse its configuration (then it does nothing, or fails closed), and the
/// credentials it accepts that can never match. Values of credentials are never echoed:
/// messages point at the index.
enum BasicAuthRules {
    static let moduleName = "basic_auth"

    /// The url names the basic_auth module, or the config has its key.
    static func applies(url: ModuleURL?, pluginConfig: JSONObject?) -> Bool {
        url?.moduleName == moduleName || pluginConfig?.has("basic_auth_rules") == true
    }

    static func check(_ spec: JSONObject, url: ModuleURL?, into r: inout ValidationResult) {
        let configPath = FieldPath("spec", "pluginConfig")
        let config = spec["pluginConfig"]?.objectValue
        guard applies(url: url, pluginConfig: config) else { return }
        if let phase = spec["phase"]?.stringValue, WasmPluginEnums.phase.contains(phase), phase != "AUTHN", phase != "UNSPECIFIED_PHASE" {
            r.warn(FieldPath("spec", "phase"), "basic_auth normally runs in phase AUTHN, before Istio's authorization")
        }
        guard let config else {
            if spec["pluginConfig"] == nil || spec["pluginConfig"]!.isNull {
                r.warn(configPath, "basic_auth without pluginConfig authenticates nothing")
            }
            return
        }
        if let realm = r.string(config["realm"], at: configPath.child("realm")),
            realm.contains(where: { $0 == " " || $0 == "\"" })
        {
            r.warn(configPath.child("realm"), "is sent unquoted in WWW-Authenticate; avoid spaces and quotes")
        }
        let rulesPath = configPath.child("basic_auth_rules")
        guard let rules = r.array(config["basic_auth_rules"], at: rulesPath) else {
            if config["basic_auth_rules"] == nil { r.warn(rulesPath, "not set: basic_auth authenticates nothing") }
            return
        }
        if rules.isEmpty { r.warn(rulesPath, "is empty: basic_auth authenticates nothing") }
        for (i, item) in rules.enumerated() {
            let rulePath = rulesPath.index(i)
            guard let rule = r.object(item, at: rulePath) else {
                if item.isNull { r.error(.required(rulePath, "must be an object")) }
                continue
            }
            checkRule(rule, at: rulePath, into: &r)
        }
    }

    static func checkRule(_ rule: JSONObject, at path: FieldPath, into r: inout ValidationResult) {
        let matchKeys = ["prefix", "exact", "suffix"].filter(rule.has)
        if matchKeys.count != 1 {
            r.error(
                .invalid(
                    path, matchKeys.isEmpty ? "needs one of prefix, exact or suffix" : "has \(matchKeys.joined(separator: " and ")); only one is allowed",
                    hint: "set exactly one of prefix, exact, suffix (the plugin refuses the whole configuration otherwise)"))
        }
        for key in matchKeys {
            if let s = r.string(rule[key] ?? .null, at: path.child(key)), s.isEmpty {
                r.error(.invalid(path.child(key), "must not be empty", hint: "use \"/\" with prefix to match every path"))
            } else if rule[key]?.isNull == true {
                r.error(.wrongType(path.child(key), expected: "a string", got: .null))
            }
        }
        if let hosts = r.array(rule["hosts"], at: path.child("hosts")) {
            for (i, host) in hosts.enumerated() {
                if let h = r.string(host, at: path.child("hosts").index(i)), h.isEmpty {
                    r.error(.invalid(path.child("hosts").index(i), "must not be empty"))
                } else if host.isNull {
                    r.error(.wrongType(path.child("hosts").index(i), expected: "a string", got: host))
                }
            }
        }
        checkMethods(rule["request_methods"], at: path.child("request_methods"), into: &r)
        checkCredentials(rule["credentials"], at: path.child("credentials"), into: &r)
    }

    static func checkMethods(_ value: JSON?, at path: FieldPath, into r: inout ValidationResult) {
        guard let value, !value.isNull else {
            r.error(.required(path, "at least one method must be configured", hint: "e.g. request_methods: [GET, POST]"))
            return
        }
        guard let methods = r.array(value, at: path) else { return }
        if methods.isEmpty {
            r.error(.required(path, "at least one method must be configured", hint: "e.g. request_methods: [GET, POST]"))
        }
        for (i, item) in methods.enumerated() {
            let itemPath = path.index(i)
            guard case .string(let method) = item else {
                r.error(.wrongType(itemPath, expected: "a string", got: item))
                continue
            }
            if method.isEmpty || !method.utf8.allSatisfy(isTokenChar) {
                r.error(.invalid(itemPath, "is not an HTTP method token", hint: "use methods such as GET, POST, PUT"))
            } else if method.uppercased() != method {
                r.warn(itemPath, "methods match case-sensitively and clients send \(method.uppercased())")
            }
        }
    }

    static func checkCredentials(_ value: JSON?, at path: FieldPath, into r: inout ValidationResult) {
        guard let value, !value.isNull else {
            r.error(.required(path, "at least one credential must be configured", hint: "add user:pass or base64 of user:pass"))
            return
        }
        guard let credentials = r.array(value, at: path) else { return }
        if credentials.isEmpty {
            r.error(.required(path, "at least one credential must be configured", hint: "add user:pass or base64 of user:pass"))
        }
        for (i, item) in credentials.enumerated() {
            // The path is built only for errors: big configs hold thousands of entries.
            guard case .string(let credential) = item else {
                r.error(.wrongType(path.index(i), expected: "a string", got: item))
                continue
            }
            switch BasicAuthCredential.classify(credential) {
            case .plain, .canonical: break
            case .nonCanonical:
                r.error(
                    .invalid(
                        path.index(i), "base64 is not padded canonically, so it never equals what clients send",
                        hint: "pad it with '=' to a multiple of 4 characters (the mutating webhook does this)"))
            case .invalid(let reason, let refuses):
                let consequence = refuses ? "; the plugin refuses its whole configuration" : ""
                r.error(.invalid(path.index(i), "credential \(reason)\(consequence)", hint: "write user:pass or the standard padded base64 of user:pass"))
            }
        }
    }

    /// RFC 9110 tchar.
    static func isTokenChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}
