import Testing

@testable import AdmissionKit

/// A validator and defaulter that judge `ConfigMap`s: enough to test the endpoint alone.
private struct DemoPolicy: Validator, Defaulter {
    func handles(_ request: AdmissionRequest) -> Bool { request.kind.kind == "ConfigMap" }
    func validate(_ request: AdmissionRequest) -> ValidationResult {
        var r = ValidationResult()
        if request.object?["data"]?["bad"] != nil { r.error(.invalid(FieldPath("data", "bad"), "is bad", hint: "remove it")) }
        if request.object?["data"]?["odd"] != nil { r.warn(FieldPath("data", "odd"), "is odd") }
        return r
    }
    func applyDefaults(_ editor: inout ObjectEditor, request: AdmissionRequest) -> [AppliedDefault] {
        editor.set(FieldPath("data", "defaulted"), "yes")
        return [AppliedDefault(rule: "demo", path: FieldPath("data", "defaulted"))]
    }
}

@Suite struct AdmissionReviewTests {
    let webhook = AdmissionWebhook(validator: DemoPolicy(), defaulter: DemoPolicy())

    func review(_ version: String = "admission.k8s.io/v1", operation: String = "CREATE", kind: String = "ConfigMap", data: String = "{}") -> String {
        #"{"apiVersion":"\#(version)","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"\#(kind)"},"name":"cm","namespace":"ns","operation":"\#(operation)","object":{"data":\#(data)},"oldObject":null,"dryRun":false}}"#
    }

    func answer(_ endpoint: WebhookEndpoint, _ body: String) throws -> JSON {
        try JSONParser.parse(try webhook.review(endpoint, body: Array(body.utf8)).body)
    }

    @Test func answersInTheVersionReceivedAndEchoesUID() throws {
        for version in ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] {
            let out = try answer(.validate, review(version))
            #expect(out["apiVersion"] == .string(version))
            #expect(out["kind"] == "AdmissionReview")
            #expect(out["response"]?["uid"] == "u-1")
            #expect(out["response"]?["allowed"] == true)
        }
    }

    @Test func denialCarries422InvalidCausesAndWarnings() throws {
        let out = try answer(.validate, review(data: #"{"bad":"1","odd":"2"}"#))
        let response = try #require(out["response"])
        #expect(response["allowed"] == false)
        #expect(response["status"]?["code"] == 422)
        #expect(response["status"]?["reason"] == "Invalid")
        #expect(response["status"]?["message"]?.stringValue?.contains("data.bad: is bad; remove it") == true)
        #expect(response["status"]?["details"]?["causes"] == [["reason": "FieldValueInvalid", "message": "is bad; remove it", "field": "data.bad"]])
        #expect(response["warnings"] == ["data.odd: is odd"])
        #expect(response["patch"] == nil && response["patchType"] == nil)
    }

    @Test func mutateSendsPatchAndTypeTogetherWithAuditAnnotation() throws {
        let response = try #require(try answer(.mutate, review())["response"])
        #expect(response["patchType"] == "JSONPatch")
        let encoded = try #require(response["patch"]?.stringValue)
        let decoded = try #require(Base64.decodeCanonical(encoded))
        let patch = try JSONParser.parse(decoded)
        #expect(patch == [["op": "add", "path": "/data/defaulted", "value": "yes"]])
        #expect(response["auditAnnotations"] == ["demo": "data.defaulted"])
    }

    @Test(arguments: ["DELETE", "CONNECT"])
    func deleteAndConnectAreAllowedWithoutPatch(_ operation: String) throws {
        for endpoint in WebhookEndpoint.allCases {
            let response = try #require(try answer(endpoint, review(operation: operation, data: #"{"bad":"1"}"#))["response"])
            #expect(response == ["uid": "u-1", "allowed": true])
        }
    }

    @Test func otherKindsAreAllowedUntouched() throws {
        for endpoint in WebhookEndpoint.allCases {
            let response = try #require(try answer(endpoint, review(kind: "Secret", data: #"{"bad":"1"}"#))["response"])
            #expect(response == ["uid": "u-1", "allowed": true])
        }
    }

    @Test(arguments: [
        ("", "empty body"),
        ("[]", "body is a JSON array"),
        ("{", "not valid JSON"),
        (#"{"apiVersion":"v1","kind":"AdmissionReview"}"#, "apiVersion: unsupported value"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod"}"#, "kind: must be"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "request: missing"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}"#, "request: must be an object"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5}}"#, "request.uid: must be a string"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"X"},"operation":"PATCH"}}"#, "request.operation: unsupported value"),
    ])
    func unusableBodiesSayWhatIsWrong(_ body: String, _ expected: String) {
        do {
            _ = try webhook.review(.validate, body: Array(body.utf8))
            Issue.record("expected a decode error for \(body)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func warningsAreDedupedAndBudgeted() {
        let many = (0..<200).map { FieldWarning(FieldPath("spec", "f\($0 % 150)"), FindingText(String(repeating: "w", count: 40))) }
        let rendered = WarningList.render(many)
        #expect(rendered.count < 150)
        // The count names the distinct warnings left out (150 distinct texts in all).
        #expect(rendered.last == "\(150 - (rendered.count - 1)) more warnings not shown")
        #expect(rendered.dropLast().reduce(0) { $0 + $1.unicodeScalars.count } <= 4096)
    }

    /// One annotation per rule in the order rules first applied; at most five paths each,
    /// the rest counted.
    @Test func auditAnnotationsGroupPathsByRule() {
        let applied =
            [AppliedDefault(rule: "url-scheme", path: FieldPath("spec", "url"))]
            + (0..<7).map { AppliedDefault(rule: "credential-base64", path: FieldPath([.key("spec"), .key("c"), .index($0)])) }
            + [AppliedDefault(rule: "url-scheme", path: FieldPath("spec", "url2")), AppliedDefault(rule: "phase", path: FieldPath("spec", "phase"))]
        let rendered = AuditAnnotations.render(applied)
        #expect(rendered.map(\.key) == ["url-scheme", "credential-base64", "phase"])
        #expect(rendered.map(\.value) == ["spec.url,spec.url2", "spec.c[0],spec.c[1],spec.c[2],spec.c[3],spec.c[4] (+2 more)", "spec.phase"])
        #expect(AuditAnnotations.render([]).isEmpty)
    }

    @Test func fewWarningsAreDedupedInOrder() {
        let warnings = ["a", "b", "a", "c", "b"].map { FieldWarning(FieldPath("spec", $0), "dup") } + [FieldWarning(FieldPath(), "top")]
        #expect(WarningList.render(warnings) == ["spec.a: dup", "spec.b: dup", "spec.c: dup", "top"])
    }

    /// `\(quoted:)` in a finding is the value as a JSON string literal, as
    /// `JSON.string(…).compactText` writes it (quotes, backslashes, control bytes, non-ASCII).
    @Test func quotedInterpolationIsTheJSONLiteral() {
        for value in ["ftp", "", "a\"b", "back\\slash", "tab\tnl\n\u{01}", "é€😀", "</script>", "\u{7F}\u{2028}"] {
            let text: FindingText = "scheme \(quoted: value) and \(quoted: Substring(value))."
            let literal = JSON.string(value).compactText
            #expect(text.string == "scheme \(literal) and \(literal).", "\(value)")
        }
    }

    /// A finding's text reads as Swift's own interpolation of the same pieces, whatever
    /// their number and size: the text's buffer starts at the literals' length plus 24
    /// bytes an interpolation and grows past it (pieces of 0 to 300 bytes, non-ASCII,
    /// numbers, Substrings, other texts).
    @Test func findingTextsReadAsSwiftsInterpolation() {
        var generator = SystemRandomNumberGenerator()
        let samples = ["", "a", "é€😀", String(repeating: "x", count: 23), String(repeating: "y", count: 25), String(repeating: "zé", count: 150)]
        for _ in 0..<500 {
            let a = samples.randomElement(using: &generator)!
            let b = samples.randomElement(using: &generator)!
            let n = Int.random(in: -1_000_000...1_000_000, using: &generator)
            let inner: FindingText = "[\(b)]"
            let text: FindingText = "\(a)-\(n)-\(Substring(b).dropFirst())-\(inner)\(a)\(a)"
            let expected = "\(a)-\(n)-\(Substring(b).dropFirst())-[\(b)]\(a)\(a)"
            #expect(text.string == expected)
            if text.string != expected { return }
        }
        let literalOnly: FindingText = "plain"
        #expect(literalOnly.string == "plain")
    }

    /// Runes (Unicode scalars) as the apiserver counts them, across the 8-byte words the
    /// count reads and their tails.
    @Test func runeCountIsTheScalarCount() {
        let pieces = ["a", "é", "€", "😀", "z", "\u{7F}", "ß"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let text = (0..<Int.random(in: 0...40, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(WarningList.runeCount(text) == text.unicodeScalars.count, "\(text)")
        }
    }

    /// Regression: `/mutate` allowed a CREATE whose `request.object` was a JSON string (it
    /// failed open). Validation is the validator's own (the WasmPlugin one denies it too:
    /// EndToEndTests); the endpoint itself refuses to default what is not an object.
    @Test func mutateDeniesAnObjectThatIsNotAnObject() throws {
        let body = review().replacingOccurrences(of: #""object":{"data":{}}"#, with: #""object":"text""#)
        #expect(body.contains(#""object":"text""#))
        let missing = review().replacingOccurrences(of: #""object":{"data":{}},"#, with: "")
        for case let (name, text) in [("string", body), ("missing", missing)] {
            let out = try answer(.mutate, text)
            #expect(out["response"]?["allowed"] == false, "\(name)")
            #expect(out["response"]?["patch"] == nil)
            #expect(out["response"]?["status"]?["code"] == 422)
        }
    }

    /// Messages name the object `namespace/name`, or by its generateName and `*` before the
    /// apiserver has named it.
    @Test func displayNamesJoinNamespaceAndName() {
        let kind = GroupVersionKind(group: "g", version: "v1", kind: "K")
        func shown(name: String = "", namespace: String = "", generateName: String? = nil) -> String {
            let object: JSON? = generateName.map { .object(JSONObject([("metadata", .object(JSONObject([("generateName", .string($0))])))])) }
            return AdmissionRequest(uid: "u", kind: kind, name: name, namespace: namespace, operation: .create, object: object).displayName
        }
        #expect(shown(name: "a", namespace: "ns") == "ns/a")
        #expect(shown(name: "a") == "a")
        #expect(shown(namespace: "ns", generateName: "gen-") == "ns/gen-*")
        #expect(shown(generateName: "gen-") == "gen-*")
        #expect(shown(namespace: "ns") == "ns/")
        #expect(shown(name: "plugin-with-a-long-name-ünï", namespace: "namespace-ø") == "namespace-ø/plugin-with-a-long-name-ünï")
    }

    /// The answer escapes each cause once, into the message, and copies the bytes into
    /// `causes`: it must still spell exactly what the tree does, whatever the text holds
    /// (quotes, backslashes, control bytes, non-ASCII) and with errors left out.
    @Test func aDenialsBytesSpellTheTreeWhateverTheCausesHold() throws {
        let awkward = ["plain", #"q"uote"#, #"back\slash"#, "new\nline", "tab\tand\u{1}", "ünï/cødé~", "", "dots.and/slashes"]
        let request = AdmissionRequest(
            uid: #"u"1"#, kind: GroupVersionKind(group: "g.io", version: "v1", kind: "Thing"), name: #"n"\ame"#, namespace: "ns", operation: .create)
        for omitted in [0, 3] {
            for count in [1, 2, 5] {
                var errors: [FieldError] = []
                for i in 0..<count {
                    let key = awkward[i % awkward.count], other = awkward[(i + 3) % awkward.count]
                    let path = FieldPath("spec").child(key).index(i).child(other)
                    errors.append(FieldError(i % 2 == 0 ? .invalid : .required, path, "detail \(quoted: key) \(other)", hint: i % 3 == 2 ? "" : "hint \(other)"))
                }
                let response = AdmissionResponse.denied(request, errors: errors, omitted: omitted)
                for version in [AdmissionVersion.v1, .v1beta1] {
                    let bytes = response.reviewBytes(version: version)
                    #expect(bytes == JSONWriter().bytes(response.review(version: version)), "\(count) causes, \(omitted) omitted")
                    let parsed = try JSONParser.parse(bytes)
                    #expect(parsed["response"]?["status"]?["message"]?.stringValue == response.denial?.message)
                    let fields = parsed["response"]?["status"]?["details"]?["causes"]?.arrayValue?.compactMap { $0["field"]?.stringValue }
                    #expect(fields == errors.map(\.path.description))
                }
            }
        }
    }

    /// Regression: a denial listed every error; 200,000 bad credentials took over 500 MB.
    /// The first 100 are listed, the rest counted.
    @Test func aDenialListsAtMostAHundredErrorsAndCountsTheRest() throws {
        var result = ValidationResult()
        for i in 0..<250 { result.error(.invalid(FieldPath("data").index(i), "is bad")) }
        #expect(result.errors.count == ValidationResult.maxKept)
        #expect(result.omittedErrors == 150)
        #expect(result.errorCount == 250)
        let request = AdmissionRequest(uid: "u", kind: GroupVersionKind(group: "", version: "v1", kind: "ConfigMap"), name: "cm", namespace: "ns", operation: .create)
        let denial = try #require(AdmissionResponse.denied(request, errors: result.errors, omitted: result.omittedErrors).denial)
        #expect(denial.message.hasPrefix(#"ConfigMap "ns/cm" is invalid (250 errors):"#))
        #expect(denial.message.hasSuffix("- and 150 more errors not listed (the first 100 are above)"))
        #expect(denial.causes.count == 100)
    }
}

/// The envelope is read member by member, not built as a tree: it must decide exactly as
/// decoding the tree does (`decode(_ json:)`), messages included.
@Suite struct EnvelopeReadingTests {
    static func agree(_ body: [UInt8], _ comment: String = "") -> Bool {
        let readSet = AdmissionReviewDecoder.readSet()
        let read = Result { () throws(AdmissionDecodeError) in try AdmissionReviewDecoder.decode(body, reading: readSet) }
        let tree = Result { () throws(AdmissionDecodeError) in
            let json: JSON
            do {
                json = try JSONParser.parse(body, reading: readSet, maxValues: AdmissionReviewDecoder.maxValues, strings: .kubernetes)
            } catch {
                throw AdmissionDecodeError("body is not valid JSON: \(error)")
            }
            return try AdmissionReviewDecoder.decode(json)
        }
        let same =
            switch (read, tree) {
            case (.success(let r), .success(let t)): r.0 == t.0 && r.1 == t.1
            case (.failure(let r), .failure(let t)): r == t
            default: false
            }
        #expect(same, "\(comment): read \(read), tree \(tree): \(String(decoding: body, as: UTF8.self))")
        return same
    }

    static let envelope =
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"},"name":"cm","namespace":"ns","operation":"UPDATE","userInfo":{"username":"a","groups":["b"]},"object":{"metadata":{"name":"cm","managedFields":[{"f":1}]},"data":{"k":"v"}},"oldObject":{"data":{}},"dryRun":true,"options":null}}"#

    /// Every prefix of a review (each one a different truncation error, or a success) and
    /// the review with each byte removed.
    @Test func everyPrefixAndDeletionDecidesAlike() {
        let body = Array(Self.envelope.utf8)
        for n in 1...body.count where !Self.agree(Array(body[..<n]), "prefix \(n)") { return }
        for i in body.indices {
            var cut = body
            cut.remove(at: i)
            if !Self.agree(cut, "without byte \(i)") { return }
        }
    }

    @Test(arguments: [
        "[]", "null", #""x""#, "{}", "1", " { } ", "{} x",
        #"{"apiVersion":1}"#, #"{"apiVersion":"v9","kind":"AdmissionReview"}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"Review","request":{}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[1]}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":"Pod"}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":1,"kind":"Pod"}}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"PATCH"}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","dryRun":"yes"}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","name":{}}}"#,
        // The last of a repeated key wins, at both levels.
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a","kind":{"kind":"Pod"},"operation":"CREATE"},"request":{"uid":"b","kind":{"kind":"Pod"},"operation":"DELETE","uid":"c"}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a","kind":{"kind":"Pod"},"operation":"CREATE"},"request":null}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x","request":{"uid":"a","kind":{"kind":"Pod"},"operation":"CREATE"}}"#,
        // Escaped keys are the keys they spell.
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a","kind":{"kind":"Pod"},"operation":"CREATE","object":{"a"b":1}}}"#,
        #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"a","kind":{"kind":"Pod"},"operation":"CREATE","userInfo":{"x":[1,}}}"#,
    ])
    func envelopesDecideAlike(_ body: String) {
        _ = Self.agree(Array(body.utf8))
    }
}

@Suite struct JSONReadSetTests {
    @Test func buildsOnlyWhatIsRead() throws {
        let text = #"{"a":{"keep":[{"x":1,"y":2}],"drop":{"deep":[1,2,3]}},"b":[1,2],"c":"s"}"#
        let read: JSONReadSet = .members([("a", .members([("keep", .members([("x", .all)], others: .none))], others: .none)), ("c", .none)], others: .all)
        let value = try JSONParser.parse(Array(text.utf8), reading: read)
        #expect(value == ["a": ["keep": [["x": 1, "y": nil]], "drop": nil], "b": [1, 2], "c": nil])
        // Skipped values are still checked for syntax, and do not count against the limit.
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(#"{"a":{"drop":[1,}}"#.utf8), reading: read) }
        #expect(try JSONParser.parse(Array(#"{"a":{"drop":[1,2,3,4,5,6,7,8]}}"#.utf8), reading: read, maxValues: 3) == ["a": ["drop": nil]])
        #expect(try JSONParser.parse(Array("[1,2]".utf8), reading: .none) == nil)
    }

    /// `omit` checks a member and leaves it out of its object; elsewhere it is `none`.
    @Test func omittedMembersAreLeftOut() throws {
        let read: JSONReadSet = .members([("a", .members([("x", .all)], others: .omit)), ("b", .omit)], others: .all)
        let value = try JSONParser.parse(Array(#"{"a":{"x":1,"y":{"z":[2]},"w":"s"},"b":[3],"c":4}"#.utf8), reading: read)
        #expect(value == ["a": ["x": 1], "c": 4])
        #expect(value["a"]?.objectValue?.keys == ["x"] && value["b"] == nil)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(#"{"a":{"y":[1,]}}"#.utf8), reading: read) }
        #expect(try JSONParser.parse(Array("[1,2]".utf8), reading: .omit) == nil)
    }

    @Test func skippingPathsIsAReadSet() throws {
        let value = try JSONParser.parse(Array(#"{"a":{"b":[1],"c":2},"d":3}"#.utf8), skipping: [["a", "b"], ["d"]])
        #expect(value == ["a": ["b": nil, "c": 2], "d": nil])
    }
}

@Suite struct JSONValueLimitTests {
    @Test func documentsPastTheValueLimitAreRefused() throws {
        #expect(try JSONParser.parse(Array("[1,2]".utf8), skipping: [], maxValues: 3) == [1, 2])
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("[1,2,3]".utf8), skipping: [], maxValues: 3) }
        // Skipped members are checked, not built: they do not count.
        let skipped = try JSONParser.parse(Array(#"{"a":[1,2,3,4,5,6],"b":1}"#.utf8), skipping: [["a"]], maxValues: 3)
        #expect(skipped["b"] == 1)
    }

    @Test func reviewsPastTheLimitAreRefusedWithAClearError() {
        // In `object`, which is built (unknown request fields are checked and skipped).
        let values = String(repeating: "0,", count: AdmissionReviewDecoder.maxValues) + "0"
        let body = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":{"x":["# + values + "]}}}"
        #expect {
            try AdmissionReviewDecoder.decode(Array(body.utf8))
        } throws: { error in
            (error as? AdmissionDecodeError)?.description.contains("more than \(AdmissionReviewDecoder.maxValues) JSON values") == true
        }
    }
}
