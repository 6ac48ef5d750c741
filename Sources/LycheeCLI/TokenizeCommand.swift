import ArgumentParser

/// Placeholder until the `tokenize` command lands.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "(not built yet)")
    func run() throws { throw ValidationError("`tokenize` is not built yet") }
}
