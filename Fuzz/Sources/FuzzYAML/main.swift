import AdmissionKit
import FuzzSupport
import WasmPluginPolicy
import YAMLManifests

let validator = WasmPluginValidator()
let defaulter = WasmPluginDefaulter()

/// The YAML path of `check` and `check --fix`: documents parsed, each defaulted then
/// validated, the defaulter's patch applied to the source text in place. Oracles: no
/// crash; every reported field has a line; when the in-place edit is made, the edited
/// text reads back as exactly the patched objects (every value keeps its type) and the
/// untouched documents as they were.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size < 64 * 1024 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let documents = try? YAMLDocuments.parse(text) else { return 0 }
    var edits = SourceEdits(text: text)
    var expected: [Int: JSON] = [:]
    for (index, document) in documents.enumerated() {
        var editor = ObjectEditor(document.value)
        _ = defaulter.applyDefaults(&editor, namespace: "default")
        let result = validator.validate(object: editor.object, namespace: "default")
        for error in result.errors { require(document.line(of: error.path) >= 0, "no line for \(error.path)") }
        guard !editor.operations.isEmpty else { continue }
        // Refusing to edit is allowed (check then leaves the file alone); a wrong edit is not.
        guard (try? edits.add(editor.operations, final: editor.object, prefix: FieldPath(), spans: document.spans)) != nil else { return 0 }
        expected[index] = editor.object
    }
    guard !edits.isEmpty else { return 0 }
    let fixed = edits.apply()
    guard let reparsed = try? YAMLDocuments.parse(fixed) else {
        require(false, "edited text is not YAML:\n\(fixed)")
        return 0
    }
    require(reparsed.count == documents.count, "document count changed:\n\(fixed)")
    for (index, document) in documents.enumerated() {
        require(reparsed[index].value == (expected[index] ?? document.value), "document \(index) reads back differently:\n\(fixed)")
    }
    return 0
}

@_cdecl("FuzzYAML_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzYAML)
}
