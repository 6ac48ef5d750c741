import Qwen25VL

/// Shared prompt prefixes: every pair of a request starts with the same system prompt, instruction and
/// query (its image included), so a forward pass computes that prefix once and lets each document attend
/// to it (``PackedBatch/appendPrefix(tokenIDs:positions:)``) instead of recomputing it for every pair.
enum SharedPrefix {
    /// Shorter common prefixes are not worth an extra sequence.
    static let minimumLength = 8

    /// The length of the longest prefix that all `pairs` share exactly: the same token ids, the same
    /// positions, and image pad rows only where every pair shows the very same query image (embedded
    /// once per pass); each pair keeps at least its last token. 0 when there is none worth
    /// sharing or fewer than two pairs.
    static func length(of pairs: [ScoringPair]) -> Int {
        guard pairs.count >= 2, let first = pairs.first else { return 0 }
        var length = pairs.map { $0.prompt.count - 1 }.min() ?? 0
        let ids = first.prompt.tokenIDs
        for pair in pairs.dropFirst() {
            let other = pair.prompt.tokenIDs
            var common = 0
            while common < length, ids[common] == other[common] { common += 1 }
            length = common
        }
        let sameQueryImage = pairs.allSatisfy { $0.queryImage?.key == first.queryImage?.key }
        for pair in pairs {
            for block in pair.prompt.imageBlocks where block.padStart < length {
                if block.side == .document || !sameQueryImage { length = block.padStart }
            }
        }
        let positions = first.positions
        for pair in pairs.dropFirst() {
            let other = pair.positions
            var common = 0
            while common < length, positions.temporal[common] == other.temporal[common],
                positions.height[common] == other.height[common], positions.width[common] == other.width[common]
            {
                common += 1
            }
            length = common
        }
        return length >= minimumLength ? length : 0
    }
}
