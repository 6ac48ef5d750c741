import COpenBLAS
import Foundation
import TensorKit

extension CPUBackend {
    /// Attention over packed sequences, one work item per (sequence, query head, block of query rows).
    ///
    /// An item computes scores `S = scale * Q K^T` for its query rows against the keys it may see
    /// (all of its sequence, or up to its last row when causal) with one sgemm, takes a max-subtracted
    /// softmax of each row in fp32 (masked entries set to 0), and writes `P V` with a second sgemm.
    /// Q, K, V and the output are read in place: a head's rows are a strided matrix (stride heads*d).
    public func attention(
        query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32], prefixes: [Range<Int32>], causal: Bool,
        scale: Float
    ) throws -> Tensor {
        let sizes = try OpChecks.attention(query: query, key: key, value: value, cuSeqlens: cuSeqlens)
        try OpChecks.attentionPrefixes(prefixes, cuSeqlens: cuSeqlens)
        let q = try floats(query, op: "attention", argument: "query")
        let k = try floats(key, op: "attention", argument: "key")
        let v = try floats(value, op: "attention", argument: "value")
        let (output, result) = try makeFloatTensor(shape: query.shape)
        let d = sizes.headDim
        guard sizes.tokens > 0, sizes.heads > 0 else { return output }
        if d == 0 { return output }

        let items = attentionItems(cuSeqlens: cuSeqlens, prefixes: prefixes, heads: sizes.heads, causal: causal)
        let longest = items.map { $0.prefix.count + $0.length }.max() ?? 0
        let block = attentionRowBlock
        let queryStride = sizes.heads * d
        let keyStride = sizes.kvHeads * d
        let group = sizes.groupSize

        parallel.forEachItem(count: items.count, scratchFloats: block * longest) { index, scores in
            let item = items[index]
            let rows = item.firstRow..<min(item.firstRow + block, item.length)
            let own = causal ? rows.upperBound : item.length
            let shared = item.prefix.count
            let visible = shared + own
            let kvHead = item.head / group
            let queryRows = q + (item.start + rows.lowerBound) * queryStride + item.head * d
            let output = result + (item.start + rows.lowerBound) * queryStride + item.head * d
            // Keys: the prefix rows (columns 0..<shared of the scores), then the sequence's own rows.
            let parts = [(item.prefix.lowerBound, shared, 0), (item.start, own, shared)].filter { $0.1 > 0 }
            for (first, count, column) in parts {
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans,
                    Int32(rows.count), Int32(count), Int32(d),
                    scale, queryRows, Int32(queryStride),
                    k + first * keyStride + kvHead * d, Int32(keyStride),
                    0, scores + column, Int32(visible))
            }
            for row in 0..<rows.count {
                let allowed = shared + (causal ? rows.lowerBound + row + 1 : own)
                softmaxInPlace(scores + row * visible, count: allowed, rowLength: visible)
            }
            for (partIndex, (first, count, column)) in parts.enumerated() {
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans,
                    Int32(rows.count), Int32(d), Int32(count),
                    1, scores + column, Int32(visible),
                    v + first * keyStride + kvHead * d, Int32(keyStride),
                    partIndex == 0 ? 0 : 1, output, Int32(queryStride))
            }
        }
        return output
    }

    /// One attention work item: a block of query rows of one head of one sequence.
    struct AttentionItem {
        /// First token of the sequence on the packed axis.
        var start: Int
        /// Tokens in the sequence.
        var length: Int
        var head: Int
        /// First query row of the block, relative to the sequence.
        var firstRow: Int
        /// Rows of a shared prefix the sequence also attends to (empty for none).
        var prefix: Range<Int> = 0..<0
    }

    /// Work items for every non-empty sequence, head and block of rows, most keys first (so the
    /// biggest items start early and the workers finish together).
    func attentionItems(cuSeqlens: [Int32], prefixes: [Range<Int32>] = [], heads: Int, causal: Bool)
        -> [AttentionItem]
    {
        var items: [AttentionItem] = []
        for (index, (start, end)) in zip(cuSeqlens, cuSeqlens.dropFirst()).enumerated() where end > start {
            let length = Int(end - start)
            let prefix = prefixes.isEmpty ? 0..<0 : Int(prefixes[index].lowerBound)..<Int(prefixes[index].upperBound)
            for firstRow in stride(from: 0, to: length, by: attentionRowBlock) {
                for head in 0..<heads {
                    items.append(
                        AttentionItem(start: Int(start), length: length, head: head, firstRow: firstRow, prefix: prefix)
                    )
                }
            }
        }
        let block = attentionRowBlock
        func keys(_ item: AttentionItem) -> Int {
            item.prefix.count + (causal ? min(item.firstRow + block, item.length) : item.length)
        }
        items.sort { keys($0) > keys($1) }
        return items
    }
}

/// Replaces `row[0..<count]` by its softmax (max subtracted, fp32) and zeroes `row[count..<rowLength]`.
@inline(__always)
func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, count: Int, rowLength: Int) {
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, row[i]) }
    var total: Float = 0
    for i in 0..<count {
        let e = Foundation.exp(row[i] - maximum)
        row[i] = e
        total += e
    }
    let inverse = 1 / total
    for i in 0..<count { row[i] *= inverse }
    for i in count..<rowLength { row[i] = 0 }
}
