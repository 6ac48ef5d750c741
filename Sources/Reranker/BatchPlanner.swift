/// The token cost of a forward pass as it is being filled: each group of pairs that share a prompt prefix
/// (equal ``ScoringPair/prefixKey``) pays for its prefix once, then each pair for its own tokens.
///
/// This is the one accounting that the CLI, `bench` and the server use to fill passes up to a token budget.
public struct BatchCost: Sendable {
    /// Decoder tokens of the pass so far.
    public private(set) var tokens = 0
    private var prefixes = Set<PrefixKey>()

    public init() {}

    /// What `pair` would add to the pass.
    public func cost(of pair: ScoringPair) -> Int {
        prefixes.contains(pair.prefixKey) ? pair.tokenCount - pair.sharedPrefixLength : pair.tokenCount
    }

    /// Whether `pair` fits in `budget` (an empty pass takes any pair: a prompt over the budget runs alone).
    public func fits(_ pair: ScoringPair, budget: Int) -> Bool {
        tokens == 0 || tokens + cost(of: pair) <= budget
    }

    /// Adds `pair` to the pass.
    public mutating func add(_ pair: ScoringPair) {
        tokens += cost(of: pair)
        prefixes.insert(pair.prefixKey)
    }
}

/// Groups one request's pairs into forward passes of at most `tokenBudget` decoder tokens each, counting
/// the shared prompt prefix once per pass; largest prompts first (first-fit decreasing), which packs
/// documents of uneven length into fewer, fuller passes. Returns positions in `pairs`, each pass in
/// the pairs' order.
///
/// Packing sequences end to end (no padding) keeps the matrix products large without wasting work on
/// pad tokens.
public func planBatches(_ pairs: [ScoringPair], tokenBudget: Int) -> [[Int]] {
    let bySize = pairs.indices.sorted {
        pairs[$0].tokenCount != pairs[$1].tokenCount
            ? pairs[$0].tokenCount > pairs[$1].tokenCount : $0 < $1
    }
    var passes = [(cost: BatchCost, members: [Int])]()
    for position in bySize {
        let pair = pairs[position]
        if let open = passes.firstIndex(where: { $0.cost.fits(pair, budget: tokenBudget) }) {
            passes[open].cost.add(pair)
            passes[open].members.append(position)
        } else {
            var cost = BatchCost()
            cost.add(pair)
            passes.append((cost, [position]))
        }
    }
    return passes.map { $0.members.sorted() }
}
