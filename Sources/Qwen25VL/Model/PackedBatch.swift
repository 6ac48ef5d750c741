import TensorKit

/// Image embeddings to splice into a batch: `embeddings` row i replaces the `<|image_pad|>` embedding at
/// token row `rows[i]` of the packed batch.
public struct ImageInsert: Sendable {
    /// `[rows.count, hidden]` on the model's backend (often a row view of a larger image batch).
    public var embeddings: Tensor
    /// Destination token rows.
    public var rows: [Int32]

    public init(embeddings: Tensor, rows: [Int32]) {
        self.embeddings = embeddings
        self.rows = rows
    }
}

/// Several sequences laid end to end on one token axis, with everything the decoder needs.
///
/// Built by the reranker from prompts; the model only reads it. No padding: `cuSeqlens` marks where
/// each sequence starts and ends.
public struct PackedBatch: Sendable {
    /// Token ids of all sequences, concatenated.
    public var tokenIDs: [Int32]
    /// M-RoPE positions of every token: temporal, height and width rows, each `tokenIDs.count` long.
    public var temporal: [Int32]
    public var height: [Int32]
    public var width: [Int32]
    /// Cumulative sequence lengths `[0, l0, l0 + l1, ..., tokenIDs.count]`.
    public var cuSeqlens: [Int32]
    /// Image embeddings and where they go.
    public var images: [ImageInsert]

    public init() {
        tokenIDs = []
        temporal = []
        height = []
        width = []
        cuSeqlens = [0]
        images = []
    }

    /// Appends one sequence with its positions; returns the row its first token lands on.
    @discardableResult
    public mutating func append(tokenIDs ids: [Int32], positions: MRopePositions) -> Int32 {
        let start = Int32(tokenIDs.count)
        tokenIDs += ids
        temporal += positions.temporal
        height += positions.height
        width += positions.width
        cuSeqlens.append(Int32(tokenIDs.count))
        return start
    }

    /// Number of sequences.
    public var sequenceCount: Int { cuSeqlens.count - 1 }
    /// Row of the last token of each sequence (the one the score is read at).
    public var lastTokenRows: [Int32] { cuSeqlens.dropFirst().map { $0 - 1 } }
}

/// What one forward pass returns.
public struct ForwardOutput: Sendable {
    /// `z = logit(yes) - logit(no)` per sequence.
    public var logits: [Float]
    /// The final-normed hidden state of each sequence's last token, `sequences x hidden`, row-major.
    public var lastHidden: [Float]
}
