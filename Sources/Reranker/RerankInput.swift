import Foundation
import ImageProcessing

/// An image given to the reranker: a file, encoded bytes (JPEG, PNG, WebP, GIF, BMP), or pixels.
public enum RerankImage: Sendable {
    case file(URL)
    case encoded(Data)
    case decoded(RGBImage)

    /// Decodes the image (never trusting the file name: the format is read from the bytes).
    func decode(maxPixels: Int) throws -> RGBImage {
        switch self {
        case .file(let url):
            return try ImageDecoder.decode(contentsOf: url, maxPixels: maxPixels)
        case .encoded(let data):
            return try ImageDecoder.decode(data, maxPixels: maxPixels)
        case .decoded(let image):
            return image
        }
    }
}

/// A query or a document: text, an image, or both (the image comes first in the prompt).
public struct RerankItem: Sendable {
    public var text: String
    public var image: RerankImage?

    public init(text: String = "", image: RerankImage? = nil) {
        self.text = text
        self.image = image
    }

    /// Whether the item carries neither text nor an image.
    public var isEmpty: Bool { text.isEmpty && image == nil }
}

/// The relevance of one document to the query.
public struct RerankResult: Sendable, Hashable, Codable {
    /// Position of the document in the request.
    public var index: Int
    /// Probability that the document meets the query: `sigmoid(logit)`, in [0, 1].
    public var score: Double
    /// `z = logit(yes) - logit(no)` at the last prompt token.
    public var logit: Double
    /// Prompt tokens the model read for this pair (image tokens included).
    public var tokens: Int
    /// Whether the document text was shortened to fit the maximum length.
    public var truncated: Bool

    public init(index: Int, score: Double, logit: Double, tokens: Int, truncated: Bool) {
        self.index = index
        self.score = score
        self.logit = logit
        self.tokens = tokens
        self.truncated = truncated
    }
}
