import ArgumentParser

/// Placeholder until the `inspect` command lands.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "(not built yet)")
    func run() throws { throw ValidationError("`inspect` is not built yet") }
}
