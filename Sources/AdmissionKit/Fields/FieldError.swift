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

    public init(errors: [FieldError] = [], warnings: [FieldWarning] = []) {
        errors.forEach { error($0) }
        warnings.forEach { warn($0.path, $0.message) }
    }

    public var isValid: Bool { errors.isEmpty }
    public var errorCount: Int { errors.count + omittedErrors }

    public mutating func error(_ e: FieldError) {
        if errors.count < Self.maxKept { errors.append(e) } else { omittedErrors += 1 }
    }

    public mutating func warn(_ path: FieldPath, _ message: String) {
        if warnings.count < Self.maxKept { warnings.append(FieldWarning(path, message)) } else { omittedWarnings += 1 }
    }

    public mutating func merge(_ other: ValidationResult) {
        other.errors.forEach { error($0) }
        other.warnings.forEach { warn($0.path, $0.message) }
        omittedErrors += other.omittedErrors
        omittedWarnings += other.omittedWarnings
    }
}
