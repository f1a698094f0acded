/// One RFC 6902 operation. We only emit add, remove and replace: they are all a defaulter
/// needs, and each applies unambiguously to the object as sent.
public struct PatchOperation: Sendable, Equatable {
    public enum Op: String, Sendable { case add, remove, replace }

    public var op: Op
    public var path: FieldPath
    public var value: JSON?

    public init(_ op: Op, _ path: FieldPath, _ value: JSON? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }

    public var json: JSON {
        var object = JSONObject([("op", .string(op.rawValue)), ("path", .string(path.jsonPointer))])
        if let value { object["value"] = value }
        return .object(object)
    }

    /// The JSON text of `operations` as one array (what `json` of each would write), written
    /// as bytes: the response carries it base64-encoded.
    static func writePatch(_ operations: [PatchOperation], to out: ByteWriter) {
        var out = out
        let pointer = ByteWriter(capacity: 64)
        out.append(UInt8(ascii: "["))
        for (i, operation) in operations.enumerated() {
            out.append(i == 0 ? #"{"op":""# : #",{"op":""#)
            out.append(utf8: operation.op.rawValue)
            out.append(#"","path":""#)
            // Pointer tokens are JSON-escaped too (keys may hold quotes or control bytes).
            pointer.removeAll()
            var sink = pointer
            operation.path.writePointer(to: &sink)
            pointer.withBytes { JSONWriter.writeStringContents(utf8: $0, to: &out) }
            out.append(UInt8(ascii: "\""))
            if let value = operation.value {
                out.append(#","value":"#)
                JSONWriter().write(value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }
}

public struct JSONPatchError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension JSON {
    /// The value at `path`, or nil when any step is missing or of the wrong type.
    public func value(at path: FieldPath) -> JSON? {
        var current = self
        for step in path.steps {
            switch (step, current) {
            case (.key(let k), .object(let o)):
                guard let next = o[k] else { return nil }
                current = next
            case (.index(let i), .array(let a)):
                guard a.indices.contains(i) else { return nil }
                current = a[i]
            default: return nil
            }
        }
        return current
    }

    /// Applies operations in order with RFC 6902 semantics (add under an existing parent,
    /// replace/remove an existing member). Throws on the first that does not apply.
    public func applying(_ operations: [PatchOperation]) throws(JSONPatchError) -> JSON {
        var result = self
        for operation in operations {
            try result.apply(operation)
        }
        return result
    }

    public mutating func apply(_ operation: PatchOperation) throws(JSONPatchError) {
        guard !operation.path.steps.isEmpty else {
            guard operation.op != .remove, let value = operation.value else {
                throw JSONPatchError(description: "cannot remove the whole document")
            }
            self = value
            return
        }
        try apply(operation, level: 0)
    }

    /// Walks down `operation.path` from step `level` and edits the container of its last
    /// step in place. Each level is moved out of its parent (null left behind) before it is
    /// edited, so every level is uniquely owned and no large sibling array is copied: a patch
    /// of n operations costs O(n), not O(n²). Plain recursion with the operation borrowed:
    /// a closure-taking walk was specialised into copying the captured operation (its
    /// path and value) at every level. (Binding with `switch (self, step)` would keep a
    /// second reference alive in the tuple.)
    private mutating func apply(_ operation: PatchOperation, level: Int) throws(JSONPatchError) {
        let steps = operation.path.steps
        if level == steps.count - 1 {
            try applyLast(operation, steps[level])
            return
        }
        switch steps[level] {
        case .key(let key): try descend(operation, level: level, key: key)
        case .index(let i):
            // A numeric token addresses a member of an object (label keys can be digits).
            if case .object = self {
                try descend(operation, level: level, key: String(i))
                return
            }
            guard case .array(var array) = self else { throw JSONPatchError(description: "path does not exist at \(i)") }
            self = .null
            defer { self = .array(array) }
            guard array.indices.contains(i) else { throw JSONPatchError(description: "missing index \(i)") }
            var child = array[i]
            array[i] = .null
            defer { array[i] = child }
            try child.apply(operation, level: level + 1)
        }
    }

    private mutating func descend(_ operation: PatchOperation, level: Int, key: String) throws(JSONPatchError) {
        guard case .object(var object) = self else { throw JSONPatchError(description: "path does not exist at \(key)") }
        self = .null
        defer { self = .object(object) }
        guard let index = object.members.lastIndex(where: { $0.key == key }) else {
            throw JSONPatchError(description: "missing member \(key)")
        }
        try object.modifyValue(at: index) { (child: inout JSON) throws(JSONPatchError) in try child.apply(operation, level: level + 1) }
    }

    /// The edit itself, on the container that holds the last step.
    private mutating func applyLast(_ operation: PatchOperation, _ last: FieldPath.Step) throws(JSONPatchError) {
        switch last {
        case .key(let key):
            guard case .object(var object) = self else { throw JSONPatchError(description: "\(operation.path.jsonPointer): parent is not an object") }
            self = .null  // the container is now uniquely owned by `object`: no copy on write
            defer { self = .object(object) }
            try object.apply(operation, key: key)
        case .index(let i):
            if case .object(var object) = self {
                // A numeric token addresses a member of an object (label keys can be digits).
                self = .null
                defer { self = .object(object) }
                try object.apply(operation, key: String(i))
                return
            }
            guard case .array(var array) = self else { throw JSONPatchError(description: "\(operation.path.jsonPointer): parent is not a list") }
            self = .null
            defer { self = .array(array) }
            switch operation.op {
            case .add:
                guard i <= array.count else { throw JSONPatchError(description: "\(operation.path.jsonPointer): index out of range") }
                array.insert(operation.value ?? .null, at: i)
            case .replace, .remove:
                guard array.indices.contains(i) else { throw JSONPatchError(description: "\(operation.path.jsonPointer): index out of range") }
                if operation.op == .remove { array.remove(at: i) } else { array[i] = operation.value ?? .null }
            }
        }
    }
}

extension JSONObject {
    fileprivate mutating func apply(_ operation: PatchOperation, key: String) throws(JSONPatchError) {
        switch operation.op {
        case .add: self[key] = operation.value ?? .null
        case .replace:
            guard has(key) else { throw JSONPatchError(description: "\(operation.path.jsonPointer): no such member") }
            self[key] = operation.value ?? .null
        case .remove:
            guard has(key) else { throw JSONPatchError(description: "\(operation.path.jsonPointer): no such member") }
            // Spelled out: a bare `nil` in a JSON-typed expression is JSON.null (the type is
            // ExpressibleByNilLiteral), which left `key: null` behind instead of removing it.
            self[key] = Optional<JSON>.none
        }
    }
}

/// Records minimal patch operations while editing a copy of an object, so the patch is by
/// construction one that applies cleanly to the object as sent.
public struct ObjectEditor: Sendable {
    public private(set) var object: JSON
    /// The edits in order, one operation each, except for arrays replaced whole (below):
    /// those stand as one `replace` whose value is filled in from `object` at the end.
    private var recorded: [PatchOperation] = []
    /// Edits of elements, per array; the array edited last is counted apart, since edits
    /// come in runs and comparing two paths is cheaper than hashing one per edit.
    private var elementEdits: [FieldPath: Int] = [:]
    private var lastEditedArray: (path: FieldPath, edits: Int)?
    /// Arrays replaced whole: no more operations are recorded below them.
    private var wholeArrays: Set<FieldPath> = []
    /// Arrays past the threshold that were edited themselves: kept edit by edit.
    private var keptArrays: Set<FieldPath> = []

    /// Past this many edits inside one array, the array is replaced whole instead: a
    /// config with 200,000 plain credentials made 200,000 operations, close to 200 MB in
    /// memory for a 2 MB object. One `replace` of the array with its final value costs
    /// about the array's own size.
    public static let maxEditsPerArray = 32

    public init(_ object: JSON) { self.object = object }

    /// The patch; it applies to the object as sent.
    public var operations: [PatchOperation] {
        guard !wholeArrays.isEmpty else { return recorded }
        return recorded.compactMap { op in
            guard op.value == nil, op.op == .replace, wholeArrays.contains(op.path) else { return op }
            // Removed by a later edit: that edit's own operation removes it.
            return object.value(at: op.path).map { PatchOperation(.replace, op.path, $0) }
        }
    }

    /// `add` when the member is absent, `replace` when present; nothing when unchanged.
    public mutating func set(_ path: FieldPath, _ value: JSON) {
        let existing = object.value(at: path)
        if existing == value { return }
        let op = PatchOperation(existing == nil ? .add : .replace, path, value)
        record(op)
    }

    public mutating func remove(_ path: FieldPath) {
        guard object.value(at: path) != nil else { return }
        record(PatchOperation(.remove, path))
    }

    private mutating func record(_ op: PatchOperation) {
        do {
            try object.apply(op)
        } catch {
            preconditionFailure("defaulter produced a patch that does not apply: \(error)")
        }
        if wholeArrays.contains(where: { op.path.isBelow($0) }) { return }  // the array's replace covers it
        if recorded.isEmpty { recorded.reserveCapacity(8) }  // a review makes a few edits
        recorded.append(op)
        guard case .index? = op.path.steps.last else { return }
        guard countEdit(ofElement: op.path) > Self.maxEditsPerArray else { return }
        let array = op.path.parent
        guard !keptArrays.contains(array) else { return }
        // The array (and each parent) must be as sent: nothing recorded touched them. Judged
        // once: an array that cannot be replaced whole is not scanned again at every edit.
        guard !recorded.contains(where: { array.isBelow($0.path) || array == $0.path }) else {
            keptArrays.insert(array)
            return
        }
        let first = recorded.firstIndex { $0.path.isBelow(array) }!
        recorded.removeAll { $0.path.isBelow(array) }
        recorded.insert(PatchOperation(.replace, array), at: first)
        wholeArrays.insert(array)
    }

    /// One more edit of the array element at `element`: how many its array has had.
    private mutating func countEdit(ofElement element: FieldPath) -> Int {
        if let last = lastEditedArray {
            if element.isChild(of: last.path) {
                lastEditedArray!.edits += 1
                return last.edits + 1
            }
            elementEdits[last.path] = last.edits
        }
        let array = element.parent
        let edits = (elementEdits.isEmpty ? 0 : elementEdits[array] ?? 0) + 1
        lastEditedArray = (array, edits)
        return edits
    }

    public var patchJSON: JSON { .array(operations.map(\.json)) }
}

extension FieldPath {
    /// Strictly inside `ancestor`.
    func isBelow(_ ancestor: FieldPath) -> Bool {
        steps.count > ancestor.steps.count && steps.starts(with: ancestor.steps)
    }

    /// One step below `parent` (compared in place: `parent` of this path would be a copy).
    func isChild(of parent: FieldPath) -> Bool {
        steps.count == parent.steps.count + 1 && steps.starts(with: parent.steps)
    }
}

extension FieldPath {
    /// Parses an RFC 6901 pointer. Numeric tokens become indexes (our patches only address
    /// arrays with numbers and our objects with non-numeric keys).
    public init(jsonPointer: String) throws(JSONPatchError) {
        guard jsonPointer.isEmpty || jsonPointer.hasPrefix("/") else {
            throw JSONPatchError(description: "pointer must start with '/': \(jsonPointer)")
        }
        var steps: [Step] = []
        for raw in jsonPointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let token = String(raw).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let i = Int(token), i >= 0, String(i) == token { steps.append(.index(i)) } else { steps.append(.key(token)) }
        }
        self.init(steps)
    }
}
