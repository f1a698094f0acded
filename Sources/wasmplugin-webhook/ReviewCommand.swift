import AdmissionKit
import ArgumentParser
import WasmPluginPolicy

struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Answer one AdmissionReview exactly as the server would.",
        discussion: "Reads an AdmissionReview JSON document and writes the response AdmissionReview to stdout. Exit 0 when a response was produced (allowed or not), 2 on unusable input."
    )

    @Option(help: "Which webhook answers: validate or mutate.")
    var endpoint: WebhookEndpoint

    @Option(help: "Policy file (YAML).")
    var policy: String?

    @Argument(help: "AdmissionReview JSON file, or - for standard input.")
    var file: String = "-"

    func run() throws {
        do {
            let settings = try PolicyLoader.load(policy)
            let body = try InputFiles.read(file)
            let outcome = try WebhookFactory.make(settings).review(endpoint, body: body)
            FileHandleOutput.write(1, outcome.body + [UInt8(ascii: "\n")])
        } catch let error as AdmissionDecodeError {
            throw failUsage("review: \(error)")
        } catch let error as UsageFailure {
            throw failUsage("review: \(error)")
        }
    }
}

extension WebhookEndpoint: ExpressibleByArgument {}

enum WebhookFactory {
    static func make(_ settings: PolicySettings) -> AdmissionWebhook {
        AdmissionWebhook.wasmPlugins(settings: settings)
    }
}
