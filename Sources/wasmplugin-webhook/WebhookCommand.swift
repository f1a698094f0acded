import ArgumentParser

@main
struct WebhookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wasmplugin-webhook",
        abstract: "Admission webhook for Istio WasmPlugin resources: validates, defaults and patches them.",
        subcommands: [ServeCommand.self, ReviewCommand.self, CheckCommand.self]
    )
}

/// Exit with status 2 and one line on stderr: unusable input, not a policy decision.
struct UsageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func failUsage(_ message: String) -> ExitCode {
    FileHandleOutput.stderr(message + "\n")
    return ExitCode(2)
}
