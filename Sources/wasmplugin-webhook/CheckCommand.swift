import AdmissionKit
import ArgumentParser
import WasmPluginPolicy
import YAMLManifests

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Lint WasmPlugin manifests offline with the webhook's own rules.",
        discussion: """
            Reads YAML or JSON manifests (multi-document; documents that are not WasmPlugins are skipped), \
            applies the mutating webhook's defaults, then the validating rules, exactly as the server would. \
            Prints FILE:LINE: FIELD: message for each error and warning; exits 1 if anything would be denied.
            """
    )

    @Option(help: "Policy file (YAML).")
    var policy: String?

    @Flag(help: "Print the documents with the mutating webhook's changes applied.")
    var fix = false

    @Argument(help: "Manifest files (YAML or JSON), or - for standard input.")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one manifest file") }
    }

    func run() throws {
        let settings: PolicySettings
        do {
            settings = try PolicyLoader.load(policy)
        } catch {
            throw failUsage("check: \(error)")
        }
        let validator = WasmPluginValidator(settings: settings)
        let defaulter = WasmPluginDefaulter(settings: settings)
        var denied = false
        var fixedDocuments: [String] = []
        for file in files {
            let documents: [YAMLDocument]
            do {
                let bytes = try InputFiles.read(file)
                documents = try YAMLDocuments.parse(String(decoding: bytes, as: UTF8.self))
            } catch let error as UsageFailure {
                throw failUsage("check: \(error)")
            } catch {
                report(file, 1, "", "error: not valid YAML: \(error)")
                denied = true
                continue
            }
            for document in documents {
                let object = document.value
                guard isWasmPlugin(object) else {
                    if fix { fixedDocuments.append(try YAMLDocuments.emit(object)) }
                    continue
                }
                var editor = ObjectEditor(object)
                let namespace = object["metadata"]?["namespace"]?.stringValue ?? "default"
                let applied = defaulter.applyDefaults(&editor, namespace: namespace)
                let result = validator.validate(object: editor.object, namespace: namespace)
                if !fix {
                    for change in applied {
                        report(file, document.line(of: change.path), change.path.description, "note: the mutating webhook changes this (\(change.rule))")
                    }
                }
                for error in result.errors {
                    report(file, document.line(of: error.path), error.path.description, "error: \(error.message)")
                }
                for warning in result.warnings {
                    report(file, document.line(of: warning.path), warning.path.description, "warning: \(warning.message)")
                }
                if result.omittedErrors + result.omittedWarnings > 0 {
                    report(file, document.line(of: FieldPath()), "", "note: \(result.omittedErrors) more errors and \(result.omittedWarnings) more warnings not listed")
                }
                denied = denied || !result.isValid
                if fix { fixedDocuments.append(try YAMLDocuments.emit(editor.object)) }
            }
        }
        if fix { FileHandleOutput.stdout(fixedDocuments.joined(separator: "---\n")) }
        if denied { throw ExitCode(1) }
    }

    private func isWasmPlugin(_ object: JSON) -> Bool {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue else { return false }
        return apiVersion.hasPrefix(WasmPluginKind.group + "/") && kind == WasmPluginKind.kind
    }

    /// With --fix the documents go to stdout, so findings go to stderr.
    private func report(_ file: String, _ line: Int, _ field: String, _ message: String) {
        let text = "\(file):\(line): \(field.isEmpty ? "" : field + ": ")\(message)\n"
        if fix { FileHandleOutput.stderr(text) } else { FileHandleOutput.stdout(text) }
    }
}
