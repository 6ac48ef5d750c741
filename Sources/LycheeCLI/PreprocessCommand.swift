import ArgumentParser

/// Placeholder until the `preprocess` command lands.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preprocess", abstract: "(not built yet)")
    func run() throws { throw ValidationError("`preprocess` is not built yet") }
}
