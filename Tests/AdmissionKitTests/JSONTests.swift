import Testing

@testable import AdmissionKit

@Suite struct JSONParserTests {
    /// The word-at-a-time scan finds the same first '"', '\\' or control byte as a byte
    /// loop, at every offset and next to every kind of byte (ASCII, UTF-8, 0x7F, 0x20), in
    /// buffers of every length up to 40: the tails under 16 bytes are read back from the
    /// buffer's end, so each buffer is allocated to its exact length (ASan sees a read past it).
    @Test func wordScanAgreesWithByteScan() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x00, 0x09, 0x1F, 0x20, 0x21, 0x22, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xA2, 0xDC, 0xE2, 0xFF, 0x61, 0x61, 0x61, 0x61]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<length).map { _ in Bool.random(using: &generator) ? UInt8(ascii: "a") : alphabet.randomElement(using: &generator)! }
            let start = length == 0 ? 0 : Int.random(in: 0...length, using: &generator)
            let expected = bytes[start...].firstIndex { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 } ?? length
            let exact = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: length)
            defer { exact.deallocate() }
            _ = exact.initialize(from: bytes)
            let found = JSONParser.scanPlain(UnsafeBufferPointer(exact), from: start)
            #expect(found == expected, "\(bytes) from \(start)")
            let foundToEnd = JSONParser.scanPlainToEnd(UnsafeBufferPointer(exact), from: start)
            #expect(foundToEnd == expected, "to end: \(bytes) from \(start)")
            let ascii = bytes.withUnsafeBufferPointer { JSONParser.isASCII($0) }
            #expect(ascii == !bytes.contains { $0 >= 0x80 })
            if found != expected || foundToEnd != expected { return }
        }
    }

    /// Strings are built straight into their storage: every length across the small-string
    /// limit comes out as its bytes, with and without the common-string table.
    @Test func plainStringsOfEveryLength() throws {
        let texts = (0...40).map { n in String((0..<n).map { Character(UnicodeScalar(UInt8(0x41 + ($0 * 7) % 58))) }) }
            .filter { !$0.contains("\\") }
        let document = "[" + texts.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        for strings in [nil, CommonStrings.kubernetes] {
            let parsed = try JSONParser.parse(Array(document.utf8), reading: .all, strings: strings)
            #expect(parsed.arrayValue?.map(\.stringValue) == texts)
        }
    }

    /// The common-string table finds exactly its strings: each kept string, and for every
    /// length up to past `maxLength` no probe that differs in one byte at any position (a
    /// short probe is compared as one word from two overlapping loads, a long one word by
    /// word with the last word read from its end), nor a prefix or an extension of one.
    @Test func commonStringsFindExactlyTheirStrings() {
        var kept: [String] = []
        for length in 0...(CommonStrings.maxLength + 2) {
            kept.append(String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) }))
            kept.append(String(repeating: "z", count: length))
        }
        kept += ["é", "ab\u{00}c", "kind", "kinds", "kine", "jind"]
        let table = CommonStrings(kept)
        let expectedSet = Set(kept.filter { $0.utf8.count <= CommonStrings.maxLength })
        func lookup(_ bytes: [UInt8]) -> String? { bytes.withUnsafeBufferPointer { table.string($0) } }
        var probes = 0
        for string in kept {
            let bytes = Array(string.utf8)
            var variants = [bytes, Array(bytes.dropLast()), bytes + [UInt8(ascii: "a")], [UInt8(ascii: "z")] + bytes]
            for i in bytes.indices {
                for delta: UInt8 in [1, 0x20, 0x80] {
                    var changed = bytes
                    changed[i] ^= delta
                    variants.append(changed)
                }
            }
            for variant in variants {
                probes += 1
                let text = String(decoding: variant, as: UTF8.self)
                let expected = Array(text.utf8) == variant && expectedSet.contains(text) ? text : nil
                #expect(lookup(variant) == expected, "\(variant)")
            }
        }
        #expect(probes > 2_000)
        // A probe reaches the byte comparison only when it shares a slot's cluster with an
        // entry of its length, which the probes above rarely do: the comparison is checked
        // on its own, for every length and a difference at every position (under ASan, a
        // read before or past either string fails too).
        for length in 0...CommonStrings.maxLength {
            // Buffers of exactly the string's size: under ASan a read before or past one fails.
            let a = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(length, 1))
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(length, 1))
            defer {
                a.deallocate()
                b.deallocate()
            }
            for i in 0..<length { a[i] = UInt8(65 + i % 50) }
            for i in -1..<length {
                for k in 0..<length { b[k] = a[k] }
                if i >= 0 { b[i] ^= 1 }
                let equal = CommonStrings.equal(a.baseAddress!, UnsafeBufferPointer(rebasing: b[0..<length]))
                #expect(equal == (i < 0), "length \(length), byte \(i)")
            }
        }
        #expect(lookup(Array("kind".utf8)) == "kind")
        #expect(lookup(Array(String(repeating: "z", count: CommonStrings.maxLength + 1).utf8)) == nil)
    }

    /// Lookups skip objects that have no key of the asked length (`keyLengths`): after any
    /// mix of appends, sets and removals, and for keys of 0, 63, 64 and 65 bytes (the
    /// length bits wrap at 64), they still find what a plain search of `members` finds.
    @Test func lookupsAgreeWithASearchOfTheMembers() {
        var generator = SystemRandomNumberGenerator()
        let keys = ["", "a", "b", "ab", "url", "spec", String(repeating: "k", count: 63), String(repeating: "k", count: 64),
            String(repeating: "x", count: 64), String(repeating: "k", count: 65)]
        for _ in 0..<2_000 {
            var object = JSONObject()
            for step in 0..<Int.random(in: 0...12, using: &generator) {
                let key = keys.randomElement(using: &generator)!
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: object.append(JSONMember(key, .number(step)))
                case 1: object[key] = .number(step)
                default: object[key] = nil
                }
            }
            for key in keys {
                let expected = object.members.last { $0.key == key }?.value
                #expect(object[key] == expected, "\(key.utf8.count)-byte key in \(object.keys.map(\.utf8.count))")
                #expect(object.has(key) == (expected != nil))
                if object[key] != expected { return }
            }
        }
    }

    /// A truncated or broken document fails with the same error whether the part it breaks
    /// in is built or skipped (regression: a skipped object cut short said "unexpected end of
    /// input" where a built one said "… in an object").
    @Test func skippedValuesFailWhereBuiltOnesFail() {
        let document = Array(#"{"a":{"b":[1,{"c":"d","e":[]}],"f":{}},"g":[[true,null],-1.5e3],"h":"i"}"#.utf8)
        var broken: [[UInt8]] = (0..<document.count).map { Array(document[..<$0]) }
        for i in document.indices {
            var cut = document
            cut.remove(at: i)
            broken.append(cut)
        }
        for text in broken {
            let built = Result { () throws(JSONParseError) in try JSONParser.parse(text) }
            let skipped = Result { () throws(JSONParseError) in try JSONParser.parse(text, reading: .none) }
            switch (built, skipped) {
            case (.success, .success): continue
            case (.failure(let b), .failure(let s)) where b == s: continue
            default:
                Issue.record("built \(built), skipped \(skipped): \(String(decoding: text, as: UTF8.self))")
                return
            }
        }
    }

    /// A skipped string (checked, not built) ends where a built one ends, and fails where it
    /// fails, for strings across the 16-byte blocks of the vector scan: quotes, escapes
    /// (also at a block's last byte) and control bytes anywhere.
    @Test func skippedStringsEndWhereBuiltOnesEnd() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [
            // a, b, \", \\, \n, \u0041 (as bytes: 0x5C is the backslash)
            [0x61], [0x62], [0x5C, 0x22], [0x5C, 0x5C], [0x5C, 0x6E], [0x5C, 0x75, 0x30, 0x30, 0x34, 0x31],
            [0x22], [0x01], [0x1F], [0x7F],
        ]
        for _ in 0..<20_000 {
            var content: [UInt8] = []
            let length = Int.random(in: 0...48, using: &generator)
            while content.count < length {
                content += Bool.random(using: &generator) ? Array("abcdefgh".utf8) : pieces.randomElement(using: &generator)!
            }
            let document = Array("[\"".utf8) + content + Array("\",1]".utf8)
            let built = Result { () throws(JSONParseError) in try JSONParser.parse(document) }
            let skipped = Result { () throws(JSONParseError) in try JSONParser.parse(document, reading: .none) }
            switch (built, skipped) {
            case (.success, .success): break
            case (.failure(let b), .failure(let s)): #expect(b == s, "\(String(decoding: document, as: UTF8.self))")
            default: Issue.record("built \(built), skipped \(skipped): \(String(decoding: document, as: UTF8.self))")
            }
        }
    }

    @Test func roundTripKeepsOrderAndNumberText() throws {
        let text = #"{"b":1,"a":[true,false,null,-0.5e+10,12345678901234567890],"c":{"x":"y\n\"z\u00e9"}}"#
        let value = try JSONParser.parse(text)
        #expect(value.compactText == #"{"b":1,"a":[true,false,null,-0.5e+10,12345678901234567890],"c":{"x":"y\n\"zé"}}"#)
        #expect(value["b"]?.intValue == 1)
        #expect(value["a"]?.arrayValue?.count == 5)
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#""\ud83d""#) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#""\ude00x""#) }
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "\"a\u{01}\"", "{} x", "[1 2]",
        "{\"a\":1 \"b\":2}", "\"\\x\"", "nul", "[", "{'a':1}",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
    }

    @Test func everyPrefixOfADocumentIsAnErrorNotACrash() throws {
        let text = #"{"apiVersion":"v1","items":[{"a":"b\"c","n":-1.5e3},null,true]}"#
        let bytes = Array(text.utf8)
        _ = try JSONParser.parse(bytes)
        for n in 0..<bytes.count {
            #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(bytes[0..<n])) }
        }
    }

    @Test func deepNestingIsRefusedWithoutStackOverflow() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let objects = String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(objects) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    @Test func writerEscapesControlCharacters() {
        let value = JSON.string("a\u{1}b\t\"\\")
        #expect(value.compactText == #""a\u0001b\t\"\\""#)
    }

    @Test func canonicalFormSortsKeys() throws {
        let value = try JSONParser.parse(#"{"b":1,"a":{"d":2,"c":3}}"#)
        #expect(JSONWriter(sortedKeys: true).string(value) == #"{"a":{"c":3,"d":2},"b":1}"#)
    }

    @Test func lastDuplicateKeyWinsAsInGo() throws {
        let value = try JSONParser.parse(#"{"a":1,"a":2}"#)
        #expect(value["a"]?.intValue == 2)
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("ok:test", "b2s6dGVzdA=="), ("admin3:admin3", "YWRtaW4zOmFkbWluMw==")])
    func encodes(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(plain.utf8) == encoded)
        if !plain.isEmpty {
            #expect(Base64.decodeCanonical(encoded) == Array(plain.utf8))
        }
    }

    /// The two-characters-a-lookup encoder against the textbook one, character by character,
    /// for every length up to 100 (each tail of one, two and three bytes, after and without a
    /// run of four-byte loads) and every byte value.
    @Test func encodesAsCharacterByCharacter() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        func reference(_ bytes: [UInt8]) -> String {
            var out: [UInt8] = []
            var i = 0
            while i < bytes.count {
                let chunk = Array(bytes[i..<min(i + 3, bytes.count)])
                let n = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
                for k in 0..<4 { out.append(k <= chunk.count ? alphabet[n >> (18 - 6 * k) & 63] : UInt8(ascii: "=")) }
                i += 3
            }
            return String(decoding: out, as: UTF8.self)
        }
        var generator = SystemRandomNumberGenerator()
        for length in 0...100 {
            for _ in 0..<5 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                #expect(Base64.encode(bytes) == reference(bytes), "\(bytes)")
                #expect(length == 0 || Base64.decodeCanonical(Base64.encode(bytes)) == bytes)
            }
        }
        let every = (0...255).map { UInt8($0) }
        #expect(Base64.encode(every) == reference(every))
    }

    @Test func lenientAcceptsWhatThePluginAcceptsAndCanonicalIsStricter() {
        // Unpadded and wrongly padded forms decode (the plugin accepts them) but are not canonical.
        #expect(Base64.decodeLenient("YWRtaW4zOmFkbWluMw") == Array("admin3:admin3".utf8))
        #expect(Base64.decodeLenient("YWRtaW4zOmFkbWluMw=") == Array("admin3:admin3".utf8))
        #expect(Base64.decodeCanonical("YWRtaW4zOmFkbWluMw") == nil)
        #expect(Base64.decodeCanonical("YWRtaW4zOmFkbWluMw=") == nil)
        // Non-zero trailing bits, bad length, URL-safe alphabet, whitespace: rejected.
        #expect(Base64.decodeLenient("YWRtaW46YWRtaW5=") == nil)
        #expect(Base64.decodeLenient("admin") == nil)
        #expect(Base64.decodeLenient("Zm9v-YmFy") == nil)
        #expect(Base64.decodeLenient(" dXNlcjpwYXNz") == nil)
        #expect(Base64.decodeLenient("YR==") == nil)
        #expect(Base64.decodeLenient("") == nil)
    }
}

@Suite struct JSONPatchTests {
    @Test func editorRecordsMinimalOperationsThatApplyToTheOriginal() throws {
        let original = try JSONParser.parse(#"{"spec":{"url":"x","targetRefs":[{"kind":"Gateway"}],"selector":{"a":"b"}}}"#)
        var editor = ObjectEditor(original)
        editor.set(FieldPath("spec", "url"), "oci://x")
        editor.set(FieldPath("spec", "url"), "oci://x")  // unchanged: no op
        editor.set(FieldPath("spec", "targetRefs").index(0).child("group"), "gateway.networking.k8s.io")
        editor.remove(FieldPath("spec", "selector"))
        editor.remove(FieldPath("spec", "missing"))  // absent: no op
        #expect(editor.operations.map(\.op) == [.replace, .add, .remove])
        #expect(try original.applying(editor.operations) == editor.object)
        // Removed means gone, not `selector: null` (a later rule reading it, or `check
        // --fix` printing it, saw the null).
        #expect(editor.object["spec"]?.objectValue?.keys == ["url", "targetRefs"])
        // A later edit below the removed member has nothing to apply to.
        #expect(throws: JSONPatchError.self) { try editor.object.applying([PatchOperation(.add, FieldPath("spec", "selector", "a"), "b")]) }
    }

    @Test func pointerEscapingFollowsRFC6901() throws {
        let path = FieldPath("metadata", "labels", "app.kubernetes.io/name", "a~b")
        #expect(path.jsonPointer == "/metadata/labels/app.kubernetes.io~1name/a~0b")
        #expect(try FieldPath(jsonPointer: path.jsonPointer) == path)
        #expect(path.description == "metadata.labels[app.kubernetes.io/name][a~b]")
    }

    @Test func applyRefusesMissingTargets() throws {
        let doc: JSON = ["a": ["b": 1]]
        #expect(throws: JSONPatchError.self) { try doc.applying([PatchOperation(.replace, FieldPath("a", "c"), 2)]) }
        #expect(throws: JSONPatchError.self) { try doc.applying([PatchOperation(.add, FieldPath("x", "y"), 2)]) }
        #expect(try doc.applying([PatchOperation(.add, FieldPath("a", "c"), 2)])["a"]?["c"] == 2)
    }
}

@Suite struct ObjectEditorTests {
    static func object(credentials count: Int) -> JSON {
        .object(JSONObject([("spec", .object(JSONObject([("credentials", .array((0..<count).map { .string("u\($0):p") }))])))]))
    }

    func rewriteAll(_ count: Int) -> ObjectEditor {
        var editor = ObjectEditor(Self.object(credentials: count))
        for i in 0..<count { editor.set(FieldPath("spec", "credentials").index(i), .string("dTp\(i)")) }
        return editor
    }

    @Test func fewEditsStayOneOperationEach() throws {
        let editor = rewriteAll(ObjectEditor.maxEditsPerArray)
        #expect(editor.operations.count == ObjectEditor.maxEditsPerArray)
        #expect(try Self.object(credentials: ObjectEditor.maxEditsPerArray).applying(editor.operations) == editor.object)
    }

    /// Regression: 200,000 rewritten credentials made 200,000 operations (close to 200 MB in
    /// memory for a 2 MB object). Past the threshold the array is replaced whole.
    @Test func manyEditsInOneArrayBecomeOneReplace() throws {
        let editor = rewriteAll(10_000)
        #expect(editor.operations.count == 1)
        #expect(editor.operations.first?.op == .replace)
        #expect(editor.operations.first?.path == FieldPath("spec", "credentials"))
        #expect(try Self.object(credentials: 10_000).applying(editor.operations) == editor.object)
    }

    /// An array that was itself edited first is not replaced whole: its element edits are
    /// against the new array, not the one sent.
    @Test func anArrayEditedItselfKeepsItsElementOperations() throws {
        var editor = ObjectEditor(Self.object(credentials: 3))
        editor.set(FieldPath("spec", "credentials"), .array((0..<100).map { .string("n\($0)") }))
        for i in 0..<100 { editor.set(FieldPath("spec", "credentials").index(i), .string("m\(i)")) }
        #expect(editor.operations.count == 101)
        #expect(try Self.object(credentials: 3).applying(editor.operations) == editor.object)
    }

    /// Edits after an array was replaced whole still apply in order, whatever they do.
    @Test func editsAfterAWholeArrayReplaceStillApply() throws {
        for last in [PatchOperation.Op.replace, .remove] {
            var editor = rewriteAll(100)
            if last == .remove {
                editor.remove(FieldPath("spec", "credentials"))
            } else {
                editor.set(FieldPath("spec", "credentials"), .array([.string("only")]))
            }
            #expect(try Self.object(credentials: 100).applying(editor.operations) == editor.object, "\(last)")
        }
    }
}

@Suite struct FieldPathTests {
    /// The bit masks are the rule they replace, byte for byte.
    @Test func plainKeyBytesAreLettersDigitsUnderscoreAndDash() {
        for b in 0...255 {
            let c = UInt8(b)
            let spelled = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            #expect(FieldPath.isPlainKeyByte(c) == spelled, "byte \(b)")
        }
    }

    @Test func descriptionsAndPointers() {
        let path = FieldPath([.key("spec"), .key("selector"), .key("matchLabels"), .key("app.kubernetes.io/name"), .index(12), .key("a_b-9"), .key(""), .key("é"), .key("~x/y")])
        #expect(path.description == "spec.selector.matchLabels[app.kubernetes.io/name][12].a_b-9[][é][~x/y]")
        #expect(path.jsonPointer == "/spec/selector/matchLabels/app.kubernetes.io~1name/12/a_b-9//é/~0x~1y")
        #expect(FieldPath([.index(3), .key("k")]).description == "[3].k")
    }
}

@Suite struct ByteSinkTests {
    @Test func decimalsAreTheirDescription() {
        var generator = SystemRandomNumberGenerator()
        let values = [0, 9, 10, 99, 100, -1, -10, Int.max, Int.min] + (0..<1_000).map { _ in Int.random(in: Int.min...Int.max, using: &generator) >> Int.random(in: 0...63, using: &generator) }
        for value in values {
            var out: [UInt8] = []
            out.append(decimal: value)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }
}
