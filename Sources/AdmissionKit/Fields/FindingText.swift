/// The text of a finding (a detail, a hint, a warning), built from a string interpolation
/// as UTF-8 bytes and made a `String` once. `DefaultStringInterpolation` joins Strings, and
/// each join checks grapheme boundaries (about 500 instructions a piece): a denied review
/// builds dozens of pieces. Literals and interpolations at call sites read as usual.
public struct FindingText: ExpressibleByStringInterpolation, Sendable {
    public let string: String

    public init(_ string: String) { self.string = string }

    /// A literal alone is the compiler's constant String: nothing to build.
    public init(stringLiteral value: String) { string = value }

    public init(stringInterpolation: consuming Interpolation) {
        let bytes = stringInterpolation.bytes
        string = String(decoding: UnsafeBufferPointer(start: bytes.base, count: bytes.count), as: UTF8.self)
        bytes.deallocate()
    }

    /// The bytes so far, in a buffer of their own rather than an array: a piece is then a
    /// bounds check and a `memcpy` (`Array.append(contentsOf:)` cost ~70 instructions a
    /// piece, and a finding's texts have a few pieces each). The compiler builds one,
    /// appends to it and hands it, once, to `FindingText.init(stringInterpolation:)`, which
    /// frees the buffer (the protocol requires a copyable type; nothing else copies one).
    public struct Interpolation: StringInterpolationProtocol, ByteSink {
        fileprivate var bytes: GrowingBytes

        public init(literalCapacity: Int, interpolationCount: Int) {
            bytes = GrowingBytes(capacity: literalCapacity + 24 * interpolationCount)
        }

        public mutating func append(_ byte: UInt8) { bytes.append(byte) }

        public mutating func append(bytes: UnsafeBufferPointer<UInt8>) { self.bytes.append(bytes: bytes) }

        public mutating func appendLiteral(_ literal: String) {
            appendInterpolation(literal)
        }

        public mutating func appendInterpolation(_ text: String) {
            append(utf8: text)
        }

        public mutating func appendInterpolation(_ text: Substring) {
            var text = text
            text.withUTF8 { append(bytes: $0) }
        }

        public mutating func appendInterpolation(_ text: FindingText) {
            appendInterpolation(text.string)
        }

        /// `text` as a JSON string literal, quoted and escaped: how findings show a value
        /// (what `JSON.string(text).compactText` writes, without building either).
        public mutating func appendInterpolation(quoted text: some StringProtocol) {
            JSONWriter.writeString(String(text), to: &self)
        }

        public mutating func appendInterpolation(_ number: Int) {
            append(decimal: number)
        }

        public mutating func appendInterpolation<T: CustomStringConvertible>(_ value: T) {
            appendInterpolation(value.description)
        }
    }
}
