import AdmissionKit

/// The `--policy` file: how strict the webhook is where reasonable teams differ.
/// Every key is optional; defaults are the documented ones.
public struct PolicySettings: Sendable, Equatable {
    public enum SelectorMode: String, Sendable, CaseIterable { case convert, warn, deny }
    public enum InsecureHTTPMode: String, Sendable, CaseIterable { case allow, warn, deny }
    public enum CredentialMode: String, Sendable, CaseIterable { case base64, keep }
    /// `warn` is rollout mode: every denial becomes a warning, counted as "would deny".
    public enum Enforcement: String, Sendable, CaseIterable { case deny, warn }

    public var rootNamespace = "istio-system"
    public var selector = SelectorMode.convert
    public var insecureHTTP = InsecureHTTPMode.warn
    public var requireDigest = false
    public var allowedRegistries: [String] = []
    public var credentials = CredentialMode.base64
    public var phaseDefaults: [String: String] = ["basic_auth": "AUTHN"]
    public var enforcement = Enforcement.deny
    /// `rules:` for validation rules: the verdict per rule id, over every other key.
    public var ruleVerdicts: [String: RuleVerdict] = [:]
    /// `rules: {ID: off}` for defaulting rules.
    public var disabledDefaults: Set<String> = []

    public init() {}

    /// What `rule`'s findings count as: `rules:` first, then the older keys that set one
    /// rule each, then the rule's own default.
    public func verdict(for rule: WasmPluginRule) -> RuleVerdict {
        if let explicit = ruleVerdicts[rule.id] { return explicit }
        switch rule.id {
        case "selector-not-allowed": return selector == .deny ? .deny : .off
        case "url-insecure-http":
            switch insecureHTTP {
            case .allow: return .off
            case .warn: return .warn
            case .deny: return .deny
            }
        case "digest-required": return requireDigest ? .deny : .off
        default: return rule.verdict
        }
    }

    public func defaults(_ id: String) -> Bool { disabledDefaults.isEmpty || !disabledDefaults.contains(id) }

    /// Reads settings from a decoded YAML/JSON document. Throws naming the offending key.
    public init(json: JSON) throws(PolicyError) {
        if json.isNull { return }
        guard case .object(let object) = json else {
            throw PolicyError("the policy must be a mapping of keys, not a \(json.typeName)")
        }
        for member in object.members {
            let (key, value) = (member.key, member.value)
            switch key {
            case "rootNamespace":
                guard let s = value.stringValue, !s.isEmpty else { throw PolicyError(key: key, "must be a non-empty string") }
                rootNamespace = s
            case "selector": selector = try Self.enumValue(key, value)
            case "insecureHTTP": insecureHTTP = try Self.enumValue(key, value)
            case "credentials": credentials = try Self.enumValue(key, value)
            case "requireDigest":
                guard let b = value.boolValue else { throw PolicyError(key: key, "must be true or false") }
                requireDigest = b
            case "allowedRegistries":
                guard let list = value.arrayValue else { throw PolicyError(key: key, "must be a list of url prefixes") }
                allowedRegistries = try list.enumerated().map { (i, item) throws(PolicyError) in
                    guard let s = item.stringValue, !s.isEmpty else { throw PolicyError(key: "\(key)[\(i)]", "must be a non-empty string") }
                    return s
                }
            case "phaseDefaults":
                guard let map = value.objectValue else { throw PolicyError(key: key, "must be a mapping of module name to phase") }
                var defaults: [String: String] = [:]
                for member in map.members {
                    let (module, phase) = (member.key, member.value)
                    guard let p = phase.stringValue, WasmPluginEnums.phase.contains(p) else {
                        throw PolicyError(key: "\(key).\(module)", "must be one of \(WasmPluginEnums.phase.joined(separator: ", "))")
                    }
                    defaults[module] = p
                }
                phaseDefaults = defaults
            case "enforcement": enforcement = try Self.enumValue(key, value)
            case "rules": try readRules(value)
            default:
                throw PolicyError(key: key, "unknown key; known keys are \(Self.keys.joined(separator: ", "))")
            }
        }
    }

    static let keys = ["rootNamespace", "selector", "insecureHTTP", "requireDigest", "allowedRegistries", "credentials", "phaseDefaults", "enforcement", "rules"]

    private mutating func readRules(_ value: JSON) throws(PolicyError) {
        guard let map = value.objectValue else { throw PolicyError(key: "rules", "must be a mapping of rule id to deny, warn or off") }
        for member in map.members {
            let (id, setting) = (member.key, member.value)
            let key = "rules.\(id)"
            // YAML 1.1 (what kubectl and Yams read) makes a bare `off` the boolean false.
            let verdict: RuleVerdict
            if setting == .bool(false) {
                verdict = .off
            } else if let text = setting.stringValue, let v = RuleVerdict(rawValue: text) {
                verdict = v
            } else {
                throw PolicyError(key: key, "must be deny, warn or off")
            }
            if WasmPluginRules.byID[id] != nil {
                ruleVerdicts[id] = verdict
            } else if WasmPluginRules.defaultingIDs.contains(id) {
                guard verdict == .off else { throw PolicyError(key: key, "is a defaulting rule: it can only be turned off") }
                disabledDefaults.insert(id)
            } else {
                let near = (WasmPluginRules.all.map(\.id) + WasmPluginRules.defaultingIDs).filter { $0.hasPrefix(String(id.prefix(4))) }.prefix(5)
                throw PolicyError(key: key, "unknown rule id" + (near.isEmpty ? "; the README lists every id" : "; did you mean one of \(near.joined(separator: ", "))?"))
            }
        }
    }

    private static func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _ value: JSON) throws(PolicyError) -> E where E.RawValue == String {
        guard let s = value.stringValue, let e = E(rawValue: s) else {
            throw PolicyError(key: key, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return e
    }
}

public struct PolicyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
    public init(key: String, _ problem: String) { self.description = "policy key \(key): \(problem)" }
}
