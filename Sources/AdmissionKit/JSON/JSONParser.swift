/// Why a body could not be read as JSON, with the byte offset where reading stopped.
public struct JSONParseError: Error, Equatable, CustomStringConvertible, Sendable {
    public var offset: Int
    public var reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// Which parts of a document to build. Parts not built are checked for syntax only (the
/// JSON structure, and that each string ends; not the escapes or UTF-8 inside it, which
/// nobody reads) and come out as `null` (their keys stay): building and freeing a tree is
/// most of what a review costs, and a review reads little of the AdmissionReview it is sent.
public indirect enum JSONReadSet: Sendable {
    /// Build everything below.
    case all
    /// Check the syntax, build nothing: the value is `null`.
    case none
    /// As `none`, and an object member is left out of its object: for the parts nothing
    /// asks about, not even whether they are there (a skipped member still costs its key
    /// and an entry).
    case omit
    /// In an object, each listed member follows its own set and the others follow
    /// `others`; in an array, every element follows this same set.
    case members([(key: String, read: JSONReadSet)], others: JSONReadSet)

    /// Everything except the values at `paths` (member keys from the root).
    public static func skipping(_ paths: [[String]]) -> JSONReadSet {
        var set = JSONReadSet.all
        for path in paths where !path.isEmpty { set = set.adding(skip: path[...]) }
        return set
    }

    private func adding(skip path: ArraySlice<String>) -> JSONReadSet {
        guard let key = path.first else { return .none }
        switch self {
        case .none, .omit: return self
        case .all: return .members([(key, JSONReadSet.all.adding(skip: path.dropFirst()))], others: .all)
        case .members(var members, let others):
            if let i = members.firstIndex(where: { $0.key == key }) {
                members[i].read = members[i].read.adding(skip: path.dropFirst())
            } else {
                members.append((key, others.adding(skip: path.dropFirst())))
            }
            return .members(members, others: others)
        }
    }

    var buildsNothing: Bool {
        switch self {
        case .none, .omit: true
        case .all, .members: false
        }
    }

    /// The set for member `key` of an object read with this set.
    @inline(__always)
    public func member(_ key: String) -> JSONReadSet {
        guard case .members(let members, let others) = self else { return self }
        let length = key.utf8.count  // lengths first: a failing String == is a call
        // By index in the buffer: `for member in members` copied each (key, set) tuple
        // through the runtime's generic tuple witnesses, for every key of every object.
        return members.withUnsafeBufferPointer { members in
            for i in members.indices where members[i].key.utf8.count == length && members[i].key == key { return members[i].read }
            return others
        }
    }
}

/// A strict RFC 8259 parser over bytes: UTF-8 validated, no trailing garbage, and a nesting
/// limit so that a hostile 100,000-deep body is an error instead of a stack overflow.
public struct JSONParser {
    /// Kubernetes objects nest a few dozen levels at most; the apiserver's own limit for
    /// JSON is 10,000 but our recursion must stay well inside a thread's stack.
    public static let defaultMaxDepth = 512

    /// No limit on the number of values (for trusted input such as fixtures).
    public static let unlimitedValues = Int.max

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private let maxDepth: Int
    /// What to build (`JSONReadSet`).
    private let readSet: JSONReadSet
    /// Values built so far, and the most that may be built: the tree costs about 30 bytes
    /// a value beyond its text, so `[0,0,…]` grows 15-fold in memory without this bound.
    private var builtValues = 0
    private let maxValues: Int
    /// The members and elements of the objects and arrays still open: each container is
    /// then allocated once, at its size, instead of growing by doubling as it is read.
    private var openMembers = ParseStack<JSONMember>()
    private var openElements = ParseStack<JSON>()
    /// Strings handed out instead of built (`CommonStrings`).
    private let strings: CommonStrings?

    private init(
        bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, readSet: JSONReadSet = .all, maxValues: Int = unlimitedValues,
        strings: CommonStrings? = nil
    ) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.readSet = readSet
        self.maxValues = maxValues
        self.strings = strings
    }

    /// Parses, leaving the values at `skipPaths` unbuilt (`null`) after checking their
    /// syntax, and refusing documents that would build more than `maxValues` values.
    public static func parse(
        _ bytes: [UInt8], skipping skipPaths: [[String]], maxDepth: Int = defaultMaxDepth, maxValues: Int = unlimitedValues
    ) throws(JSONParseError) -> JSON {
        try parse(bytes, reading: .skipping(skipPaths), maxDepth: maxDepth, maxValues: maxValues)
    }

    /// Parses, building only what `readSet` asks for, and refusing documents that would
    /// build more than `maxValues` values. Strings found in `strings` are not built anew.
    public static func parse(
        _ bytes: [UInt8], reading readSet: JSONReadSet, maxDepth: Int = defaultMaxDepth, maxValues: Int = unlimitedValues,
        strings: CommonStrings? = nil
    ) throws(JSONParseError) -> JSON {
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(bytes: buffer, maxDepth: maxDepth, readSet: readSet, maxValues: maxValues, strings: strings)
            return parser.parseDocument()
        }.get()
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        try bytes.withUnsafeBufferPointer { parseBuffer($0, maxDepth: maxDepth) }.get()
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        try parseBuffer(bytes, maxDepth: maxDepth).get()
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private static func parseBuffer(_ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Result<JSON, JSONParseError> {
        var parser = JSONParser(bytes: buffer, maxDepth: maxDepth)
        return parser.parseDocument()
    }

    private mutating func parseDocument() -> Result<JSON, JSONParseError> {
        defer {
            openMembers.release()
            openElements.release()
        }
        do throws(JSONParseError) {
            skipWhitespace()
            let value = try self.value(depth: 0, read: readSet)
            try expectEnd()
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    /// Checks one value's syntax without building it. A loop over the bytes with the open
    /// containers in a bit stack, not a call per value: skipped parts (managedFields, kubectl's
    /// annotation, userInfo) are most of a review's bytes and most of its values. `depth` is
    /// the nesting level the value sits at, for the same limit as when building.
    private mutating func skipValue(depth: Int) throws(JSONParseError) {
        var open = OpenContainers()
        var expectKey = false
        while true {
            skipWhitespace()
            // Keys, colons and containers go through the checks building uses: a truncated
            // body gets the same error whether the part it stops in is built or skipped.
            if expectKey {
                try expectKeyStart()
                try skipString()
                try expectColon()
            }
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = bytes[index] == UInt8(ascii: "{")
                if try !entersEmpty(isObject: isObject, depth: depth + open.depth + 1) {
                    open.push(isObject: isObject)
                    expectKey = isObject
                    continue
                }
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try expectLiteral("true")
            case UInt8(ascii: "f"): try expectLiteral("false")
            case UInt8(ascii: "n"): try expectLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
            default: throw error("unexpected character '\(printable(bytes[index]))'")
            }
            // A value is complete: close the containers it completes, then on to the next.
            while true {
                guard open.depth > 0 else { return }
                let isObject = open.topIsObject
                if try !closes(isObject: isObject) {
                    expectKey = isObject
                    break
                }
                open.pop()
            }
        }
    }

    /// Skips a string without building it: `scanPlain` to each quote, backslash or control
    /// byte (a backslash and the byte it escapes are passed over; a \u's digits are plain).
    /// (Walking the flagged bytes of each 16-byte block in place measured dearer: most
    /// skipped strings are short keys, and the bit gathering cost them more than it saved
    /// on the escapes of kubectl's annotation.)
    @inline(__always)
    private mutating func skipString() throws(JSONParseError) {
        var i = index + 1
        while true {
            i = Self.scanPlain(bytes, from: i)
            guard i < bytes.count else {
                index = bytes.count
                throw error("unterminated string")
            }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                index = i + 1
                return
            case UInt8(ascii: "\\"):
                i += 2  // the escaped byte is never special
            default:
                index = i
                throw error("control character in a string")
            }
        }
    }

    @inline(__always)
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var i = 0
        var high: UInt64 = 0
        while i + 8 <= bytes.count {
            high |= UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            i += 8
        }
        while i < bytes.count {
            high |= UInt64(base[i])
            i += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// The index of the first '"', '\\' or control byte at or after `start` (or the end),
    /// sixteen bytes at a time: strings are most of a review's bytes, and the bytes skipped
    /// (managedFields, annotations) are mostly strings.
    @inline(__always)
    static func scanPlain(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        let count = bytes.count
        guard let base = bytes.baseAddress else { return count }
        if let found = scanBlocks(base, &i, count) { return found }
        return scanBytes(base, from: i, count)
    }

    /// The first special byte in the whole 16-byte blocks from `i`, or nil with `i` moved
    /// past the last of them (fewer than 16 bytes are left).
    @inline(__always)
    private static func scanBlocks(_ base: UnsafePointer<UInt8>, _ i: inout Int, _ count: Int) -> Int? {
        while i + 16 <= count {
            let (low, high) = specialBytes16(base + i)
            if low != 0 { return i + low.trailingZeroBitCount / 8 }
            if high != 0 { return i + 8 + high.trailingZeroBitCount / 8 }
            i += 16
        }
        return nil
    }

    /// The first special byte from `i`, byte by byte (or `count`).
    @inline(__always)
    private static func scanBytes(_ base: UnsafePointer<UInt8>, from start: Int, _ count: Int) -> Int {
        var i = start
        while i < count {
            if isSpecial(base[i]) { return i }
            i += 1
        }
        return count
    }

    /// '"', '\\' or a control byte: what ends a plain run in a JSON string.
    @inline(__always)
    private static func isSpecial(_ b: UInt8) -> Bool { b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 }

    /// `scanPlain` for a short buffer of its own: the writer escapes each piece of an answer
    /// (a cause's text, a path) apart, so every piece ends in a tail of under 16 bytes,
    /// which a byte loop scanned at ~8 instructions a byte. The last block is read back from
    /// the buffer's end instead (in a buffer of 8 to 15 bytes, the last 8), its bytes before
    /// `i` masked off: they were found plain. (The parser keeps `scanPlain`: its buffer is
    /// the whole document, and with this tail inlined in its loops a review cost +590.)
    @inline(__always)
    static func scanPlainToEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        let count = bytes.count
        guard let base = bytes.baseAddress, i < count else { return count }
        if let found = scanBlocks(base, &i, count) { return found }
        guard i < count else { return count }
        if count >= 16 {
            let before = 16 - (count - i)  // 1...15
            var (low, high) = specialBytes16(base + count - 16)
            if before >= 8 {
                low = 0
                high &= ~0 &<< UInt64((before - 8) * 8)
            } else {
                low &= ~0 &<< UInt64(before * 8)
            }
            if low != 0 { return count - 16 + low.trailingZeroBitCount / 8 }
            if high != 0 { return count - 8 + high.trailingZeroBitCount / 8 }
            return count
        }
        if count >= 8 {
            if i + 8 <= count {
                let flags = specialBytes8(base + i)
                if flags != 0 { return i + flags.trailingZeroBitCount / 8 }
                i += 8
                guard i < count else { return count }
            }
            let before = 8 - (count - i)  // 1...7
            let flags = specialBytes8(base + count - 8) & (~0 &<< UInt64(before * 8))
            return flags != 0 ? count - 8 + flags.trailingZeroBitCount / 8 : count
        }
        return scanBytes(base, from: i, count)
    }

    /// Of the 16 bytes at `p`, 0xFF in each one that is '"', '\\' or a control byte and 0
    /// elsewhere, as two words (bytes 0-7, 8-15; lowest byte first). Vector compares: the
    /// compiler emits SSE2 (NEON on arm64), about a third of the instructions of a word
    /// test per byte, and exact (a has-zero-byte word test can flag bytes after a match).
    @inline(__always)
    static func specialBytes16(_ p: UnsafePointer<UInt8>) -> (UInt64, UInt64) {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self)
        let quote = unsafeBitCast(v .== SIMD16<UInt8>(repeating: 0x22), to: SIMD16<UInt8>.self)
        let backslash = unsafeBitCast(v .== SIMD16<UInt8>(repeating: 0x5C), to: SIMD16<UInt8>.self)
        let control = unsafeBitCast(v .< SIMD16<UInt8>(repeating: 0x20), to: SIMD16<UInt8>.self)
        let flags = unsafeBitCast(quote | backslash | control, to: (UInt64, UInt64).self)
        return (UInt64(littleEndian: flags.0), UInt64(littleEndian: flags.1))
    }

    /// `specialBytes16` of the 8 bytes at `p`, as one word.
    @inline(__always)
    static func specialBytes8(_ p: UnsafePointer<UInt8>) -> UInt64 {
        let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<UInt8>.self)
        let quote = unsafeBitCast(v .== SIMD8<UInt8>(repeating: 0x22), to: SIMD8<UInt8>.self)
        let backslash = unsafeBitCast(v .== SIMD8<UInt8>(repeating: 0x5C), to: SIMD8<UInt8>.self)
        let control = unsafeBitCast(v .< SIMD8<UInt8>(repeating: 0x20), to: SIMD8<UInt8>.self)
        return UInt64(littleEndian: unsafeBitCast(quote | backslash | control, to: UInt64.self))
    }

    private func error(_ reason: String) -> JSONParseError {
        JSONParseError(offset: index, reason: reason)
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        // Kubernetes sends compact JSON: one comparison for the usual case.
        if index < bytes.count, bytes[index] > 0x20 { return }
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int, read: JSONReadSet) throws(JSONParseError) -> JSON {
        guard index < bytes.count else { throw error("unexpected end of input") }
        builtValues += 1
        guard builtValues <= maxValues else { throw error("more than \(maxValues) JSON values") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1, read: read)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1, read: read)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(printable(bytes[index]))'")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end of input") }
        let matches = literal.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw error("invalid literal") }
        index += count
    }

    private mutating func parseObject(depth: Int, read: JSONReadSet) throws(JSONParseError) -> JSON {
        if try entersEmpty(isObject: true, depth: depth) { return .object(JSONObject()) }
        let first = openMembers.count
        while true {
            skipWhitespace()
            try expectKeyStart()
            let key = try parseString()
            try expectColon()
            let memberRead = read.member(key)
            switch memberRead {
            case .omit:
                try skipValue(depth: depth)
            case .none:
                try skipValue(depth: depth)
                openMembers.push(JSONMember(key, .null))
            case .all, .members:
                openMembers.push(JSONMember(key, try parseValue(depth: depth, read: memberRead)))
            }
            if try closes(isObject: true) { return .object(JSONObject(members: openMembers.pop(from: first))) }
        }
    }

    /// At the '"' that starts an object key (the read position stays on it).
    @inline(__always)
    private func expectKeyStart() throws(JSONParseError) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw error(index < bytes.count ? "expected a string key" : "unexpected end of input")
        }
    }

    /// After an object key: past the ':' and the whitespace around it.
    @inline(__always)
    private mutating func expectColon() throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
        index += 1
        skipWhitespace()
    }

    /// At the '{' or '[' of a container `depth` levels deep: past it and the whitespace
    /// after it, and past its close too when it is empty (true). Built, read or skipped,
    /// every container is entered here: the same limit and messages for each.
    @inline(__always)
    private mutating func entersEmpty(isObject: Bool, depth: Int) throws(JSONParseError) -> Bool {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
        index += 1
        skipWhitespace()
        guard index < bytes.count, bytes[index] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return false }
        index += 1
        return true
    }

    /// After a member's value or an element: past a ',' (false) or the '}' or ']' that
    /// closes the container (true). Every container is closed here, built or skipped.
    @inline(__always)
    private mutating func closes(isObject: Bool) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw error(isObject ? "unexpected end of input in an object" : "unexpected end of input in an array") }
        switch bytes[index] {
        case UInt8(ascii: ","):
            index += 1
            return false
        case isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"):
            index += 1
            return true
        default:
            throw error(isObject ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array")
        }
    }

    /// After the document's value: only whitespace may follow.
    private mutating func expectEnd() throws(JSONParseError) {
        skipWhitespace()
        if index != bytes.count { throw error("unexpected data after the JSON value") }
    }

    private mutating func parseArray(depth: Int, read: JSONReadSet) throws(JSONParseError) -> JSON {
        if try entersEmpty(isObject: false, depth: depth) { return .array([]) }
        let first = openElements.count
        while true {
            skipWhitespace()
            openElements.push(try parseValue(depth: depth, read: read))
            if try closes(isObject: false) { return .array(openElements.pop(from: first)) }
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = index
        try scanNumber()
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// Moves past one number, checking its grammar.
    private mutating func scanNumber() throws(JSONParseError) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number: digit expected after '.'") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number: digit expected in exponent") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes, so the bytes are the string once validated as UTF-8.
        // Kubernetes strings are nearly always ASCII, which needs no validation pass.
        index = Self.scanPlain(bytes, from: index)
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if let strings, let common = strings.string(slice) {
                index += 1
                return common
            }
            let string: String
            if Self.isASCII(slice) {
                // Copied straight into the string's storage: `String(decoding:)` ran its
                // general path over bytes already known to be ASCII (~35 instructions more).
                string = String(unsafeUninitializedCapacity: slice.count) { storage in
                    _ = storage.initialize(fromContentsOf: slice)
                    return slice.count
                }
            } else {
                guard let valid = String(validating: slice, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                string = valid
            }
            index += 1
            return string
        }
        if index < bytes.count, bytes[index] < 0x20 { throw error("control character in a string") }
        guard index < bytes.count else { throw error("unterminated string") }
        return try parseEscapedString(from: start)
    }

    private mutating func parseEscapedString(from start: Int) throws(JSONParseError) -> String {
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let string = String(validating: out, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): try appendUnicodeEscape(to: &out)
                default: throw error("invalid escape '\\\(printable(escape))'")
                }
            default:
                // Copy the run up to the next quote, backslash or control byte at once.
                let runStart = index
                index = Self.scanPlain(bytes, from: index)
                if index == runStart { throw error("control character in a string") }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
        }
        throw error("unterminated string")
    }

    private mutating func readHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - 0x41 + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func appendUnicodeEscape(to out: inout [UInt8]) throws(JSONParseError) {
        var scalar = try readHex4()
        if (0xD800...0xDBFF).contains(scalar) {
            // A high surrogate must be followed by an escaped low surrogate.
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw error("unpaired surrogate in \\u escape")
            }
            index += 2
            let low = try readHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
            throw error("unpaired surrogate in \\u escape")
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
        out.append(contentsOf: String(Character(unicode)).utf8)
    }

    private func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}

// MARK: Reading an object member by member

extension JSONParser {
    /// Reads a document that must be an object, member by member: `member` is handed each
    /// key with the depth its value sits at, and consumes the value with `value(depth:read:)`,
    /// `skip(depth:)` or `members(depth:_:)`. Returns false, having read nothing, when the
    /// document is not an object. For envelopes whose few fields are wanted as values, not
    /// as a tree to look them up in (`AdmissionReviewDecoder`).
    static func readMembers(
        _ bytes: [UInt8], maxValues: Int = unlimitedValues, strings: CommonStrings? = nil,
        _ member: (inout JSONParser, JSONKey, Int) throws(JSONParseError) -> Void
    ) throws(JSONParseError) -> Bool {
        try bytes.withUnsafeBufferPointer { buffer -> Result<Bool, JSONParseError> in
            var parser = JSONParser(bytes: buffer, maxDepth: defaultMaxDepth, maxValues: maxValues, strings: strings)
            defer {
                parser.openMembers.release()
                parser.openElements.release()
            }
            do throws(JSONParseError) {
                parser.skipWhitespace()
                guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "{") else { return .success(false) }
                try parser.members(depth: 0, member)
                try parser.expectEnd()
                return .success(true)
            } catch {
                return .failure(error)
            }
        }.get()
    }

    /// The value at the read position, built as `read` says (`null` for a part not built).
    mutating func value(depth: Int, read: JSONReadSet) throws(JSONParseError) -> JSON {
        if read.buildsNothing {
            try skipValue(depth: depth)
            return .null
        }
        return try parseValue(depth: depth, read: read)
    }

    /// Checks the value at the read position and moves past it.
    mutating func skip(depth: Int) throws(JSONParseError) {
        try skipValue(depth: depth)
    }

    /// Whether the value at the read position is an object (`members` reads it).
    var atObject: Bool { index < bytes.count && bytes[index] == UInt8(ascii: "{") }

    /// Reads the object at the read position member by member, as `readMembers`. The same
    /// grammar, limits and messages as `parseObject`.
    mutating func members(depth: Int, _ member: (inout JSONParser, JSONKey, Int) throws(JSONParseError) -> Void) throws(JSONParseError) {
        builtValues += 1
        guard builtValues <= maxValues else { throw error("more than \(maxValues) JSON values") }
        let depth = depth + 1
        if try entersEmpty(isObject: true, depth: depth) { return }
        while true {
            skipWhitespace()
            try expectKeyStart()
            // The key's bytes in place when it has no escapes (nearly always): no String.
            let keyStart = index + 1
            let plainEnd = Self.scanPlain(bytes, from: keyStart)
            var escapedKey: String?
            if plainEnd < bytes.count, bytes[plainEnd] == UInt8(ascii: "\"") {
                index = plainEnd + 1
            } else {
                escapedKey = try parseString()
            }
            try expectColon()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if var escapedKey {
                try escapedKey.withUTF8 { utf8 -> Result<Void, JSONParseError> in
                    do throws(JSONParseError) {
                        try member(&self, JSONKey(utf8), depth)
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }.get()
            } else {
                try member(&self, JSONKey(UnsafeBufferPointer(rebasing: bytes[keyStart..<plainEnd])), depth)
            }
            if try closes(isObject: true) { return }
        }
    }
}

/// An object key's UTF-8 as read (escapes decoded), valid during the call it is handed to.
struct JSONKey {
    let utf8: UnsafeBufferPointer<UInt8>

    init(_ utf8: UnsafeBufferPointer<UInt8>) { self.utf8 = utf8 }

    /// Byte equality with a literal, lengths first (a `switch` over Strings compared case by
    /// case through the runtime, more than reading the key cost).
    @inline(__always)
    static func == (key: JSONKey, literal: StaticString) -> Bool {
        guard key.utf8.count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for i in 0..<key.utf8.count where key.utf8[i] != expected[i] { return false }
        return true
    }

    @inline(__always)
    static func ~= (literal: StaticString, key: JSONKey) -> Bool { key == literal }
}

/// The kinds of the containers a skip is inside, innermost last: a bit each for the first
/// 64 levels (no allocation for what Kubernetes objects nest), an array past them.
private struct OpenContainers {
    private var bits: UInt64 = 0
    private var deeper: [Bool] = []
    private(set) var depth = 0

    @inline(__always)
    mutating func push(isObject: Bool) {
        if depth < 64 {
            let bit = UInt64(1) << UInt64(depth)
            bits = isObject ? bits | bit : bits & ~bit
        } else {
            deeper.append(isObject)
        }
        depth += 1
    }

    @inline(__always)
    mutating func pop() {
        depth -= 1
        if depth >= 64 { deeper.removeLast() }
    }

    var topIsObject: Bool {
        let top = depth - 1
        return top < 64 ? bits >> UInt64(top) & 1 == 1 : deeper[top - 64]
    }
}

/// A stack of values that hands its top elements over to a new array of exactly their
/// count (moved, not copied: no reference counting per element). A value inside the
/// parser, not an object: a method call on a class held by the parser retained and
/// released it around every push. The parser releases it when the document is done,
/// elements left behind by an error included.
struct ParseStack<Element> {
    private var base: UnsafeMutablePointer<Element>?
    private var capacity = 0
    private(set) var count = 0

    @inline(__always)
    mutating func push(_ element: consuming Element) {
        if count == capacity { grow() }
        (base.unsafelyUnwrapped + count).initialize(to: element)
        count += 1
    }

    private mutating func grow() {
        let larger = Swift.max(32, capacity * 2)
        let moved = UnsafeMutablePointer<Element>.allocate(capacity: larger)
        if let base {
            moved.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = moved
        capacity = larger
    }

    /// The elements pushed since the count was `start`, in order, as an array.
    @inline(__always)
    mutating func pop(from start: Int) -> [Element] {
        let moved = count - start
        guard moved > 0, let base else { return [] }
        // Appends into reserved capacity: `Array(unsafeUninitializedCapacity:)` and
        // `Array(repeating:count:)` both call the runtime's unspecialized allocation, which
        // looks the storage type up each time (about 600 instructions).
        var array: [Element] = []
        array.reserveCapacity(moved)
        for i in start..<count { array.append((base + i).move()) }
        count = start
        return array
    }

    /// Releases the elements left and the storage.
    mutating func release() {
        guard let base else { return }
        base.deinitialize(count: count)
        base.deallocate()
        self.base = nil
        count = 0
        capacity = 0
    }
}
