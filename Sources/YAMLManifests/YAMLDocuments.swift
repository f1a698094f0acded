import AdmissionKit
import Yams

/// One document of a manifest file, as JSON plus the source line of every field, so that
/// `check` can point at the line of the offending field.
public struct YAMLDocument: Sendable {
    public var value: JSON
    /// Line of the document's first node.
    public var line: Int
    public var lines: [FieldPath: Int]
    /// Where every node sits in the file's text (for in-place edits).
    public var spans: [FieldPath: SourceSpan] = [:]

    /// The line of `path`, or of its nearest ancestor that has one.
    public func line(of path: FieldPath) -> Int {
        position(of: path).line
    }

    /// Line and column (1-based) of `path`, or of its nearest ancestor; for a mapping
    /// member, where its key starts.
    public func position(of path: FieldPath) -> (line: Int, column: Int) {
        var p = path
        while true {
            if let span = spans[p] {
                return span.keyStart != nil ? (span.keyLine, span.keyColumn) : (span.line, span.column)
            }
            if let l = lines[p] { return (l, 1) }
            if p.steps.isEmpty { return (line, 1) }
            p = p.parent
        }
    }
}

public struct YAMLConversionError: Error, CustomStringConvertible {
    public var description: String
}

/// Manifest files (YAML or JSON, one or many documents) read as JSON values with the line
/// and source span of every field: what `check` and the policy loader read. (`check --fix`
/// edits the text in place through `SourceEdits`; nothing is re-serialised.)
public enum YAMLDocuments {
    /// Parses every document of a multi-document YAML (JSON is YAML too).
    public static func parse(_ text: String) throws -> [YAMLDocument] {
        var documents: [YAMLDocument] = []
        var sequence = try Yams.compose_all(yaml: text)
        while let node = sequence.next() {
            var lines: [FieldPath: Int] = [:]
            let value = try convert(node, path: FieldPath(), lines: &lines, depth: 0)
            documents.append(YAMLDocument(value: value, line: node.mark?.line ?? 1, lines: lines))
        }
        if let error = sequence.error { throw error }
        // Yams reports only where a node starts; libyaml's events give the whole span.
        let spans = try SourceMap.build(Array(text.unicodeScalars), text: text)
        if spans.count == documents.count {
            for i in documents.indices { documents[i].spans = spans[i] }
        }
        return documents
    }

    private static func convert(_ node: Node, path: FieldPath, lines: inout [FieldPath: Int], depth: Int) throws -> JSON {
        guard depth < JSONParser.defaultMaxDepth else {
            throw YAMLConversionError(description: "nesting deeper than \(JSONParser.defaultMaxDepth) levels")
        }
        if let mark = node.mark { lines[path] = mark.line }
        switch node {
        case .scalar(let scalar):
            return scalarValue(scalar)
        case .sequence(let sequence):
            return .array(try sequence.enumerated().map { try convert($1, path: path.index($0), lines: &lines, depth: depth + 1) })
        case .mapping(let mapping):
            var object = JSONObject()
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.string else {
                    throw YAMLConversionError(description: "line \(keyNode.mark?.line ?? 0): mapping keys must be strings")
                }
                object.append(JSONMember(key, try convert(valueNode, path: path.child(key), lines: &lines, depth: depth + 1)))
            }
            return .object(object)
        case .alias:
            throw YAMLConversionError(description: "YAML aliases are not supported in manifests")
        }
    }

    private static func scalarValue(_ scalar: Node.Scalar) -> JSON {
        let node = Node.scalar(scalar)
        switch Tag.Name(rawValue: node.tag.description) {
        case .null: return .null
        case .bool: return node.bool.map(JSON.bool) ?? .string(scalar.string)
        case .int:
            if let i = node.int { return .number(String(i)) }
            return .string(scalar.string)
        case .float:
            if let d = node.float, d.isFinite {
                return d == d.rounded() && abs(d) < 1e15 ? .number(String(Int(d))) : .number(String(d))
            }
            return .string(scalar.string)
        default: return .string(scalar.string)
        }
    }
}
