import TensorKit

/// How a pass with cached prefixes (``PackedBatch/appendCachedPrefix(_:)``) lays out attention: the axis is
/// a run of segments, computed rows and cached prefixes in order; each layer assembles its query, key and
/// value rows on the whole axis (cached prefixes bring their stored keys and values, and placeholder
/// queries whose outputs are dropped), attends, and keeps the computed rows.
struct CachedPrefixAttention {
    enum Segment {
        /// Computed rows `range` (among the computed rows).
        case computed(Range<Int>)
        /// Cached prefix `index`.
        case cached(Int)
    }

    let segments: [Segment]
    /// Per cached prefix, per layer: keys and values `[rows, kvHeads, headDim]` on the device.
    let keys: [[Tensor]]
    let values: [[Tensor]]
    /// Rows of each cached prefix.
    let cachedRows: [Int]
    /// Queries for the cached rows (their attention outputs are dropped): zeros, as many rows as the
    /// largest cached prefix.
    let placeholder: Tensor?
    /// Computed rows of the prefixes to capture.
    let captures: [Range<Int>]

    /// Nil when the batch has no cached prefix and captures nothing. A cached prefix's keys and values come from
    /// `copies` when it holds them; otherwise they are uploaded, and the upload is left there.
    init?(batch: PackedBatch, dims: ModelDimensions.Text, backend: any Backend, copies: DevicePrefixCopies?) throws {
        guard !batch.cachedPrefixes.isEmpty || !batch.captures.isEmpty else { return nil }
        var segments = [Segment]()
        var runs = batch.computedRuns.makeIterator()
        var nextRun = runs.next()
        for (index, block) in batch.cachedPrefixes.enumerated() {
            while let run = nextRun, run.axis.lowerBound < block.start {
                segments.append(.computed(Int(run.computed)..<Int(run.computed) + run.axis.count))
                nextRun = runs.next()
            }
            segments.append(.cached(index))
        }
        while let run = nextRun {
            segments.append(.computed(Int(run.computed)..<Int(run.computed) + run.axis.count))
            nextRun = runs.next()
        }
        self.segments = segments
        let kvWidth = dims.kvHeadCount * dims.headDim
        var keys = [[Tensor]](), values = [[Tensor]]()
        for block in batch.cachedPrefixes {
            let kv = block.kv
            guard kv.layers == dims.layerCount, kv.values.count == 2 * kv.layers * kv.rows * kvWidth else {
                throw TensorError.shapeMismatch(
                    op: "cached prefix", detail: "\(kv.values.count) values for \(kv.layers) layers of \(kv.rows) rows")
            }
            let all: Tensor
            if let kept = copies?.tensor(for: kv) {
                all = kept
            } else {
                all = try backend.upload(
                    rows: [kv.values], shape: [2 * kv.layers * kv.rows, dims.kvHeadCount, dims.headDim])
                copies?.keep(all, for: kv)
            }
            keys.append(try (0..<kv.layers).map { try all.rows((2 * $0) * kv.rows..<(2 * $0 + 1) * kv.rows) })
            values.append(try (0..<kv.layers).map { try all.rows((2 * $0 + 1) * kv.rows..<(2 * $0 + 2) * kv.rows) })
        }
        self.keys = keys
        self.values = values
        cachedRows = batch.cachedPrefixes.map(\.kv.rows)
        let widest = batch.cachedPrefixes.map(\.kv.rows).max() ?? 0
        placeholder =
            widest == 0
            ? nil
            : try backend.upload(
                [Float](repeating: 0, count: widest * dims.headCount * dims.headDim),
                shape: [widest, dims.headCount, dims.headDim])
        captures = batch.captures.map {
            Int(batch.computedRow($0.lowerBound))..<Int(batch.computedRow($0.lowerBound)) + $0.count
        }
    }

    /// Whether any segment is cached (else attention runs on the computed rows as they are).
    var hasCachedRows: Bool { !keys.isEmpty }

    /// Query, key and value on the whole axis for `layer`.
    func assemble(query: Tensor, key: Tensor, value: Tensor, layer: Int, backend: any Backend) throws
        -> (query: Tensor, key: Tensor, value: Tensor)
    {
        var q = [Tensor](), k = [Tensor](), v = [Tensor]()
        for segment in segments {
            switch segment {
            case .computed(let rows):
                q.append(try query.rows(rows))
                k.append(try key.rows(rows))
                v.append(try value.rows(rows))
            case .cached(let index):
                guard let placeholder else { continue }
                q.append(try placeholder.rows(0..<cachedRows[index]))
                k.append(keys[index][layer])
                v.append(values[index][layer])
            }
        }
        return (try backend.concatenateRows(q), try backend.concatenateRows(k), try backend.concatenateRows(v))
    }

    /// The computed rows of an attention output on the whole axis.
    func computedRows(of attended: Tensor, backend: any Backend) throws -> Tensor {
        var parts = [Tensor](), row = 0
        for segment in segments {
            switch segment {
            case .computed(let rows):
                parts.append(try attended.rows(row..<row + rows.count))
                row += rows.count
            case .cached(let index):
                row += cachedRows[index]
            }
        }
        return try backend.concatenateRows(parts)
    }

    /// Own copies of the captured prefixes' rows of one layer's keys and values (so that the layer's whole
    /// key and value tensors are not kept alive).
    func capture(key: Tensor, value: Tensor, backend: any Backend) throws -> [(key: Tensor, value: Tensor)] {
        try captures.map {
            (try backend.concatenateRows([key.rows($0)]), try backend.concatenateRows([value.rows($0)]))
        }
    }
}
