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

    // Consuming: in a chain (`path.child("a").index(i)`) the intermediate path is appended
    // to in place instead of copied again.
    public consuming func child(_ key: String) -> FieldPath {
        steps.append(.key(key))
        return self
    }

    public consuming func index(_ i: Int) -> FieldPath {
        steps.append(.index(i))
        return self
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
        writeDescription(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `description`'s bytes, appended (built as bytes: a String `+=` checks grapheme
    /// boundaries at every join, ~10× the cost, and paths are rendered on every finding).
    func writeDescription<Sink: ByteSink>(to out: inout Sink) {
        // Steps borrowed from the buffer, keys read in place: iterating the array copied
        // each step (its key retained and released), and a finding's path is written twice.
        steps.withUnsafeBufferPointer { steps in
            for n in steps.indices {
                switch steps[n] {
                case .index(let i):
                    out.append(UInt8(ascii: "["))
                    out.append(decimal: i)
                    out.append(UInt8(ascii: "]"))
                case .key(let k):
                    FieldPath.withUTF8(k) { key in
                        if key.isEmpty || !key.allSatisfy(FieldPath.isPlainKeyByte) {
                            out.append(UInt8(ascii: "["))
                            out.append(bytes: key)
                            out.append(UInt8(ascii: "]"))
                        } else {
                            if n > 0 { out.append(UInt8(ascii: ".")) }
                            out.append(bytes: key)
                        }
                    }
                }
            }
        }
    }

    /// A key's UTF-8 in place (a native String always has it; the copy is for others).
    @inline(__always)
    static func withUTF8<R>(_ key: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = key.utf8.withContiguousStorageIfAvailable(body) { return result }
        var key = key
        return key.withUTF8(body)
    }

    /// A-Z, a-z, 0-9, '_' and '-', as two 64-bit masks over ASCII.
    @inline(__always)
    static func isPlainKeyByte(_ b: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_2000_0000_0000  // '-' and '0'...'9'
        let high: UInt64 = 0x07FF_FFFE_87FF_FFFE  // 'A'...'Z', '_', 'a'...'z'
        guard b < 128 else { return false }
        return ((b < 64 ? low : high) >> UInt64(b & 63)) & 1 == 1
    }

    /// RFC 6901: `~` becomes `~0` and `/` becomes `~1`.
    public var jsonPointer: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        writePointer(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `jsonPointer`'s bytes, appended.
    func writePointer<Sink: ByteSink>(to out: inout Sink) {
        steps.withUnsafeBufferPointer { steps in
            for step in steps {
                out.append(UInt8(ascii: "/"))
                switch step {
                case .index(let i): out.append(decimal: i)
                case .key(let k):
                    FieldPath.withUTF8(k) { key in
                        guard key.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
                            out.append(bytes: key)  // the usual case: nothing to escape
                            return
                        }
                        for b in key {
                            switch b {
                            case UInt8(ascii: "~"): out.append("~0")
                            case UInt8(ascii: "/"): out.append("~1")
                            default: out.append(b)
                            }
                        }
                    }
                }
            }
        }
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
