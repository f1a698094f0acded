/// The text of a finding (a detail, a hint, a warning), built from a string interpolation
/// as UTF-8 bytes and made a `String` once. `DefaultStringInterpolation` joins Strings, and
/// each join checks grapheme boundaries (about 500 instructions a piece): a denied review
/// builds dozens of pieces. Literals and interpolations at call sites read as usual.
public struct FindingText: ExpressibleByStringInterpolation, Sendable {
    public let string: String

    public init(_ string: String) { self.string = string }

    /// A literal alone is the compiler's constant String: nothing to build.
    public init(stringLiteral value: String) { string = value }

    public init(stringInterpolation: Interpolation) {
        string = String(decoding: stringInterpolation.bytes, as: UTF8.self)
    }

    public struct Interpolation: StringInterpolationProtocol {
        var bytes: [UInt8] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            bytes.reserveCapacity(literalCapacity + 24 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            appendInterpolation(literal)
        }

        public mutating func appendInterpolation(_ text: String) {
            bytes.append(utf8: text)
        }

        public mutating func appendInterpolation(_ text: Substring) {
            var text = text
            text.withUTF8 { bytes.append(contentsOf: $0) }
        }

        public mutating func appendInterpolation(_ text: FindingText) {
            appendInterpolation(text.string)
        }

        /// `text` as a JSON string literal, quoted and escaped: how findings show a value
        /// (what `JSON.string(text).compactText` writes, without building either).
        public mutating func appendInterpolation(quoted text: some StringProtocol) {
            JSONWriter.writeString(String(text), to: &bytes)
        }

        public mutating func appendInterpolation(_ number: Int) {
            bytes.append(decimal: number)
        }

        public mutating func appendInterpolation<T: CustomStringConvertible>(_ value: T) {
            appendInterpolation(value.description)
        }
    }
}
