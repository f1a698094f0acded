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

    public init(_ kind: Kind, _ path: FieldPath, _ detail: String, hint: String = "") {
        self.kind = kind
        self.path = path
        self.detail = detail
        self.hint = hint
    }

    /// `detail; hint`, without the path (what `status.details.causes[].message` carries).
    public var message: String {
        hint.isEmpty ? detail : "\(detail); \(hint)"
    }

    public var description: String { "\(path): \(message)" }

    public static func required(_ path: FieldPath, _ detail: String = "Required value", hint: String = "") -> FieldError {
        FieldError(.required, path, detail, hint: hint)
    }

    public static func invalid(_ path: FieldPath, _ detail: String, hint: String = "") -> FieldError {
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

    public init(_ path: FieldPath, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.steps.isEmpty ? message : "\(path): \(message)" }
}

/// Errors and warnings on separate channels; rules append, never stop at the first.
public struct ValidationResult: Sendable, Equatable {
    public var errors: [FieldError] = []
    public var warnings: [FieldWarning] = []

    public init(errors: [FieldError] = [], warnings: [FieldWarning] = []) {
        self.errors = errors
        self.warnings = warnings
    }

    public var isValid: Bool { errors.isEmpty }

    public mutating func error(_ e: FieldError) { errors.append(e) }
    public mutating func warn(_ path: FieldPath, _ message: String) { warnings.append(FieldWarning(path, message)) }
    public mutating func merge(_ other: ValidationResult) {
        errors += other.errors
        warnings += other.warnings
    }
}
