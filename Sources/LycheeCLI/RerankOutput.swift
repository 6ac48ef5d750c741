import Foundation
import Reranker

/// How `rerank` prints its results.
enum RerankOutput {
    /// Throws for the first result whose score or logit is NaN or infinite: such a result means broken
    /// weights, and must never be printed as a ranking (nor dropped in silence).
    static func requireFinite(_ results: [RerankResult]) throws(RerankerError) {
        if let bad = results.first(where: { !$0.score.isFinite || !$0.logit.isFinite }) {
            throw .nonFiniteScore(index: bad.index, logit: bad.logit)
        }
    }

    /// `{"results": [{"index", "score", "logit", "tokens", "truncated"}, ...]}` on one line; throws for a
    /// non-finite score (which JSON cannot hold).
    static func json(_ results: [RerankResult]) throws -> String {
        try requireFinite(results)
        struct Envelope: Encodable { var results: [RerankResult] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(Envelope(results: results)), as: UTF8.self)
    }

    /// A ranked table for people.
    static func table(_ results: [RerankResult], documents: [RerankItem]) -> String {
        var lines = ["rank  index   score    logit  tokens  document"]
        for (rank, result) in results.enumerated() {
            let document = documents[result.index]
            var label = preview(document.text, limit: 60)
            if case .file(let url) = document.image { label = "[\(url.lastPathComponent)] " + label }
            if result.truncated { label += " (truncated)" }
            let columns = [
                pad(String(rank + 1), 4), pad(String(result.index), 5), String(format: "%.4f", result.score),
                pad(String(format: "%+.3f", result.logit), 7), pad(String(result.tokens), 6), label,
            ]
            lines.append(columns.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// `text` right-aligned in `width` columns.
    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// The text on one line, cut to `limit` characters.
    static func preview(_ text: String, limit: Int) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}
