import AdmissionKit
import CYaml

/// Where each node of a YAML document sits in the source text, from libyaml's own events
/// (the parser Yams wraps), so that `check --fix` can edit the text in place instead of
/// re-serialising it. Offsets count Unicode scalars, as libyaml's marks do.
public struct SourceSpan: Sendable, Equatable {
    public enum Style: Sendable, Equatable {
        case plain, singleQuoted, doubleQuoted, literal, folded
        case blockMapping, flowMapping, blockSequence, flowSequence
    }

    public var start: Int
    /// End of the node's text: after a scalar's last character (block scalars: trailing
    /// line breaks not included), after a flow collection's closing bracket, after a block
    /// collection's last child.
    public var end: Int
    public var style: Style
    /// For a mapping member: where its key starts (offset, line, column).
    public var keyStart: Int?
    public var keyLine = 0
    public var keyColumn = 0
    public var line: Int
    public var column: Int

    public var isFlow: Bool { style == .flowMapping || style == .flowSequence }
    public var isCollection: Bool { [.blockMapping, .flowMapping, .blockSequence, .flowSequence].contains(style) }
}

public struct SourceMapError: Error, CustomStringConvertible {
    public var description: String
}

enum SourceMap {
    /// One span map per document, in document order.
    static func build(_ scalars: [Unicode.Scalar], text: String) throws -> [[FieldPath: SourceSpan]] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw SourceMapError(description: "libyaml could not start") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws -> [[FieldPath: SourceSpan]] in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var walker = Walker(scalars: scalars)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw SourceMapError(description: "line \(parser.problem_mark.line + 1): " + (parser.problem.map { String(cString: $0) } ?? "YAML error"))
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                walker.handle(event)
            }
            return walker.documents
        }
    }

    private struct Frame {
        var path: FieldPath
        var isMapping: Bool
        var key: String?
        var keyStart: Int?
        var keyLine = 0
        var keyColumn = 0
        var index = 0
        var span: SourceSpan
    }

    private struct Walker {
        let scalars: [Unicode.Scalar]
        var documents: [[FieldPath: SourceSpan]] = []
        var spans: [FieldPath: SourceSpan] = [:]
        var stack: [Frame] = []

        mutating func handle(_ event: yaml_event_t) {
            let start = Int(event.start_mark.index)
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                spans = [:]
                stack = []
            case YAML_DOCUMENT_END_EVENT:
                documents.append(spans)
            case YAML_SCALAR_EVENT:
                let value = String(decoding: UnsafeBufferPointer(start: event.data.scalar.value, count: event.data.scalar.length), as: UTF8.self)
                if var top = stack.last, top.isMapping, top.key == nil {
                    top.key = value
                    top.keyStart = start
                    top.keyLine = line
                    top.keyColumn = column
                    stack[stack.count - 1] = top
                    return
                }
                let style: SourceSpan.Style =
                    switch event.data.scalar.style {
                    case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                    case YAML_LITERAL_SCALAR_STYLE: .literal
                    case YAML_FOLDED_SCALAR_STYLE: .folded
                    default: .plain
                    }
                var end = Int(event.end_mark.index)
                // Block scalars end where the next token's indentation starts: keep only
                // the text.
                while end > start, scalars[end - 1].properties.isWhitespace { end -= 1 }
                place(SourceSpan(start: start, end: end, style: style, line: line, column: column))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let flow =
                    isMapping ? event.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE : event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                let style: SourceSpan.Style = isMapping ? (flow ? .flowMapping : .blockMapping) : (flow ? .flowSequence : .blockSequence)
                let path = nextPath()
                var span = SourceSpan(start: start, end: start, style: style, line: line, column: column)
                stampKey(&span)
                stack.append(Frame(path: path, isMapping: isMapping, span: span))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard var frame = stack.popLast() else { return }
                if frame.span.isFlow { frame.span.end = Int(event.end_mark.index) }
                spans[frame.path] = frame.span
                advance(past: frame.span.end)
            case YAML_ALIAS_EVENT:
                place(SourceSpan(start: start, end: Int(event.end_mark.index), style: .plain, line: line, column: column))
            default: break
            }
        }

        /// The path of the node that starts now.
        private func nextPath() -> FieldPath {
            guard let top = stack.last else { return FieldPath() }
            return top.isMapping ? top.path.child(top.key ?? "") : top.path.index(top.index)
        }

        /// A mapping member's value records where its key is.
        private func stampKey(_ span: inout SourceSpan) {
            guard let top = stack.last, top.isMapping else { return }
            span.keyStart = top.keyStart
            span.keyLine = top.keyLine
            span.keyColumn = top.keyColumn
        }

        private mutating func place(_ span: SourceSpan) {
            var span = span
            let path = nextPath()
            stampKey(&span)
            spans[path] = span
            advance(past: span.end)
        }

        /// A child ended at `end`: the parent moves to its next key or index and grows.
        private mutating func advance(past end: Int) {
            guard var top = stack.popLast() else { return }
            if top.isMapping {
                top.key = nil
                top.keyStart = nil
            } else {
                top.index += 1
            }
            if !top.span.isFlow { top.span.end = max(top.span.end, end) }
            stack.append(top)
        }
    }
}
