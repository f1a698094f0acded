import AdmissionKit
import ClusterView
import WasmPluginPolicy
import YAMLManifests

/// One thing `check` says about a manifest.
struct Finding {
    enum Severity: String { case error, warning, note }
    var file: String
    var line: Int
    var column: Int
    var field: String
    var severity: Severity
    var rule: String
    var message: String
}

/// Runs the webhook's defaulting and validation over manifest files, as the server would,
/// and (with fixes on) edits the source text in place with the defaulter's patch.
struct ManifestLinter {
    let validator: WasmPluginValidator
    let defaulter: WasmPluginDefaulter
    let applyFixes: Bool
    private(set) var findings: [Finding] = []
    private(set) var plugins = 0
    private(set) var deniedPlugins = 0
    private(set) var fixedPlugins = 0
    private(set) var failedFiles = 0

    init(settings: PolicySettings, applyFixes: Bool, cluster: ClusterStore? = nil) {
        validator = WasmPluginValidator(settings: settings, cluster: cluster)
        defaulter = WasmPluginDefaulter(settings: settings)
        self.applyFixes = applyFixes
    }

    var denied: Bool { deniedPlugins > 0 || failedFiles > 0 }

    mutating func fileFailed(_ file: String, _ message: String, line: Int = 1) {
        failedFiles += 1
        findings.append(Finding(file: file, line: line, column: 1, field: "", severity: .error, rule: "", message: message))
    }

    /// Lints one file; returns its text with the fixes applied (the text itself when there
    /// is nothing to fix), or nil when it could not be read as YAML or fixed safely.
    mutating func lint(_ file: String, _ text: String) -> String? {
        let documents: [YAMLDocument]
        do {
            documents = try YAMLDocuments.parse(text)
        } catch {
            fileFailed(file, "not valid YAML: \(error)")
            return nil
        }
        var edits = SourceEdits(text: text)
        var expected: [(document: Int, path: FieldPath, value: JSON)] = []
        for (index, document) in documents.enumerated() {
            for (prefix, object) in Self.wasmPlugins(in: document.value) {
                plugins += 1
                let namespace = object["metadata"]?["namespace"]?.stringValue ?? "default"
                var editor = ObjectEditor(object)
                let applied = defaulter.applyDefaults(&editor, namespace: namespace)
                let result = validator.validate(object: editor.object, namespace: namespace)
                record(result, applied: applied, file: file, document: document, prefix: prefix)
                guard applyFixes, !editor.operations.isEmpty else { continue }
                do {
                    try edits.add(editor.operations, final: editor.object, prefix: prefix, spans: document.spans)
                    expected.append((index, prefix, editor.object))
                    fixedPlugins += 1
                } catch {
                    fileFailed(file, "cannot fix in place (\(error)); the file is left as it is", line: document.line(of: prefix))
                    return nil
                }
            }
        }
        guard applyFixes, !edits.isEmpty else { return text }
        let fixed = edits.apply()
        // The edit must read back as exactly the patched objects, and nothing else may
        // change: otherwise nothing is written.
        guard let reparsed = try? YAMLDocuments.parse(fixed), reparsed.count == documents.count,
            expected.allSatisfy({ reparsed[$0.document].value.value(at: $0.path) == $0.value }),
            reparsed.indices.allSatisfy({ i in expected.contains { $0.document == i } || reparsed[i].value == documents[i].value })
        else {
            fileFailed(file, "cannot fix in place: the edited text would not read back as the fixed objects; the file is left as it is")
            return nil
        }
        return fixed
    }

    private mutating func record(_ result: ValidationResult, applied: [AppliedDefault], file: String, document: YAMLDocument, prefix: FieldPath) {
        func add(_ path: FieldPath, _ severity: Finding.Severity, _ rule: String, _ message: String) {
            let full = prefix + path
            let position = document.position(of: full)
            findings.append(
                Finding(file: file, line: position.line, column: position.column, field: full.description, severity: severity, rule: rule, message: message))
        }
        if !applyFixes {
            for change in applied { add(change.path, .note, change.rule, "the mutating webhook changes this") }
        }
        for error in result.errors { add(error.path, .error, error.rule, error.message) }
        for warning in result.warnings { add(warning.path, .warning, warning.rule, warning.message) }
        if result.omittedErrors + result.omittedWarnings > 0 {
            add(FieldPath(), .note, "", "\(result.omittedErrors) more errors and \(result.omittedWarnings) more warnings not listed")
        }
        if !result.isValid { deniedPlugins += 1 }
    }

    /// The WasmPlugins of one document with where they sit: the document itself, or the
    /// items of a `kind: List` (what `kubectl get -o yaml|json` prints).
    static func wasmPlugins(in value: JSON) -> [(FieldPath, JSON)] {
        if isWasmPlugin(value) { return [(FieldPath(), value)] }
        guard value["kind"]?.stringValue?.hasSuffix("List") == true, value["apiVersion"]?.stringValue == "v1",
            let items = value["items"]?.arrayValue
        else { return [] }
        return items.enumerated().filter { isWasmPlugin($1) }.map { (FieldPath("items").index($0), $1) }
    }

    static func isWasmPlugin(_ object: JSON) -> Bool {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue else { return false }
        return apiVersion.hasPrefix(WasmPluginKind.group + "/") && kind == WasmPluginKind.kind
    }

    func summary(files: Int, wrote: Bool) -> String {
        let fileCount = files == 1 ? "1 file" : "\(files) files"
        if plugins == 0 {
            return "check: no WasmPlugin found in \(fileCount)" + (failedFiles > 0 ? " (\(failedFiles) unreadable)" : "")
        }
        let errors = findings.filter { $0.severity == .error }.count
        let warnings = findings.filter { $0.severity == .warning }.count
        var text = "check: \(plugins) WasmPlugin\(plugins == 1 ? "" : "s") in \(fileCount): \(deniedPlugins) denied (\(errors) error\(errors == 1 ? "" : "s")), \(warnings) warning\(warnings == 1 ? "" : "s")"
        if applyFixes { text += ", \(fixedPlugins) \(wrote ? "fixed in place" : "fixed")" }
        if failedFiles > 0 { text += ", \(failedFiles) file\(failedFiles == 1 ? "" : "s") unreadable" }
        return text
    }
}

enum FindingFormatter {
    static func render(_ findings: [Finding], _ format: CheckCommand.Format) -> String {
        switch format {
        case .text:
            return findings.map { f in
                let field = f.field.isEmpty ? "" : f.field + ": "
                let rule = f.rule.isEmpty ? "" : " [\(f.rule)]"
                return "\(f.file):\(f.line): \(field)\(f.severity.rawValue): \(f.message)\(rule)\n"
            }.joined()
        case .json:
            let items = findings.map { f -> JSON in
                .object(
                    JSONObject([
                        ("file", .string(f.file)), ("line", .number(f.line)), ("column", .number(f.column)), ("field", .string(f.field)),
                        ("severity", .string(f.severity.rawValue)), ("rule", .string(f.rule)), ("message", .string(f.message)),
                    ]))
            }
            return JSONWriter().string(.array(items)) + "\n"
        case .github:
            // Workflow commands: https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions
            return findings.map { f in
                let command = f.severity == .note ? "notice" : f.severity.rawValue
                var properties = "file=\(escapeProperty(f.file)),line=\(f.line),col=\(f.column)"
                if !f.rule.isEmpty { properties += ",title=\(escapeProperty(f.rule))" }
                let field = f.field.isEmpty ? "" : f.field + ": "
                return "::\(command) \(properties)::\(escapeData(field + f.message))\n"
            }.joined()
        }
    }

    static func escapeData(_ s: String) -> String {
        s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    static func escapeProperty(_ s: String) -> String {
        escapeData(s).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
