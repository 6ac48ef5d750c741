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
    /// Per sequence: the rows of the shared prefix it continues (empty for none).
    private var sequencePrefixes: [Range<Int32>] = []
    /// Per sequence: whether it is scored (false for a shared prefix).
    private var scored: [Bool] = []

    public init() {
        tokenIDs = []
        temporal = []
        height = []
        width = []
        cuSeqlens = [0]
        images = []
    }

    /// Appends one sequence with its positions; returns the row its first token lands on.
    ///
    /// - Parameter prefix: rows of a prefix appended earlier with ``appendPrefix(tokenIDs:positions:)``
    ///   that this sequence continues: its tokens then attend to those rows first, exactly as if the
    ///   prefix's tokens stood at its start. `positions` are then the positions of the sequence's own
    ///   tokens, which follow the prefix's.
    @discardableResult
    public mutating func append(tokenIDs ids: [Int32], positions: MRopePositions, prefix: Range<Int32> = 0..<0)
        -> Int32
    {
        add(ids, positions, prefix: prefix, scored: true)
    }

    /// Appends a prompt prefix that several later sequences share (computed once, never scored); returns
    /// its rows, to pass to ``append(tokenIDs:positions:prefix:)``.
    public mutating func appendPrefix(tokenIDs ids: [Int32], positions: MRopePositions) -> Range<Int32> {
        let start = add(ids, positions, prefix: 0..<0, scored: false)
        return start..<Int32(tokenIDs.count)
    }

    private mutating func add(_ ids: [Int32], _ positions: MRopePositions, prefix: Range<Int32>, scored isScored: Bool)
        -> Int32
    {
        let start = Int32(tokenIDs.count)
        tokenIDs += ids
        temporal += positions.temporal
        height += positions.height
        width += positions.width
        cuSeqlens.append(Int32(tokenIDs.count))
        sequencePrefixes.append(prefix)
        scored.append(isScored)
        return start
    }

    /// Number of sequences (shared prefixes included).
    public var sequenceCount: Int { cuSeqlens.count - 1 }
    /// Row of the last token of each sequence, shared prefixes included.
    public var lastTokenRows: [Int32] { cuSeqlens.dropFirst().map { $0 - 1 } }
    /// Row of the last token of each scored sequence (the one its score is read at), in order.
    public var scoredRows: [Int32] {
        zip(lastTokenRows, scored.count == sequenceCount ? scored : Array(repeating: true, count: sequenceCount))
            .filter { $0.1 }.map { $0.0 }
    }
    /// The prefix rows of each sequence for ``Backend/attention(query:key:value:cuSeqlens:prefixes:causal:scale:)``,
    /// or empty when no sequence continues a prefix.
    public var prefixes: [Range<Int32>] {
        sequencePrefixes.count == sequenceCount && sequencePrefixes.contains { !$0.isEmpty } ? sequencePrefixes : []
    }
}

/// What one forward pass returns.
public struct ForwardOutput: Sendable {
    /// `z = logit(yes) - logit(no)` per sequence.
    public var logits: [Float]
    /// The final-normed hidden state of each sequence's last token, `sequences x hidden`, row-major.
    public var lastHidden: [Float]
}

extension MRopePositions {
    /// The positions of tokens `range` (for a sequence split into a shared prefix and its own part);
    /// ``nextPosition`` stays that of the whole sequence.
    public func tokens(_ range: Range<Int>) -> MRopePositions {
        var part = self
        part.temporal = Array(temporal[range])
        part.height = Array(height[range])
        part.width = Array(width[range])
        return part
    }
}
