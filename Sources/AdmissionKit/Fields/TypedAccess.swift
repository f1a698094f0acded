/// Typed reads of optional fields that record a type error (under `typeRule`, once per
/// field) instead of failing the decode, so that a wrong type anywhere still gets every
/// other field checked.
/// `null` counts as unset, as the apiserver prunes nulls of non-nullable fields.
/// Paths are autoclosures: built only for a finding (each `FieldPath.child` allocates, and
/// rules read hundreds of fields per review that are fine).
extension ValidationResult {
    @discardableResult
    public mutating func object(_ value: JSON?, at path: @autoclosure () -> FieldPath) -> JSONObject? {
        guard let value, !value.isNull else { return nil }
        guard case .object(let o) = value else {
            reportType(.wrongType(path(), expected: "an object", got: value))
            return nil
        }
        return o
    }

    @discardableResult
    public mutating func array(_ value: JSON?, at path: @autoclosure () -> FieldPath) -> [JSON]? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let a) = value else {
            reportType(.wrongType(path(), expected: "a list", got: value))
            return nil
        }
        return a
    }

    @discardableResult
    public mutating func string(_ value: JSON?, at path: @autoclosure () -> FieldPath) -> String? {
        guard let value, !value.isNull else { return nil }
        guard case .string(let s) = value else {
            reportType(.wrongType(path(), expected: "a string", got: value))
            return nil
        }
        return s
    }

    /// An integer in `range`; fractions, exponents and strings are type errors.
    @discardableResult
    public mutating func integer(_ value: JSON?, at path: @autoclosure () -> FieldPath, in range: ClosedRange<Int>) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard case .number = value, let n = value.intValue else {
            reportType(.wrongType(path(), expected: "an integer", got: value))
            return nil
        }
        guard range.contains(n) else {
            report(.invalid(path(), "\(n) is out of range", hint: "use a value from \(range.lowerBound) to \(range.upperBound)"))
            return nil
        }
        return n
    }

    /// A string that must be one of `allowed`, spelled exactly; suggests the right spelling.
    @discardableResult
    public mutating func enumString(_ value: JSON?, at path: @autoclosure () -> FieldPath, allowed: [String]) -> String? {
        guard let value, !value.isNull else { return nil }
        guard case .string(let s) = value else {
            let hint: FindingText = "write one of \(allowed.joined(separator: ", ")) as a string"
            reportType(FieldError(.typeInvalid, path(), "must be a string, not \(value.typeName)", hint: hint))
            return nil
        }
        guard allowed.contains(s) else {
            let hint: FindingText
            if let match = allowed.first(where: { $0.lowercased() == s.lowercased() }) {
                hint = "did you mean \(match)? values are case-sensitive"
            } else {
                hint = "use one of \(allowed.joined(separator: ", "))"
            }
            report(FieldError(.notSupported, path(), "unsupported value \(JSON.string(String(s.prefix(64))).compactText)", hint: hint))
            return nil
        }
        return s
    }
}
