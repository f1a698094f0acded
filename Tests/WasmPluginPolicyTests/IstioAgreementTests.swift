import AdmissionKit
import Foundation
import Testing
import YAMLManifests

@testable import WasmPluginPolicy

/// Istio's own WasmPlugin test cases (`Istio/istio-cases.yaml`), judged as a cluster with
/// this webhook would: mutate, apply, validate. Every case must agree with Istio's verdict
/// except the ones listed in `deliberate`, where Istio admits a plugin that then fails.
@Suite struct IstioAgreementTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var istioValid: Bool
        var object: JSON
        var testDescription: String { name }
    }

    /// Refused on purpose although Istio admits it, with the reason.
    static let deliberate: [String: String] = [
        // Go's url parser reads `bar:` as the scheme; pilot keeps it and the agent refuses
        // to fetch it ("unsupported Wasm module downloading URL scheme"). Denied with a hint
        // to write oci://docker.io/library/bar:latest.
        "api noprefix-image-default-lib-with-tag": "name:tag without a scheme reads as scheme 'bar'",
    ]

    static let cases: [Case] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Istio/istio-cases.yaml")
        guard let text = try? String(contentsOf: url, encoding: .utf8), let documents = try? YAMLDocuments.parse(text) else { return [] }
        return documents.compactMap { document in
            guard case .object(var object) = document.value, let name = object["case"]?.stringValue,
                let verdict = object["istio"]?.stringValue
            else { return nil }
            object["case"] = nil
            object["istio"] = nil
            var plugin = JSONObject([("apiVersion", "extensions.istio.io/v1alpha1"), ("kind", "WasmPlugin"), ("metadata", ["name": "p", "namespace": "default"])])
            for member in object.members { plugin.append(member) }
            return Case(name: name, istioValid: verdict == "valid", object: .object(plugin))
        }
    }()

    static func admitted(_ object: JSON) -> (Bool, ValidationResult) {
        var editor = ObjectEditor(object)
        _ = WasmPluginDefaulter().applyDefaults(&editor, namespace: "default")
        let result = WasmPluginValidator().validate(object: editor.object, namespace: "default")
        return (result.isValid, result)
    }

    @Test func corpusIsComplete() {
        // 13 valid and 11 invalid from istio/api, 18 from istiod's TestValidateWasmPlugin.
        #expect(Self.cases.count == 42)
    }

    @Test(arguments: cases)
    func agreesWithIstio(_ c: Case) {
        let (admitted, result) = Self.admitted(c.object)
        if let why = Self.deliberate[c.name] {
            #expect(c.istioValid && !admitted, "deliberate disagreement no longer holds (\(why))")
        } else {
            #expect(admitted == c.istioValid, "Istio: \(c.istioValid ? "valid" : "invalid"); ours: \(result.errors)")
        }
    }
}
