/// Argument checks shared by every backend, so each op rejects the same inputs with the same message.
///
/// Each function throws ``TensorError`` when the arguments do not fit and otherwise returns the sizes
/// the op needs. Element types are not checked here: which types an op accepts is the backend's choice.
public enum OpChecks {
    /// Sizes of a `linear` call.
    public struct LinearSizes: Sendable, Equatable {
        /// Rows of x (all axes but the last, multiplied).
        public var rows: Int
        /// Input features (x's last axis, weight's second).
        public var inFeatures: Int
        /// Output features (weight's first axis).
        public var outFeatures: Int
        /// Shape of the result: x's shape with the last axis replaced by `outFeatures`.
        public var outputShape: [Int]
    }

    /// Checks x `[..., in]`, weight `[out, in]`, bias `[out]`.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> LinearSizes {
        guard x.rank >= 1, let inFeatures = x.shape.last else {
            throw TensorError.shapeMismatch(op: "linear", detail: "x must have at least one axis, got \(x.shape)")
        }
        guard weight.rank == 2, weight.shape[1] == inFeatures else {
            throw TensorError.shapeMismatch(
                op: "linear", detail: "x \(x.shape) needs a weight [out, \(inFeatures)], got \(weight.shape)")
        }
        let outFeatures = weight.shape[0]
        if weight.dtype == .f8e4m3, weight.rowScales?.count != outFeatures {
            throw TensorError.shapeMismatch(
                op: "linear",
                detail:
                    "an 8-bit weight \(weight.shape) needs \(outFeatures) row scales, has \(weight.rowScales?.count ?? 0)"
            )
        }
        if let bias, bias.shape != [outFeatures] {
            throw TensorError.shapeMismatch(
                op: "linear", detail: "weight \(weight.shape) needs a bias [\(outFeatures)], got \(bias.shape)")
        }
        return LinearSizes(
            rows: x.shape.dropLast().reduce(1, *),
            inFeatures: inFeatures, outFeatures: outFeatures,
            outputShape: Array(x.shape.dropLast()) + [outFeatures])
    }

    /// Checks an 8-bit weight's bytes and row scales against its shape `[rows, columns]`; returns the element count.
    public static func scaledWeight(values: Int, scales: Int, shape: [Int]) throws -> Int {
        let count = try Tensor.elementCount(of: shape)
        guard shape.count == 2, values == count, scales == shape[0] else {
            throw TensorError.shapeMismatch(
                op: "scaledWeight",
                detail:
                    "a [rows, columns] weight of \(values) bytes with one scale per row, got shape \(shape) and \(scales) scales"
            )
        }
        return count
    }

    /// Checks x `[..., d]` against a norm weight `[d]`; returns d.
    public static func rmsNorm(_ x: Tensor, weight: Tensor) throws -> Int {
        guard let width = x.shape.last, weight.shape == [width] else {
            throw TensorError.shapeMismatch(
                op: "rmsNorm", detail: "x \(x.shape) needs a weight [\(x.shape.last ?? 0)], got \(weight.shape)")
        }
        return width
    }

    /// Checks that two operands of an elementwise op have one shape.
    public static func sameShape(_ op: String, _ a: Tensor, _ b: Tensor, names: (String, String)) throws {
        guard a.shape == b.shape else {
            throw TensorError.shapeMismatch(
                op: op, detail: "\(names.0) is \(a.shape) but \(names.1) is \(b.shape); they must be equal")
        }
    }

    /// Sizes of an `applyRope` call.
    public struct RopeSizes: Sendable, Equatable {
        public var tokens: Int
        public var heads: Int
        public var headDim: Int
    }

    /// Checks x `[tokens, heads, d]` (d even) against cos and sin `[tokens, d]`.
    public static func rope(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> RopeSizes {
        guard x.rank == 3, x.shape[2] % 2 == 0 else {
            throw TensorError.shapeMismatch(
                op: "applyRope", detail: "x must be [tokens, heads, headDim] with an even headDim, got \(x.shape)")
        }
        let expected = [x.shape[0], x.shape[2]]
        guard cos.shape == expected, sin.shape == expected else {
            throw TensorError.shapeMismatch(
                op: "applyRope",
                detail: "x \(x.shape) needs cos and sin \(expected), got cos \(cos.shape) and sin \(sin.shape)")
        }
        return RopeSizes(tokens: x.shape[0], heads: x.shape[1], headDim: x.shape[2])
    }

    /// Checks that every index lies in `0..<limit`.
    public static func indices(_ op: String, _ indices: [Int32], limit: Int) throws {
        for index in indices where index < 0 || Int(index) >= limit {
            throw TensorError.indexOutOfRange(op: op, index: Int(index), limit: limit)
        }
    }

    /// Checks a gather of rows from x (rank >= 1); returns the result's shape.
    public static func gatherRows(_ x: Tensor, indices: [Int32]) throws -> [Int] {
        guard x.rank >= 1 else {
            throw TensorError.shapeMismatch(op: "gatherRows", detail: "x must have at least one axis, got a scalar")
        }
        try Self.indices("gatherRows", indices, limit: x.shape[0])
        return [indices.count] + x.shape.dropFirst()
    }

    /// Checks a row concatenation and returns the output shape.
    public static func concatenateRows(_ parts: [Tensor]) throws -> [Int] {
        guard let first = parts.first, first.rank >= 1 else {
            throw TensorError.shapeMismatch(op: "concatenateRows", detail: "needs at least one part with an axis")
        }
        for (index, part) in parts.enumerated()
        where part.rank != first.rank || part.shape.dropFirst() != first.shape.dropFirst() || part.dtype != first.dtype
        {
            throw TensorError.shapeMismatch(
                op: "concatenateRows",
                detail: "part \(index) is \(part.shape) \(part.dtype) but part 0 is \(first.shape) \(first.dtype); "
                    + "parts must agree on every axis but the first and on the element type")
        }
        return [parts.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst()
    }

    /// Checks a product with its residual connection: the residual has the product's output shape.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) throws
        -> LinearSizes
    {
        let sizes = try linear(x, weight: weight, bias: bias)
        guard residual.shape == sizes.outputShape else {
            throw TensorError.shapeMismatch(
                op: "linear",
                detail: "the residual \(residual.shape) must have the product's shape \(sizes.outputShape)")
        }
        return sizes
    }

    /// Checks row ranges that split `rows` rows into consecutive, non-empty chunks from row 0 to the last.
    public static func rowRanges(_ op: String, _ ranges: [Range<Int>], rows: Int) throws {
        let consecutive = zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }
        guard let first = ranges.first, let last = ranges.last, first.lowerBound == 0, last.upperBound == rows,
            consecutive, ranges.allSatisfy({ !$0.isEmpty })
        else {
            throw TensorError.shapeMismatch(
                op: op,
                detail:
                    "row chunks \(ranges) do not split \(rows) rows; give consecutive non-empty ranges from 0 to \(rows)"
            )
        }
    }

    /// Checks a scatter of `rows` `[m, ...]` into `destination` `[n, ...]` at m distinct indices.
    public static func scatterRows(_ rows: Tensor, into destination: Tensor, at indices: [Int32]) throws {
        guard rows.rank >= 1, destination.rank == rows.rank, rows.shape.dropFirst() == destination.shape.dropFirst()
        else {
            throw TensorError.shapeMismatch(
                op: "scatterRows",
                detail: "rows \(rows.shape) and destination \(destination.shape) must agree on every axis but the first"
            )
        }
        guard indices.count == rows.shape[0] else {
            throw TensorError.shapeMismatch(
                op: "scatterRows", detail: "\(rows.shape[0]) rows but \(indices.count) indices; give one index per row")
        }
        try Self.indices("scatterRows", indices, limit: destination.shape[0])
        var seen = [Bool](repeating: false, count: destination.shape[0])
        for index in indices {
            if seen[Int(index)] { throw TensorError.duplicateIndex(op: "scatterRows", index: Int(index)) }
            seen[Int(index)] = true
        }
    }

    /// Checks an embedding lookup in a table `[vocab, d]`; returns d.
    public static func embedding(_ table: Tensor, ids: [Int32]) throws -> Int {
        guard table.rank == 2 else {
            throw TensorError.shapeMismatch(op: "embedding", detail: "table must be [vocab, dim], got \(table.shape)")
        }
        try indices("embedding", ids, limit: table.shape[0])
        return table.shape[1]
    }

    /// Sizes of an `attention` call.
    public struct AttentionSizes: Sendable, Equatable {
        public var tokens: Int
        public var heads: Int
        public var kvHeads: Int
        public var headDim: Int
        /// Query heads per kv head.
        public var groupSize: Int { heads / kvHeads }
    }

    /// Checks query `[tokens, heads, d]`, key and value `[tokens, kvHeads, d]` and the cumulative lengths.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32]) throws
        -> AttentionSizes
    {
        guard query.rank == 3, key.rank == 3, value.rank == 3 else {
            throw TensorError.shapeMismatch(
                op: "attention",
                detail:
                    "query, key and value must be [tokens, heads, headDim], got \(query.shape), \(key.shape), \(value.shape)"
            )
        }
        guard key.shape == value.shape else {
            throw TensorError.shapeMismatch(
                op: "attention", detail: "key \(key.shape) and value \(value.shape) must have one shape")
        }
        guard key.shape[0] == query.shape[0], key.shape[2] == query.shape[2] else {
            throw TensorError.shapeMismatch(
                op: "attention", detail: "key \(key.shape) must match query \(query.shape) in tokens and headDim")
        }
        let heads = query.shape[1]
        let kvHeads = key.shape[1]
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw TensorError.shapeMismatch(
                op: "attention", detail: "\(heads) query heads cannot be grouped over \(kvHeads) kv heads")
        }
        try sequenceLengths(cuSeqlens, tokens: query.shape[0])
        return AttentionSizes(tokens: query.shape[0], heads: heads, kvHeads: kvHeads, headDim: query.shape[2])
    }

    /// Checks attention prefixes: none, or one row range per sequence that ends at or before the
    /// sequence's start.
    public static func attentionPrefixes(_ prefixes: [Range<Int32>], cuSeqlens: [Int32]) throws {
        guard !prefixes.isEmpty else { return }
        guard prefixes.count == cuSeqlens.count - 1 else {
            throw TensorError.invalidSequenceLengths(
                detail:
                    "\(prefixes.count) prefixes for \(cuSeqlens.count - 1) sequences; pass one range per sequence or none"
            )
        }
        for (index, prefix) in prefixes.enumerated() where !prefix.isEmpty {
            guard prefix.lowerBound >= 0, prefix.upperBound <= cuSeqlens[index] else {
                throw TensorError.invalidSequenceLengths(
                    detail:
                        "sequence \(index) starts at row \(cuSeqlens[index]) but its prefix is rows \(prefix); a prefix must come before its sequence"
                )
            }
        }
    }

    /// Checks a fused `[tokens, 2 * intermediate]` gate/up product; returns the intermediate width.
    public static func gateUp(_ gateUp: Tensor) throws -> Int {
        guard gateUp.rank >= 1, let width = gateUp.shape.last, width % 2 == 0 else {
            throw TensorError.shapeMismatch(
                op: "siluMul", detail: "gateUp must be [..., 2 * intermediate] (an even last axis), got \(gateUp.shape)"
            )
        }
        return width / 2
    }

    /// Checks a fused q/k/v product against the head counts and rotary tables; returns the sizes with
    /// `heads` the query heads.
    public static func splitRope(_ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor) throws
        -> RopeSizes
    {
        let d = cos.shape.last ?? 0
        let columns = (heads + 2 * kvHeads) * d
        guard heads > 0, kvHeads > 0, d > 0, d % 2 == 0, qkv.rank == 2, qkv.shape[1] == columns,
            cos.shape == [qkv.shape[0], d], sin.shape == cos.shape
        else {
            throw TensorError.shapeMismatch(
                op: "splitRope",
                detail:
                    "qkv \(qkv.shape) must be [tokens, (\(heads) + 2 x \(kvHeads)) x d] with cos and sin [tokens, d] (d even), got cos \(cos.shape), sin \(sin.shape)"
            )
        }
        return RopeSizes(tokens: qkv.shape[0], heads: heads, headDim: d)
    }

    /// Checks cumulative sequence lengths: start at 0, never decrease, end at `tokens`.
    public static func sequenceLengths(_ cuSeqlens: [Int32], tokens: Int) throws {
        guard let first = cuSeqlens.first, let last = cuSeqlens.last else {
            throw TensorError.invalidSequenceLengths(detail: "the list is empty; pass at least [0, tokens]")
        }
        guard first == 0 else { throw TensorError.invalidSequenceLengths(detail: "the first entry is \(first), not 0") }
        for (a, b) in zip(cuSeqlens, cuSeqlens.dropFirst()) where b < a {
            throw TensorError.invalidSequenceLengths(detail: "\(b) follows \(a)")
        }
        guard Int(last) == tokens else {
            throw TensorError.invalidSequenceLengths(detail: "the last entry is \(last) but there are \(tokens) tokens")
        }
    }
}
