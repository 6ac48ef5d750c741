import Foundation
import ImageProcessing
import Reranker

/// The serving workloads of BENCHMARK.md (S1-S4), deterministic: request `i` of a mix is always the same.
///
/// - S1 text20: 32-word query, 20 documents of 200 words.
/// - S2 img5: 12-word query, 5 documents that are 768x512 JPEGs, never the same image twice within a
///   pool larger than any default image cache (so the cache cannot flatter the figure).
/// - S3 imgq10: a 768x512 JPEG + 8 words as the query (8 distinct query images in rotation), 10 documents
///   of 100 words.
/// - S4 mixed: S1, S2 and S3 interleaved.
public struct ServeWorkload: Sendable {
    /// One request.
    public struct Request: Sendable {
        public var queryText: String
        public var queryImage: Data?
        public var documents: [(text: String, image: Data?)]

        /// The `/v1/rerank` JSON body (images as base64).
        public func body() throws -> Data {
            func item(_ text: String, _ image: Data?) -> Any {
                guard let image else { return text }
                var object: [String: String] = ["image": image.base64EncodedString()]
                if !text.isEmpty { object["text"] = text }
                return object
            }
            return try JSONSerialization.data(withJSONObject: [
                "query": item(queryText, queryImage), "documents": documents.map { item($0.text, $0.image) },
            ])
        }

        /// The same request for the in-process reranker.
        public var items: (query: RerankItem, documents: [RerankItem]) {
            (
                RerankItem(text: queryText, image: queryImage.map { .encoded($0) }),
                documents.map { RerankItem(text: $0.text, image: $0.image.map { .encoded($0) }) }
            )
        }
    }

    /// Every mix, in order.
    public static let ids = ["S1", "S2", "S3", "S4"]
    /// Distinct document images of S2: twice what the default 2 GiB image cache of the 7B holds (about 600
    /// images, kept in bf16), so that the cache cannot flatter the figure.
    public static let documentImagePool = 1200

    public let id: String
    private let documentImages: [Data]
    private let queryImages: [Data]

    /// Builds mix `id`, encoding the images it needs (in parallel).
    /// - Throws: ``WorkloadError/unknownMix(_:)`` for an id that is not S1-S4.
    public init(_ id: String) throws {
        guard Self.ids.contains(id) else { throw WorkloadError.unknownMix(id) }
        self.id = id
        let needsDocuments = id == "S2" || id == "S4"
        let needsQueries = id == "S3" || id == "S4"
        documentImages = needsDocuments ? try Self.jpegs(seeds: (0..<Self.documentImagePool).map { 5000 + $0 }) : []
        queryImages = needsQueries ? try Self.jpegs(seeds: (0..<8).map { 9000 + $0 }) : []
    }

    /// Request `index` of the mix.
    public func request(_ index: Int) -> Request {
        var text = SyntheticText(seed: UInt64(index) &* 7919 &+ UInt64(id.utf8.last ?? 0))
        let kind = id == "S4" ? ["S1", "S2", "S3"][index % 3] : id
        switch kind {
        case "S1":
            return Request(
                queryText: text.words(32), queryImage: nil, documents: (0..<20).map { _ in (text.words(200), nil) })
        case "S2":
            return Request(
                queryText: text.words(12), queryImage: nil,
                documents: (0..<5).map { ("", documentImages[(index * 5 + $0) % documentImages.count]) })
        default:
            return Request(
                queryText: text.words(8), queryImage: queryImages[index % queryImages.count],
                documents: (0..<10).map { _ in (text.words(100), nil) })
        }
    }

    private static func jpegs(seeds: [Int]) throws -> [Data] {
        try concurrentResults(count: seeds.count) { index in
            try JPEGWriter.encode(SyntheticImage.make(seed: seeds[index]), quality: 90)
        }.map { try $0.get() }
    }
}

/// A workload that does not exist.
public enum WorkloadError: Error, Equatable, CustomStringConvertible {
    case unknownMix(String)

    public var description: String {
        switch self {
        case .unknownMix(let id): "unknown serving mix \(id): use S1, S2, S3 or S4"
        }
    }
}
