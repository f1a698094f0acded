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
        var out: [UInt8] = []
        out.reserveCapacity(64)
        writeDescription(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `description`'s bytes, appended (built as bytes: a String `+=` checks grapheme
    /// boundaries at every join, ~10× the cost, and paths are rendered on every finding).
    public func writeDescription(into out: inout [UInt8]) {
        let start = out.count
        for step in steps {
            switch step {
            case .index(let i):
                out.append(UInt8(ascii: "["))
                FieldPath.writeDecimal(i, into: &out)
                out.append(UInt8(ascii: "]"))
            case .key(let k):
                if k.isEmpty || !k.utf8.allSatisfy(FieldPath.isPlainKeyByte) {
                    out.append(UInt8(ascii: "["))
                    out.append(contentsOf: k.utf8)
                    out.append(UInt8(ascii: "]"))
                } else {
                    if out.count > start { out.append(UInt8(ascii: ".")) }
                    out.append(contentsOf: k.utf8)
                }
            }
        }
    }

    private static func isPlainKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    /// RFC 6901: `~` becomes `~0` and `/` becomes `~1`.
    public var jsonPointer: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        writePointer(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `jsonPointer`'s bytes, appended.
    public func writePointer(into out: inout [UInt8]) {
        for step in steps {
            out.append(UInt8(ascii: "/"))
            switch step {
            case .index(let i): FieldPath.writeDecimal(i, into: &out)
            case .key(let k):
                for b in k.utf8 {
                    switch b {
                    case UInt8(ascii: "~"): out.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "0")])
                    case UInt8(ascii: "/"): out.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "1")])
                    default: out.append(b)
                    }
                }
            }
        }
    }

    /// `i` in decimal (indexes are never negative; a negative one is written with its sign).
    static func writeDecimal(_ i: Int, into out: inout [UInt8]) {
        if i < 0 {
            out.append(UInt8(ascii: "-"))
            out.append(contentsOf: String(i.magnitude).utf8)
            return
        }
        if i < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(i))
            return
        }
        out.append(contentsOf: String(i).utf8)
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
