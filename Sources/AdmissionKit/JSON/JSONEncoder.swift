/// Compact and pretty JSON output. Compact output is what goes on the wire; `sortedKeys`
/// gives the canonical form golden tests compare.
public struct JSONWriter {
    public var sortedKeys = false
    public var indent: Int? = nil

    public init(sortedKeys: Bool = false, indent: Int? = nil) {
        self.sortedKeys = sortedKeys
        self.indent = indent
    }

    public func bytes(_ value: JSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out, level: 0)
        return out
    }

    public func string(_ value: JSON) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    public func write(_ value: JSON, into out: inout [UInt8], level: Int = 0) {
        write(value, to: &out, level: level)
    }

    /// `write` into any sink (an answer's `ByteWriter`).
    func write<Sink: ByteSink>(_ value: JSON, to out: inout Sink, level: Int = 0) {
        switch value {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let text): out.append(utf8: text)
        case .string(let s): JSONWriter.writeString(s, to: &out)
        case .array(let elements):
            if elements.isEmpty {
                out.append("[]")
                return
            }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(into: &out, level: level + 1)
                write(element, to: &out, level: level + 1)
            }
            newline(into: &out, level: level)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty {
                out.append("{}")
                return
            }
            out.append(UInt8(ascii: "{"))
            let members = sortedKeys ? object.members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } : object.members
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(into: &out, level: level + 1)
                JSONWriter.writeString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                write(member.value, to: &out, level: level + 1)
            }
            newline(into: &out, level: level)
            out.append(UInt8(ascii: "}"))
        }
    }

    private func newline<Sink: ByteSink>(into out: inout Sink, level: Int) {
        guard let indent else { return }
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<(indent * level) { out.append(UInt8(ascii: " ")) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Escapes as Go's encoding/json does for the characters that matter on the wire
    /// (quotes, backslash, control characters); `<`, `>`, `&` stay as they are.
    static func writeString<Sink: ByteSink>(_ string: String, to out: inout Sink) {
        var string = string
        string.withUTF8 { writeString(utf8: $0, to: &out) }
    }

    /// `writeString` for text already in UTF-8.
    static func writeString<Sink: ByteSink>(utf8: UnsafeBufferPointer<UInt8>, to out: inout Sink) {
        out.append(UInt8(ascii: "\""))
        writeStringContents(utf8: utf8, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// `writeString` into a ByteWriter (specialized here, for callers in other modules).
    public static func writeString(_ string: String, into out: ByteWriter) {
        var out = out
        writeString(string, to: &out)
    }

    /// The escaped text of a JSON string, without its quotes (parts of one string), into a
    /// ByteWriter.
    public static func writeStringContents(_ string: String, into out: ByteWriter) {
        var out = out
        writeStringContents(string, to: &out)
    }

    static func writeStringContents<Sink: ByteSink>(_ string: String, to out: inout Sink) {
        var string = string
        string.withUTF8 { writeStringContents(utf8: $0, to: &out) }
    }

    /// The escaped text of what `text` holds, into `out`.
    static func writeStringContents(of text: ByteWriter, into out: ByteWriter) {
        text.withBytes { bytes in
            var sink = out
            writeStringContents(utf8: bytes, to: &sink)
        }
    }

    static func writeStringContents<Sink: ByteSink>(utf8: UnsafeBufferPointer<UInt8>, to out: inout Sink) {
        var runStart = 0
        while true {
            let i = JSONParser.scanPlainToEnd(utf8, from: runStart)
            out.append(bytes: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
            guard i < utf8.count else { return }
            runStart = i + 1
            let byte = utf8[i]
            switch byte {
            case 0x22: out.append(#"\""#)
            case 0x5C: out.append(#"\\"#)
            case 0x0A: out.append(#"\n"#)
            case 0x0D: out.append(#"\r"#)
            case 0x09: out.append(#"\t"#)
            default:
                out.append(#"\u00"#)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
    }
}

extension JSON {
    /// Compact JSON text.
    public var compactText: String { JSONWriter().string(self) }
    /// Sorted-keys, indented JSON text: the canonical form used by golden files.
    public var canonicalText: String { JSONWriter(sortedKeys: true, indent: 2).string(self) }
}
