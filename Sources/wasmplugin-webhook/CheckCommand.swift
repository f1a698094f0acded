#if canImport(Glibc)
import Glibc
#endif
import AdmissionKit
import ArgumentParser
import ClusterView
import WasmPluginPolicy
import YAMLManifests

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Lint WasmPlugin manifests offline with the webhook's own rules.",
        discussion: """
            Reads YAML or JSON manifests (multi-document, and `kind: List` as `kubectl get -o yaml|json` \
            prints; documents that are not WasmPlugins are skipped), applies the mutating webhook's \
            defaults, then the validating rules, exactly as the server would. Prints \
            FILE:LINE: FIELD: severity: message [rule-id] for each finding and a summary on stderr; \
            exits 1 if anything would be denied, 2 for unreadable input or a bad policy.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, github
    }

    @Option(help: "Policy file (YAML).")
    var policy: String?

    @Option(
        name: .customLong("cluster"),
        help: ArgumentHelp(
            "A dump of the cluster (YAML or JSON, multi-document or kind: List; repeat for several): adds the context rules.",
            discussion: "kubectl get gateways.gateway.networking.k8s.io,gatewayclasses,services,namespaces,serviceentries.networking.istio.io -A -o json"))
    var clusterDumps: [String] = []

    @Flag(help: "Apply the mutating webhook's changes: print the fixed files (findings go to stderr).")
    var fix = false

    @Flag(help: "With --fix: edit the files in place instead of printing them.")
    var write = false

    @Option(help: "Findings as text, json (for tools) or github (workflow annotations).")
    var format = Format.text

    @Argument(help: "Manifest files (YAML or JSON), or - for standard input.")
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one manifest file") }
        if write, !fix { throw ValidationError("--write needs --fix") }
        if write, files.contains("-") { throw ValidationError("--write cannot edit standard input") }
        if clusterDumps.contains("-") { throw ValidationError("--cluster needs a file; standard input is for the manifests") }
    }

    func run() throws {
        let settings: PolicySettings
        do {
            settings = try PolicyLoader.load(policy)
        } catch {
            throw failUsage("check: \(error)")
        }
        let cluster: ClusterStore?
        do {
            cluster = clusterDumps.isEmpty ? nil : try ClusterDumps.read(clusterDumps)
        } catch {
            throw failUsage("check: \(error)")
        }
        var linter = ManifestLinter(settings: settings, applyFixes: fix, cluster: cluster)
        var fixedOutput: [String] = []
        for file in files {
            let bytes: [UInt8]
            do {
                bytes = try InputFiles.read(file)
            } catch {
                throw failUsage("check: \(error)")
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                linter.fileFailed(file, "not UTF-8 text")
                continue
            }
            guard let fixed = linter.lint(file, text) else { continue }
            if !fix { continue }
            if write {
                if fixed != text { try writeInPlace(file, fixed) }
            } else {
                fixedOutput.append(fixed)
            }
        }
        // With --fix (no --write) the fixed files go to stdout, so findings go to stderr.
        let findingsFD: Int32 = fix && !write ? 2 : 1
        FileHandleOutput.write(findingsFD, Array(FindingFormatter.render(linter.findings, format).utf8))
        if !fixedOutput.isEmpty { FileHandleOutput.stdout(Self.joinDocuments(fixedOutput)) }
        FileHandleOutput.stderr(linter.summary(files: files.count, wrote: write) + "\n")
        if linter.denied { throw ExitCode(1) }
    }

    /// Several fixed files on stdout read as one multi-document stream.
    static func joinDocuments(_ texts: [String]) -> String {
        texts.enumerated().map { i, text in
            let body = text.hasSuffix("\n") || text.isEmpty ? text : text + "\n"
            return i == 0 || body.hasPrefix("---") ? body : "---\n" + body
        }.joined()
    }

    /// Write beside, then rename: a crash never leaves half a manifest.
    private func writeInPlace(_ path: String, _ text: String) throws {
        let temporary = path + ".wasmplugin-check.tmp"
        var status = stat()
        let mode = stat(path, &status) == 0 ? status.st_mode & 0o7777 : 0o644
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failUsage("check: cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                close(fd)
                unlink(temporary)
                throw failUsage("check: cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failUsage("check: cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// `check --cluster` files: the objects the context rules read, from YAML or JSON dumps.
enum ClusterDumps {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func read(_ paths: [String]) throws -> ClusterStore {
        var documents: [JSON] = []
        for path in paths {
            let bytes = try InputFiles.read(path)
            let start = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
            // JSON (`kubectl get -o json`) is read with the view's own read set, which builds
            // only the fields it keeps: large clusters dump fastest this way. Anything else,
            // including YAML documents in flow style, goes through the YAML reader.
            if start == UInt8(ascii: "{"), let document = try? JSONParser.parse(bytes, reading: ClusterObject.dumpReadSet) {
                documents.append(document)
                continue
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure(description: "--cluster \(path): not UTF-8 text") }
            do {
                documents += try YAMLDocuments.parse(text).map(\.value)
            } catch {
                throw Failure(description: "--cluster \(path): not valid YAML: \(error)")
            }
        }
        let store = ClusterStore(dump: documents)
        if store.knownKinds.isEmpty {
            throw Failure(description: "--cluster \(paths.joined(separator: ", ")): no Namespace, Service, ServiceEntry, Gateway or GatewayClass found")
        }
        return store
    }
}
