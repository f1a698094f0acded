import AdmissionKit
import Testing
import WasmPluginPolicy
import YAMLManifests

/// `check --fix` edits YAML text in place. Refusing an edit is allowed (the file is then
/// left alone); an edit whose text does not read back as the defaulted objects is not.
@Suite struct SourceEditsTests {
    /// The fuzzer's oracle (Fuzz/FuzzYAML): default each document, edit the text, read it
    /// back. Returns whether the edit was made.
    private func fixReadsBack(_ text: String) throws -> Bool {
        let documents = try YAMLDocuments.parse(text)
        var edits = SourceEdits(text: text)
        var expected: [Int: JSON] = [:]
        for (index, document) in documents.enumerated() {
            var editor = ObjectEditor(document.value)
            _ = WasmPluginDefaulter().applyDefaults(&editor, namespace: "default")
            guard !editor.operations.isEmpty else { continue }
            guard (try? edits.add(editor.operations, final: editor.object, prefix: FieldPath(), spans: document.spans)) != nil else { return false }
            expected[index] = editor.object
        }
        let fixed = edits.apply()
        let reparsed = try #require(try? YAMLDocuments.parse(fixed), "edited text is not YAML:\n\(fixed)")
        #expect(reparsed.count == documents.count)
        for (index, document) in documents.enumerated() where index < reparsed.count {
            #expect(reparsed[index].value == (expected[index] ?? document.value), "document \(index) reads back differently:\n\(fixed)")
        }
        return true
    }

    /// A FuzzYAML input that was committed at the repository's root (354149f) instead of
    /// as a test: a document whose only key is a broken `targetRef`, then a flow mapping
    /// whose quoted url starts on the next line. Both oracles must hold on it.
    @Test func aFlowMappingAfterABrokenDocumentReadsBack() throws {
        let text = """
            # T5he ving certtomrat
            spec:
              targetRef:
                kind: Gatewst", 'YWRtaW2zOmFkbWluMw']
            ---
            spec: {selector: {matchLabels: {istio.io/gateway-name: gw}}, url:
            "//ghcr.io/x/basic_auth:2"}
            """
        let documents = try YAMLDocuments.parse(text)
        #expect(documents.count == 2)
        var errors = 0
        for document in documents {
            let result = WasmPluginValidator().validate(object: document.value, namespace: "default")
            errors += result.errors.count
            for error in result.errors { #expect(document.line(of: error.path) >= 1, "no line for \(error.path)") }
        }
        #expect(errors > 0)
        #expect(try fixReadsBack(text))
    }

    private func plugin(_ newline: String) -> String {
        ["apiVersion: extensions.istio.io/v1alpha1", "kind: WasmPlugin", "metadata: {name: a, namespace: ns}", "spec:",
         "  targetRef:", "    kind: Gateway", "    name: gw", "  url: ghcr.io/x/y:1.0", ""].joined(separator: newline)
    }

    @Test func lineFeedAndCRLFFilesAreEdited() throws {
        #expect(try fixReadsBack(plugin("\n")))
        #expect(try fixReadsBack(plugin("\r\n")))
    }

    /// Regression (found by FuzzYAML in CI): after `spec:` a lone CR ended the line, and
    /// replacing `targetRef` joined the two lines into `spec:    url: …`, which is not the
    /// fixed object. Such a text is now not edited.
    @Test func aLoneCarriageReturnIsNotEditedAcross() throws {
        let text = plugin("\n").replacingOccurrences(of: "spec:\n", with: "spec:\r")
        #expect(try fixReadsBack(text) == false)
        #expect(try fixReadsBack(plugin("\r")) == false)
        // libyaml breaks lines at NEL, LS and PS too.
        for separator in ["\u{85}", "\u{2028}", "\u{2029}"] {
            let text = plugin("\n").replacingOccurrences(of: "spec:\n", with: "spec:" + separator)
            guard (try? YAMLDocuments.parse(text)) != nil else { continue }
            #expect(try fixReadsBack(text) == false, "\(separator.unicodeScalars.first!.value)")
        }
    }
}
