/// A JSON value that keeps what a webhook must not lose: object key order (so patches and
/// golden files are stable) and numbers as their literal text (so int64 and big values
/// round-trip exactly, as Go's apimachinery would see them).
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text, already validated by the parser or produced by `number(_:)`.
    case number(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public static func number(_ value: Int) -> JSON { .number(String(value)) }

    /// The JSON type name, as error messages say it ("string", "object", …).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The value of an integer literal (no fraction, no exponent) that fits in Int.
    public var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Member lookup for objects; nil for other types and missing keys.
    public subscript(key: String) -> JSON? {
        objectValue?[key]
    }
}

/// One member of an object. A struct, not a tuple: arrays of tuples are copied and
/// destroyed through the runtime's generic tuple witnesses, a few hundred instructions a
/// member, and every review destroys its tree.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSON

    public init(_ key: String, _ value: JSON) {
        self.key = key
        self.value = value
    }
}

/// An ordered JSON object. Lookups are linear: Kubernetes objects have few keys per level,
/// and order must survive a decode/encode round trip.
public struct JSONObject: Sendable, Equatable {
    public var members: [JSONMember]

    public init(members: [JSONMember] = []) {
        self.members = members
    }

    public init(_ pairs: [(key: String, value: JSON)]) {
        members = pairs.map { JSONMember($0.key, $0.value) }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    /// The last member with this key wins, as in Go's encoding/json.
    public subscript(key: String) -> JSON? {
        get {
            // By index from the end, comparing keys in place (iterating `reversed()` copied
            // each member), lengths first: a String `==` that fails goes through
            // Unicode-equivalence checks out of line, and rules look up fields thousands of
            // times per second.
            let length = key.utf8.count
            return members.withUnsafeBufferPointer { buffer in
                var i = buffer.count
                while i > 0 {
                    i -= 1
                    if buffer[i].key.utf8.count == length, buffer[i].key == key { return buffer[i].value }
                }
                return nil
            }
        }
        set {
            if let index = members.lastIndex(where: { $0.key == key }) {
                if let newValue {
                    members[index].value = newValue
                } else {
                    members.remove(at: index)
                }
            } else if let newValue {
                members.append(JSONMember(key, newValue))
            }
        }
    }

    public func has(_ key: String) -> Bool {
        let length = key.utf8.count
        return members.withUnsafeBufferPointer { buffer in buffer.contains { $0.key.utf8.count == length && $0.key == key } }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        for (l, r) in zip(lhs.members, rhs.members) where l.key != r.key || l.value != r.value {
            return false
        }
        return true
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
    public init(nilLiteral: ()) { self = .null }
}
