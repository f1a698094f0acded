import AdmissionKit
import FuzzSupport
import WasmPluginPolicy
import YAMLManifests

let validator = WasmPluginValidator()
let defaulter = WasmPluginDefaulter()

/// The YAML path of `check`: documents parsed, each defaulted then validated, the result
/// written back as YAML. Oracles: no crash; every reported field has a line in the file.
/// (That `--fix` output keeps every value's type is the rules round's work: not checked.)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size < 64 * 1024 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let documents = try? YAMLDocuments.parse(text) else { return 0 }
    for document in documents {
        var editor = ObjectEditor(document.value)
        _ = defaulter.applyDefaults(&editor)
        let result = validator.validate(object: editor.object, namespace: "default")
        for error in result.errors { require(document.line(of: error.path) >= 0, "no line for \(error.path)") }
        _ = try? YAMLDocuments.emit(editor.object)
    }
    return 0
}

@_cdecl("FuzzYAML_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzYAML)
}
