import ArgumentParser
import RerankServer

/// The `lychee-rerank` command: a multimodal reranker built on Lychee-Rerank-MM.
@main
struct LycheeRerank: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lychee-rerank",
        abstract: "Score how relevant documents (text, images or both) are to a query with Lychee-Rerank-MM.",
        version: lycheeRerankVersion,
        subcommands: [
            ServeCommand.self, RerankCommand.self, DownloadCommand.self, InspectCommand.self,
            TokenizeCommand.self, PreprocessCommand.self, SelftestCommand.self, BenchCommand.self,
            BenchServeCommand.self,
        ]
    )
}
