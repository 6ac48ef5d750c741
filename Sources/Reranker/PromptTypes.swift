import Qwen25VL
import TensorKit

/// One side of a rerank pair (query or document): images, then text, as Lychee lays them out.
public struct PromptSegment: Sendable, Hashable {
    /// Grids of the side's images (in patches, as the image preprocessor returns them), in order.
    public var images: [VisionGrid]
    /// The side's text; empty for an image-only side.
    public var text: String

    /// A side with the given text and images (images are placed before the text).
    public init(text: String = "", images: [VisionGrid] = []) {
        self.text = text
        self.images = images
    }
}

/// Where one image sits in an encoded prompt.
public struct PromptImageBlock: Sendable, Hashable {
    /// Which side of the pair the image belongs to.
    public enum Side: String, Sendable, Hashable {
        case query, document
    }

    /// The image's side.
    public var side: Side
    /// Position of the image among its side's images.
    public var indexInSide: Int
    /// The image's grid in patches.
    public var grid: VisionGrid
    /// Index of the block's first `<|image_pad|>` token (the `<|vision_start|>` is just before it).
    public var padStart: Int
    /// Number of `<|image_pad|>` tokens: the image's merged token count.
    public var padCount: Int

    /// The pad tokens, which the image embeddings replace.
    public var padRange: Range<Int> { padStart..<(padStart + padCount) }
    /// The whole block, `<|vision_start|>` through `<|vision_end|>`.
    public var blockRange: Range<Int> { (padStart - 1)..<(padStart + padCount + 1) }
}

/// What truncation cut to make a prompt fit (see `PromptBuilder` for the policy).
public struct PromptTruncation: Sendable, Hashable {
    /// Tokens the full prompt would have had.
    public var originalTokenCount: Int
    /// Tokens of the prompt actually built.
    public var keptTokenCount: Int
    /// Characters (grapheme clusters) of the document text given.
    public var originalDocumentCharacters: Int
    /// Characters of the document text kept (a prefix).
    public var keptDocumentCharacters: Int

    /// A truncation report.
    public init(
        originalTokenCount: Int, keptTokenCount: Int, originalDocumentCharacters: Int, keptDocumentCharacters: Int
    ) {
        self.originalTokenCount = originalTokenCount
        self.keptTokenCount = keptTokenCount
        self.originalDocumentCharacters = originalDocumentCharacters
        self.keptDocumentCharacters = keptDocumentCharacters
    }
}

/// A tokenized Lychee prompt, ready for the model.
public struct EncodedPrompt: Sendable, Hashable {
    /// Token ids, image placeholders expanded; the last token is the `\n` of `<|im_start|>assistant\n`.
    public var tokenIDs: [Int32]
    /// The image blocks in order of appearance (query images, then document images): the order in which
    /// image embeddings are spliced in and in which grids go to the rope index.
    public var imageBlocks: [PromptImageBlock]
    /// Set when the document text was shortened to fit the maximum length.
    public var truncation: PromptTruncation?

    /// Number of tokens.
    public var count: Int { tokenIDs.count }
    /// Whether the document text was shortened.
    public var wasTruncated: Bool { truncation != nil }
    /// The grids of all images, in block order.
    public var imageGrids: [VisionGrid] { imageBlocks.map(\.grid) }
}
