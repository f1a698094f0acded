/// A problem with one field, typed like apimachinery's `field.Error`, plus the hint that
/// tells the user what to change. Rendered `field.path: detail; hint`.
public struct FieldError: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case required = "FieldValueRequired"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case duplicate = "FieldValueDuplicate"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"
        case forbidden = "FieldValueForbidden"
        case typeInvalid = "FieldValueTypeInvalid"
    }

    public var kind: Kind
    public var path: FieldPath
    /// What is wrong. Never contains a secret value.
    public var detail: String
    /// How to fix it; empty when the detail says it all.
    public var hint: String
    /// The id of the rule that found it (stamped by `ValidationResult.report`).
    public var rule: String

    public init(_ kind: Kind, _ path: FieldPath, _ detail: FindingText, hint: FindingText = "", rule: String = "") {
        self.kind = kind
        self.path = path
        self.detail = detail.string
        self.hint = hint.string
        self.rule = rule
    }

    /// `detail; hint`, without the path (what `status.details.causes[].message` carries).
    public var message: String {
        guard !hint.isEmpty else { return detail }
        let text: FindingText = "\(detail); \(hint)"
        return text.string
    }

    public var description: String {
        var out: [UInt8] = []
        writeDescription(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `description`'s bytes (`path: detail; hint`), appended.
    func writeDescription<Sink: ByteSink>(to out: inout Sink) {
        path.writeDescription(to: &out)
        out.append(": ")
        out.append(utf8: detail)
        if !hint.isEmpty {
            out.append("; ")
            out.append(utf8: hint)
        }
    }

    public static func required(_ path: FieldPath, _ detail: FindingText = "Required value", hint: FindingText = "") -> FieldError {
        FieldError(.required, path, detail, hint: hint)
    }

    public static func invalid(_ path: FieldPath, _ detail: FindingText, hint: FindingText = "") -> FieldError {
        FieldError(.invalid, path, detail, hint: hint)
    }

    public static func wrongType(_ path: FieldPath, expected: String, got value: JSON) -> FieldError {
        FieldError(.typeInvalid, path, "must be \(expected), not \(value.typeName)", hint: "write it as \(expected)")
    }
}

/// Something admitted but suspicious: goes to `response.warnings`.
public struct FieldWarning: Sendable, Equatable, CustomStringConvertible {
    public var path: FieldPath
    public var message: String
    public var rule: String

    public init(_ path: FieldPath, _ message: FindingText, rule: String = "") {
        self.path = path
        self.message = message.string
        self.rule = rule
    }

    public var description: String {
        guard !path.steps.isEmpty else { return message }
        var out: [UInt8] = []
        out.reserveCapacity(64 + message.utf8.count)
        path.writeDescription(to: &out)
        out.append(": ")
        out.append(utf8: message)
        return String(decoding: out, as: UTF8.self)
    }
}

/// What a policy makes of one rule's findings.
public enum RuleVerdict: String, Sendable, CaseIterable {
    /// Findings are errors: the request is denied.
    case deny
    /// Findings are warnings: admitted, and the client is told.
    case warn
    /// The rule does not run.
    case off
}

/// Errors and warnings on separate channels; rules append, never stop at the first.
///
/// Rules `report` findings; the verdict of the rule being run (`begin(rule:verdict:)`)
/// decides whether each is an error, a warning or dropped, so a policy can move any rule
/// between the three without the rule knowing. Wrong JSON types are findings of their own
/// rule (`typeRule`), reported once per field however many rules read it.
///
/// At most `maxKept` of each are kept, the rest only counted: one request may hold
/// hundreds of thousands of bad credentials, and a message listing each of them took
/// over 500 MB to build. Nobody reads past the first hundred; the count says how many.
public struct ValidationResult: Sendable, Equatable {
    public static let maxKept = 100

    public private(set) var errors: [FieldError] = []
    public private(set) var warnings: [FieldWarning] = []
    /// Errors and warnings found beyond `maxKept`.
    public private(set) var omittedErrors = 0
    public private(set) var omittedWarnings = 0
    /// Errors turned into warnings by a rollout policy (`enforcement: warn`): what would
    /// have been denied.
    public private(set) var wouldDeny = 0

    /// The ids of the rules a validator runs (`use(ruleIDs:)`, once per review), and the one
    /// running now by its index: a String id stored at every `begin` was retained and
    /// released, about 30 instructions for each of the ~60 rules of a review.
    public private(set) var ruleIDs: [String] = []
    private var currentRuleIndex = -1
    public var currentRule: String { currentRuleIndex >= 0 ? ruleIDs[currentRuleIndex] : "" }
    public private(set) var currentVerdict = RuleVerdict.deny
    public var typeRule = "field-type"
    public var typeVerdict = RuleVerdict.deny
    /// Fields already reported with a wrong type (few: kept as a list).
    private var mistyped: [FieldPath] = []

    public init(errors: [FieldError] = [], warnings: [FieldWarning] = []) {
        errors.forEach { error($0) }
        warnings.forEach { warn($0.path, FindingText($0.message), rule: $0.rule) }
    }

    /// Equal findings (what was found, not which rule is running now).
    public static func == (l: ValidationResult, r: ValidationResult) -> Bool {
        l.errors == r.errors && l.warnings == r.warnings && l.omittedErrors == r.omittedErrors
            && l.omittedWarnings == r.omittedWarnings && l.wouldDeny == r.wouldDeny
    }

    public var isValid: Bool { errors.isEmpty }
    public var errorCount: Int { errors.count + omittedErrors }

    /// The rules whose findings follow, by id; `begin(rule:verdict:)` names them by index.
    public mutating func use(ruleIDs: [String]) {
        self.ruleIDs = ruleIDs
        currentRuleIndex = -1
    }

    /// Findings from here on belong to `ruleIDs[rule]` and count as `verdict` says.
    public mutating func begin(rule: Int, verdict: RuleVerdict) {
        precondition(ruleIDs.indices.contains(rule), "begin(rule:) names a rule that use(ruleIDs:) did not list")
        currentRuleIndex = rule
        currentVerdict = verdict
    }

    /// A finding of the current rule: an error, a warning or nothing, by its verdict.
    public mutating func report(_ finding: consuming FieldError) {
        record(finding, rule: currentRule, verdict: currentVerdict)
    }

    /// `report` for the common case.
    public mutating func report(_ path: FieldPath, _ detail: FindingText, hint: FindingText = "", kind: FieldError.Kind = .invalid) {
        report(FieldError(kind, path, detail, hint: hint))
    }

    /// A field of the wrong JSON type, under `typeRule`; once per field.
    public mutating func reportType(_ finding: consuming FieldError) {
        guard !mistyped.contains(finding.path) else { return }
        mistyped.append(finding.path)
        record(finding, rule: typeRule, verdict: typeVerdict)
    }

    // Findings consumed, not borrowed: each step moves the finding on instead of copying
    // it (its path and three Strings retained and released at every step).
    private mutating func record(_ finding: consuming FieldError, rule: String, verdict: RuleVerdict) {
        finding.rule = rule
        switch verdict {
        case .deny: error(finding)
        case .warn: warn(finding.path, FindingText(finding.message), rule: rule)
        case .off: break
        }
    }

    /// An error whatever the rule's verdict (the request itself is unusable).
    public mutating func error(_ e: consuming FieldError) {
        guard errors.count < Self.maxKept else { return omittedErrors += 1 }
        if errors.isEmpty { errors.reserveCapacity(8) }  // one allocation, not one per doubling
        errors.append(e)
    }

    public mutating func warn(_ path: FieldPath, _ message: FindingText, rule: String = "") {
        guard warnings.count < Self.maxKept else { return omittedWarnings += 1 }
        if warnings.isEmpty { warnings.reserveCapacity(8) }
        warnings.append(FieldWarning(path, message, rule: rule))
    }

    /// Rollout mode: every error becomes a warning that says it would deny, counted in
    /// `wouldDeny`. The errors come first among the warnings: they matter most.
    public mutating func demoteErrors() {
        guard errorCount > 0 else { return }
        wouldDeny += errorCount
        let demoted = errors.map { FieldWarning($0.path, "would be denied: \($0.message)", rule: $0.rule) }
        let kept = Array((demoted + warnings).prefix(Self.maxKept))
        omittedWarnings += demoted.count + warnings.count - kept.count + omittedErrors
        warnings = kept
        errors = []
        omittedErrors = 0
    }

    public mutating func merge(_ other: ValidationResult) {
        other.errors.forEach { error($0) }
        other.warnings.forEach { warn($0.path, FindingText($0.message), rule: $0.rule) }
        omittedErrors += other.omittedErrors
        omittedWarnings += other.omittedWarnings
        wouldDeny += other.wouldDeny
    }
}
