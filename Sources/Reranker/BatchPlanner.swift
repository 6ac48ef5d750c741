/// Groups prompts into forward passes of at most `tokenBudget` decoder tokens each, keeping request order
/// (first fit in order: a prompt longer than the budget runs alone).
///
/// Packing sequences end to end (no padding) keeps the matrix products large without wasting work on
/// pad tokens.
public func planBatches(lengths: [Int], tokenBudget: Int) -> [Range<Int>] {
    var batches = [Range<Int>]()
    var start = 0, used = 0
    for (index, length) in lengths.enumerated() {
        if index > start, used + length > tokenBudget {
            batches.append(start..<index)
            start = index
            used = 0
        }
        used += length
    }
    if start < lengths.count { batches.append(start..<lengths.count) }
    return batches
}
