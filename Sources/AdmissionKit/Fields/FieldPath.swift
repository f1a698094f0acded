/// A path to a field in an object, rendered as Kubernetes users read it
/// (`spec.vmConfig.env[0].name`, `spec.selector.matchLabels[app.kubernetes.io/name]`)
/// and as an RFC 6901 JSON Pointer for patches (`/spec/vmConfig/env/0/name`).
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var steps: [Step]

    public init(_ steps: [Step] = []) { self.steps = steps }

    public init(_ keys: String...) { self.steps = keys.map { .key($0) } }

    public func child(_ key: String) -> FieldPath {
        var copy = self
        copy.steps.append(.key(key))
        return copy
    }

    public func index(_ i: Int) -> FieldPath {
        var copy = self
        copy.steps.append(.index(i))
        return copy
    }

    /// `rhs` below this path (a patch of a List item, `items[3]` + `spec.url`).
    public static func + (lhs: FieldPath, rhs: FieldPath) -> FieldPath {
        FieldPath(lhs.steps + rhs.steps)
    }

    public var parent: FieldPath {
        var copy = self
        if !copy.steps.isEmpty { copy.steps.removeLast() }
        return copy
    }

    /// The apimachinery rendering: dots between keys, `[i]` for indexes, and `[key]` for map
    /// keys that are not plain identifiers (label names contain dots and slashes).
    public var description: String {
        var out = ""
        for step in steps {
            switch step {
            case .index(let i): out += "[\(i)]"
            case .key(let k):
                if k.isEmpty || !k.utf8.allSatisfy(FieldPath.isPlainKeyByte) {
                    out += "[\(k)]"
                } else {
                    if !out.isEmpty { out += "." }
                    out += k
                }
            }
        }
        return out
    }

    private static func isPlainKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    /// RFC 6901: `~` becomes `~0` and `/` becomes `~1`, in that order.
    public var jsonPointer: String {
        var out = ""
        for step in steps {
            out += "/"
            switch step {
            case .index(let i): out += String(i)
            case .key(let k): out += FieldPath.escapePointerToken(k)
            }
        }
        return out
    }

    public static func escapePointerToken(_ token: String) -> String {
        // On bytes: Character iteration segments graphemes, ~10x the cost, on every patch path.
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

extension String {
    /// Foundation-free replacement, so AdmissionKit does not pull Foundation into the hot path.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}
