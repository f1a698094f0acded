import AdmissionKit

/// The basic_auth plugin's configuration (rules doc §9, §10.7; istio-ecosystem/wasm-extensions
/// `basic_auth/plugin.cc`): everything that makes the plugin refuse its configuration (then
/// it does nothing, or fails closed), and what it accepts that can never match. Values of
/// credentials are never echoed: messages point at the index.
enum BasicAuthRules {
    static let moduleName = "basic_auth"
    static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
    private static let config$ = FieldPath("spec", "pluginConfig")
    static let rules$ = FieldPath("spec", "pluginConfig", "basic_auth_rules")

    /// The url names the basic_auth module, or the config has its key.
    static func applies(url: ModuleURL?, pluginConfig: JSONObject?) -> Bool {
        url?.moduleName == moduleName || pluginConfig?.has("basic_auth_rules") == true
    }

    /// Pilot builds no HTTP filter for a NETWORK plugin: no request is ever authenticated.
    static func networkType(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.basicAuthApplies, input.fields.type?.stringValue == "NETWORK" else { return }
        r.report(
            FieldPath("spec", "type"), "basic_auth is an HTTP filter; as a NETWORK plugin it authenticates no request",
            hint: "set type: HTTP or remove type")
    }

    static func phase(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.basicAuthApplies, let phase = input.fields.phase?.stringValue, ["AUTHZ", "STATS"].contains(phase) else { return }
        r.report(FieldPath("spec", "phase"), "basic_auth normally runs in phase AUTHN, before Istio's authorization")
    }

    static func unconfigured(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.basicAuthApplies else { return }
        guard let value = input.fields.pluginConfig, !value.isNull else {
            r.report(config$, "basic_auth without pluginConfig authenticates nothing")
            return
        }
        guard let config = value.objectValue else { return }
        guard let rules = config["basic_auth_rules"] else {
            r.report(rules$, "not set: basic_auth authenticates nothing")
            return
        }
        if rules.arrayValue?.isEmpty == true { r.report(rules$, "is empty: basic_auth authenticates nothing") }
    }

    /// Types inside pluginConfig are the plugin's: a wrong one makes it refuse the config.
    static func realm(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.basicAuthApplies, let realm = input.fields.pluginConfig?["realm"] else { return }
        guard let text = realm.stringValue else {
            if !realm.isNull { r.reportType(.wrongType(config$.child("realm"), expected: "a string", got: realm)) }
            return
        }
        if text.contains(where: { $0 == " " || $0 == "\"" }) {
            r.report(config$.child("realm"), "is sent unquoted in WWW-Authenticate; avoid spaces and quotes")
        }
    }

    static let matchKinds = ["prefix", "exact", "suffix"]

    static func ruleMatch(_ input: RuleInput, _ r: inout ValidationResult) {
        guard input.basicAuthApplies, let config = input.fields.pluginConfig?.objectValue else { return }
        guard let rules = r.array(config["basic_auth_rules"], at: rules$) else { return }
        for (i, item) in rules.enumerated() {
            // Paths built only for a finding: a well-formed rule needs none.
            func path() -> FieldPath { rules$.index(i) }
            guard let rule = r.object(item, at: path()) else {
                if item.isNull { r.reportType(.required(path(), "must be an object")) }
                continue
            }
            var matchCount = 0
            for key in matchKinds where rule.has(key) { matchCount += 1 }
            if matchCount != 1 {
                let matchKeys = matchKinds.filter(rule.has)
                r.report(
                    path(), matchKeys.isEmpty ? "needs one of prefix, exact or suffix" : "has \(matchKeys.joined(separator: " and ")); only one is allowed",
                    hint: "set exactly one of prefix, exact, suffix (the plugin refuses the whole configuration otherwise)")
            }
            for key in matchKinds {
                guard let value = rule[key] else { continue }
                if value.isNull {
                    r.reportType(.wrongType(path().child(key), expected: "a string", got: .null))
                } else if let s = r.string(value, at: path().child(key)), s.isEmpty {
                    r.report(path().child(key), "must not be empty", hint: "use \"/\" with prefix to match every path")
                }
            }
        }
    }

    static func hosts(_ input: RuleInput, _ r: inout ValidationResult) {
        for (path, rule) in input.basicAuthRules {
            guard let hosts = r.array(rule["hosts"], at: path.child("hosts")) else { continue }
            for (i, host) in hosts.enumerated() {
                if host.isNull {
                    r.reportType(.wrongType(path.child("hosts").index(i), expected: "a string", got: host))
                } else if let h = r.string(host, at: path.child("hosts").index(i)), h.isEmpty {
                    r.report(path.child("hosts").index(i), "must not be empty")
                }
            }
        }
    }

    /// Methods are compared exactly with `:method`: `get` never matches a GET request, so
    /// GET requests go unauthenticated.
    /// Method tokens are ASCII (`isTokenChar`): a lower-case letter is all that differs
    /// from what clients send. On bytes, without building the upper-case copy.
    static func hasLowercase(_ method: String) -> Bool {
        method.utf8.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
    }

    static func methods(_ input: RuleInput, _ r: inout ValidationResult) {
        for (rulePath, rule) in input.basicAuthRules {
            func path() -> FieldPath { rulePath.child("request_methods") }
            guard let methods = requiredList(rule["request_methods"], at: path(), what: "method", hint: "e.g. request_methods: [GET, POST]", &r) else { continue }
            for (i, item) in methods.enumerated() {
                guard let method = r.string(item, at: path().index(i)) else {
                    if item.isNull { r.reportType(.wrongType(path().index(i), expected: "a string", got: item)) }
                    continue
                }
                if method.isEmpty || !method.utf8.allSatisfy(isTokenChar) {
                    r.report(path().index(i), "is not an HTTP method token", hint: "use methods such as GET, POST, PUT")
                } else if hasLowercase(method), standardMethods.contains(method.uppercased()) {
                    r.report(
                        path().index(i), "\(method) never equals the \(method.uppercased()) that clients send, so \(method.uppercased()) requests are not authenticated",
                        hint: "write \(method.uppercased())")
                }
            }
        }
    }

    /// Non-standard methods in lower case may be meant; they still match exactly.
    static func methodCase(_ input: RuleInput, _ r: inout ValidationResult) {
        for (rulePath, rule) in input.basicAuthRules {
            for (i, item) in (rule["request_methods"]?.arrayValue ?? []).enumerated() {
                // Lower case first: methods are nearly always upper case, and the test is cheap.
                guard let method = item.stringValue, hasLowercase(method), method.utf8.allSatisfy(isTokenChar),
                    !standardMethods.contains(method.uppercased())
                else { continue }
                r.report(rulePath.child("request_methods").index(i), "methods match case-sensitively; clients usually send \(method.uppercased())")
            }
        }
    }

    static func credentials(_ input: RuleInput, _ r: inout ValidationResult) {
        for (rulePath, rule) in input.basicAuthRules {
            func path() -> FieldPath { rulePath.child("credentials") }
            guard let credentials = requiredList(rule["credentials"], at: path(), what: "credential", hint: "add user:pass or base64 of user:pass", &r) else { continue }
            for (i, item) in credentials.enumerated() {
                // The path is built only for findings: big configs hold thousands of entries.
                guard case .string(let credential) = item else {
                    r.reportType(.wrongType(path().index(i), expected: "a string", got: item))
                    continue
                }
                switch BasicAuthCredential.classify(credential) {
                case .plain, .canonical: break
                case .nonCanonical:
                    r.report(
                        path().index(i), "base64 is not padded canonically, so it never equals what clients send",
                        hint: "pad it with '=' to a multiple of 4 characters (the mutating webhook does this)")
                case .invalid(let reason, let refuses, let hint):
                    let consequence = refuses ? "; the plugin refuses its whole configuration" : ""
                    r.report(path().index(i), "credential \(reason)\(consequence)", hint: FindingText(hint))
                }
            }
        }
    }

    /// A list the plugin requires non-empty ("at least one … has to be configured"), or nil
    /// when it is missing or not a list (reported).
    private static func requiredList(
        _ value: JSON?, at path: @autoclosure () -> FieldPath, what: String, hint: String, _ r: inout ValidationResult
    ) -> [JSON]? {
        guard let value, !value.isNull else {
            r.report(.required(path(), "at least one \(what) must be configured", hint: FindingText(hint)))
            return nil
        }
        guard let list = r.array(value, at: path()) else { return nil }
        if list.isEmpty { r.report(.required(path(), "at least one \(what) must be configured", hint: FindingText(hint))) }
        return list
    }

    /// RFC 9110 tchar.
    static func isTokenChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}
