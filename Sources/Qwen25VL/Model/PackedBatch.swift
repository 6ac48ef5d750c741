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
///
/// Rows are counted on one axis that also holds *cached* prefixes (``appendCachedPrefix(_:)``): rows whose
/// keys and values come from an earlier pass, which take part in attention only. Token ids and positions are
/// kept for computed rows alone; every row number (`cuSeqlens`, prefixes, image rows, ``scoredRows``) is on
/// the whole axis, and ``computedRow(_:)`` maps it to the computed rows.
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
    /// Cached prefixes: where their rows start on the axis, and their keys and values.
    public private(set) var cachedPrefixes: [(start: Int32, kv: PrefixKV)] = []
    /// Prefix sequences whose keys and values the pass should hand back (rows on the axis).
    public private(set) var captures: [Range<Int32>] = []
    /// Rows on the axis, cached ones included.
    public private(set) var rowCount: Int32 = 0

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
    ///
    /// - Parameters:
    ///   - continuing: rows of a cached prefix (``appendCachedPrefix(_:)``) appended just before, which this
    ///     prefix continues.
    ///   - capture: hand back this prefix's keys and values in ``ForwardOutput/capturedPrefixes``.
    public mutating func appendPrefix(
        tokenIDs ids: [Int32], positions: MRopePositions, continuing: Range<Int32> = 0..<0, capture: Bool = false
    ) -> Range<Int32> {
        let start = add(ids, positions, prefix: continuing, scored: false)
        let rows = start..<rowCount
        if capture { captures.append(rows) }
        return rows
    }

    /// Appends a prompt prefix whose keys and values an earlier pass computed: its rows take part in
    /// attention only (nothing is computed for them). Returns its rows, for later sequences to continue.
    public mutating func appendCachedPrefix(_ kv: PrefixKV) -> Range<Int32> {
        let start = rowCount
        rowCount += Int32(kv.rows)
        cachedPrefixes.append((start, kv))
        cuSeqlens.append(rowCount)
        sequencePrefixes.append(0..<0)
        scored.append(false)
        return start..<rowCount
    }

    private mutating func add(_ ids: [Int32], _ positions: MRopePositions, prefix: Range<Int32>, scored isScored: Bool)
        -> Int32
    {
        let start = rowCount
        tokenIDs += ids
        temporal += positions.temporal
        height += positions.height
        width += positions.width
        rowCount += Int32(ids.count)
        cuSeqlens.append(rowCount)
        sequencePrefixes.append(prefix)
        scored.append(isScored)
        return start
    }

    /// Rows of cached prefixes before `row` on the axis.
    private func cachedRows(before row: Int32) -> Int32 {
        cachedPrefixes.reduce(0) { $1.start < row ? $0 + Int32($1.kv.rows) : $0 }
    }

    /// Where a computed row of the axis lies among the computed rows.
    public func computedRow(_ row: Int32) -> Int32 { row - cachedRows(before: row) }

    /// The runs of computed rows, in order: where each starts on the axis and among the computed rows.
    public var computedRuns: [(axis: Range<Int32>, computed: Int32)] {
        var runs = [(axis: Range<Int32>, computed: Int32)]()
        var row: Int32 = 0, computed: Int32 = 0
        for block in cachedPrefixes {
            if block.start > row { runs.append((row..<block.start, computed)) }
            computed += block.start - row
            row = block.start + Int32(block.kv.rows)
        }
        if rowCount > row { runs.append((row..<rowCount, computed)) }
        return runs
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
    /// The keys and values of each prefix appended with `capture`, in order.
    public var capturedPrefixes: [PrefixKV] = []
}

/// The keys and values of a prompt prefix at every decoder layer (rotary positions applied), kept on the
/// host between passes: a later pass attends to them instead of computing the prefix again. Exact: they
/// are the rows the prefix's own pass computed.
public final class PrefixKV: Sendable {
    /// Tokens of the prefix.
    public let rows: Int
    /// Decoder layers.
    public let layers: Int
    /// `2 * layers` blocks of `rows x kvWidth`, row-major: layer 0 keys, layer 0 values, layer 1 keys, ...
    /// (in the backend's activation type).
    public let values: HostRows

    public init(rows: Int, layers: Int, values: HostRows) {
        self.rows = rows
        self.layers = layers
        self.values = values
    }

    /// Host bytes held.
    public var byteCount: Int { values.byteCount }
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
