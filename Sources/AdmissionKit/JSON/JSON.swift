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
    public private(set) var members: [JSONMember]
    /// Bit `n % 64` set for each key of n UTF-8 bytes. Most lookups miss (rules ask for
    /// every field a spec may have; a spec sets a few): a key of a length no member has
    /// misses without a scan. Kept by every mutation, hence `members` is read-only.
    private var keyLengths: UInt64

    public init(members: [JSONMember] = []) {
        self.members = members
        keyLengths = Self.keyLengths(of: members)
    }

    public init(_ pairs: [(key: String, value: JSON)]) {
        self.init(members: pairs.map { JSONMember($0.key, $0.value) })
    }

    /// The `keyLengths` bit of a key of `length` UTF-8 bytes.
    @inline(__always)
    private static func lengthBit(_ length: Int) -> UInt64 { 1 &<< UInt64(length & 63) }

    private static func keyLengths(of members: [JSONMember]) -> UInt64 {
        members.withUnsafeBufferPointer { members in
            var bits: UInt64 = 0
            for i in members.indices { bits |= lengthBit(members[i].key.utf8.count) }
            return bits
        }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    /// Adds a member at the end (a key already there is shadowed: the last one wins).
    public mutating func append(_ member: JSONMember) {
        keyLengths |= Self.lengthBit(member.key.utf8.count)
        members.append(member)
    }

    /// Edits the value of member `index` in place (its key stays).
    public mutating func modifyValue<R, E: Error>(at index: Int, _ body: (inout JSON) throws(E) -> R) throws(E) -> R {
        try body(&members[index].value)
    }

    /// The last member with this key wins, as in Go's encoding/json.
    public subscript(key: String) -> JSON? {
        get {
            // By index from the end, comparing keys in place (iterating `reversed()` copied
            // each member), lengths first: a String `==` that fails goes through
            // Unicode-equivalence checks out of line, and rules look up fields thousands of
            // times per second.
            let length = key.utf8.count
            guard keyLengths & Self.lengthBit(length) != 0 else { return nil }
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
                    keyLengths = Self.keyLengths(of: members)  // another member may have the length
                }
            } else if let newValue {
                append(JSONMember(key, newValue))
            }
        }
    }

    public func has(_ key: String) -> Bool {
        let length = key.utf8.count
        guard keyLengths & Self.lengthBit(length) != 0 else { return false }
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
