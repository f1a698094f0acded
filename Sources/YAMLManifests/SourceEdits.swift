import AdmissionKit
import Yams

public struct SourceEditError: Error, CustomStringConvertible {
    public var description: String
}

/// JSON Patch operations applied to YAML (or JSON) source text at the positions libyaml
/// reports: comments, untouched lines and the spelling of every untouched value stay byte
/// for byte. New values are written so that they read back as the same JSON type.
public struct SourceEdits {
    struct Edit {
        var start: Int
        var end: Int
        var text: String
        var order: Int
    }

    private var edits: [Edit] = []
    private let scalars: [Unicode.Scalar]
    /// A line break other than LF or CRLF: libyaml also breaks lines at a lone CR and at
    /// NEL, LS and PS, the edits below find lines by "\n" only, so such a text is not
    /// edited at all (an edit across a lone CR joined two lines: `spec:\r  targetRef:`
    /// became `spec:    url: …`).
    private let hasOtherLineBreaks: Bool

    public init(text: String) {
        let scalars = Array(text.unicodeScalars)
        self.scalars = scalars
        hasOtherLineBreaks = scalars.indices.contains { i in
            switch scalars[i] {
            case "\r": i + 1 == scalars.count || scalars[i + 1] != "\n"
            case "\u{85}", "\u{2028}", "\u{2029}": true
            default: false
            }
        }
    }

    /// Adds the edits for one document's patch. `prefix` is where the patched object sits
    /// in the document (`items[3]` in a List); `final` is the patched object itself.
    public mutating func add(_ operations: [PatchOperation], final: JSON, prefix: FieldPath, spans: [FieldPath: SourceSpan]) throws {
        guard !hasOtherLineBreaks else {
            throw SourceEditError(description: "lines end with a lone CR or a Unicode line separator (NEL, LS, PS); save the file with LF or CRLF line endings")
        }
        // An operation below one that already writes its parent's final value is covered
        // by it (the defaulter adds targetRefs, then a group inside it).
        var anchors: [FieldPath] = []
        for op in operations {
            if anchors.contains(where: { op.path == $0 || isBelow(op.path, $0) }) { continue }
            let path = prefix + op.path
            switch op.op {
            case .add, .replace:
                guard let value = final.value(at: op.path) else { throw SourceEditError(description: "\(op.path): no final value") }
                if let span = spans[path] {
                    try replace(span, parent: spans[path.parent], with: value)
                } else {
                    try insert(path, value, spans: spans)
                }
                anchors.append(op.path)
            case .remove:
                guard let span = spans[path], let parent = spans[path.parent] else { throw SourceEditError(description: "\(path): not in the source") }
                try remove(span, parent: parent)
            }
        }
    }

    /// The text with every edit applied.
    public func apply() -> String {
        var out = scalars
        // Back to front, so earlier offsets stay valid; at one position, later operations
        // first, so the text reads in operation order.
        for edit in edits.sorted(by: { ($0.start, $0.order) > ($1.start, $1.order) }) {
            out.replaceSubrange(edit.start..<edit.end, with: edit.text.unicodeScalars)
        }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: out)
        return String(text)
    }

    public var isEmpty: Bool { edits.isEmpty }

    private mutating func edit(_ start: Int, _ end: Int, _ text: String) {
        edits.append(Edit(start: start, end: end, text: text, order: edits.count))
    }

    private func isBelow(_ path: FieldPath, _ ancestor: FieldPath) -> Bool {
        path.steps.count > ancestor.steps.count && path.steps.starts(with: ancestor.steps)
    }

    private mutating func replace(_ span: SourceSpan, parent: SourceSpan?, with value: JSON) throws {
        let flowContext = span.isFlow || parent?.isFlow == true
        if !span.isCollection, !value.isCollection {
            edit(span.start, span.end, YAMLText.scalar(value, like: span.style, inFlow: flowContext))
            return
        }
        var text = YAMLText.flow(value)
        // A block sequence may sit at its key's own column; a flow node there would not
        // be the key's value, so it moves two columns in.
        if !flowContext, span.isCollection, let parent, parent.style == .blockMapping, span.column <= parent.column {
            text = "  " + text
        }
        edit(span.start, span.end, text)
    }

    /// Adds a mapping member after the mapping's last one.
    private mutating func insert(_ path: FieldPath, _ value: JSON, spans: [FieldPath: SourceSpan]) throws {
        guard case .key(let key)? = path.steps.last, let parent = spans[path.parent] else {
            throw SourceEditError(description: "\(path): only mapping members can be added in place")
        }
        switch parent.style {
        case .flowMapping:
            let lastEnd = spans.filter { $0.key.parent == path.parent && $0.key != path.parent }.map(\.value.end).max()
            if let lastEnd {
                edit(lastEnd, lastEnd, ", " + YAMLText.flowKey(key) + ": " + YAMLText.flow(value))
            } else {
                edit(parent.start + 1, parent.start + 1, YAMLText.flowKey(key) + ": " + YAMLText.flow(value))
            }
        case .blockMapping:
            let indent = String(repeating: " ", count: parent.column - 1)
            var position = parent.end
            while position < scalars.count, scalars[position] != "\n" { position += 1 }
            let prefix = position < scalars.count ? "" : "\n"
            if position < scalars.count { position += 1 }
            edit(position, position, prefix + indent + YAMLText.blockMember(key, value, indent: indent) + "\n")
        default:
            throw SourceEditError(description: "\(path): parent is not a mapping")
        }
    }

    /// Removes a mapping member: its lines in block style, `key: value` and a comma in flow.
    private mutating func remove(_ span: SourceSpan, parent: SourceSpan) throws {
        guard let keyStart = span.keyStart else { throw SourceEditError(description: "only mapping members can be removed in place") }
        if parent.isFlow {
            var end = span.end
            var after = end
            while after < scalars.count, scalars[after] == " " || scalars[after] == "\n" || scalars[after] == "\t" { after += 1 }
            if after < scalars.count, scalars[after] == "," {
                end = after + 1
                while end < scalars.count, scalars[end] == " " { end += 1 }
                edit(keyStart, end, "")
                return
            }
            var before = keyStart
            while before > 0, [" ", "\n", "\t"].contains(scalars[before - 1]) { before -= 1 }
            edit(before > 0 && scalars[before - 1] == "," ? before - 1 : keyStart, end, "")
            return
        }
        var lineStart = keyStart
        while lineStart > 0, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
        let start = scalars[lineStart..<keyStart].allSatisfy { $0 == " " || $0 == "\t" } ? lineStart : keyStart
        var end = span.end
        while end < scalars.count, scalars[end] != "\n" { end += 1 }
        if end < scalars.count { end += 1 }
        edit(start, end, "")
    }
}

extension JSON {
    fileprivate var isCollection: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }
}

/// YAML spellings that read back as exactly the JSON value written.
enum YAMLText {
    /// In the style the old value was written in, where that style can hold it.
    static func scalar(_ value: JSON, like style: SourceSpan.Style, inFlow: Bool = false) -> String {
        switch value {
        case .string(let s):
            switch style {
            case .plain where isPlainSafe(s) && !(inFlow && s.contains(where: { ",[]{}".contains($0) })): return s
            case .singleQuoted where !s.unicodeScalars.contains(where: { $0.value < 0x20 }): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
            default: return JSON.string(s).compactText
            }
        default: return value.compactText
        }
    }

    /// JSON is YAML's flow style: a JSON text reads back as the same value.
    static func flow(_ value: JSON) -> String { value.compactText }

    static func flowKey(_ key: String) -> String { JSON.string(key).compactText }

    /// `key: value` in block style; collections indented under the key.
    static func blockMember(_ key: String, _ value: JSON, indent: String) -> String {
        let keyText = isPlainSafe(key) ? key : JSON.string(key).compactText
        switch value {
        case .object(let o) where !o.isEmpty:
            return keyText + ":\n" + o.members.map { indent + "  " + blockMember($0.key, $0.value, indent: indent + "  ") }.joined(separator: "\n")
        case .array(let a) where !a.isEmpty:
            return keyText + ":\n" + a.map { indent + "  - " + blockItem($0, indent: indent + "    ") }.joined(separator: "\n")
        default:
            return keyText + ": " + (value.isCollection ? flow(value) : scalar(value, like: .plain))
        }
    }

    private static func blockItem(_ value: JSON, indent: String) -> String {
        switch value {
        case .object(let o) where !o.isEmpty:
            return o.members.enumerated().map { i, m in (i == 0 ? "" : indent) + blockMember(m.key, m.value, indent: indent) }.joined(separator: "\n")
        default:
            return value.isCollection ? flow(value) : scalar(value, like: .plain)
        }
    }

    /// A plain scalar that YAML reads back as this same string (not a bool, number, null,
    /// timestamp, or anything with indicator characters).
    static func isPlainSafe(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else { return false }
        if "-?:,[]{}#&*!|>'\"%@` ".unicodeScalars.contains(first) || last == " " { return false }
        if s.contains(": ") || s.contains(" #") || s.hasSuffix(":") { return false }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0.value >= 0x80 }) { return false }
        let node = Node.scalar(Node.Scalar(s))
        return Resolver.default.resolveTag(of: node) == .str && (s.first!.isLetter || s.first! == "/" || s.first! == "_")
    }
}
