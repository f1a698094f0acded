import AdmissionKit
import WasmPluginPolicy
import YAMLManifests

enum PolicyLoader {
    /// Loads `--policy`, or the defaults when none is given. Errors name the key.
    static func load(_ path: String?) throws(UsageFailure) -> PolicySettings {
        guard let path else { return PolicySettings() }
        let bytes = try InputFiles.read(path)
        let documents: [YAMLDocument]
        do {
            documents = try YAMLDocuments.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw UsageFailure("policy \(path): not valid YAML: \(error)")
        }
        guard documents.count <= 1 else { throw UsageFailure("policy \(path): expected one YAML document, found \(documents.count)") }
        do {
            return try PolicySettings(json: documents.first?.value ?? .null)
        } catch {
            throw UsageFailure("policy \(path): \(error)")
        }
    }
}
