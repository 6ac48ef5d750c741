import ImageProcessing
import Qwen25VL
import TensorKit

/// The pure step between prepared pairs and a forward pass: lays pairs out on one token axis, computes
/// each prompt prefix once per group of pairs that share it, and lists every distinct image once with the
/// rows it fills. No model work, no device: it only reads the pairs.
enum BatchPacking {
    /// A packed forward pass.
    struct Packed {
        var input: ModelInput
        /// `order[k]` is the position in the given pairs of the k-th scored sequence of the batch.
        var order: [Int]
        /// The image of each ``ModelInput/images`` entry.
        var images: [PreparedImage]
        /// The cache key of each prefix the pass captures, in order.
        var captures: [PrefixCacheKey] = []
    }

    /// What packing may take from, and give to, the prefix cache.
    struct PrefixReuse: Sendable {
        /// A stored prefix for a key, if any.
        var lookup: @Sendable (PrefixCacheKey) -> PrefixKV? = { _ in nil }
        /// Whether to capture a computed prefix.
        var shouldCapture: @Sendable (PrefixCacheKey) -> Bool = { _ in false }

        static let none = PrefixReuse()
    }

    /// Packs `pairs` (from one request or many) for one forward pass.
    ///
    /// Pairs with equal ``ScoringPair/prefixKey`` form a group, kept in order of first appearance; each
    /// group's exact shared prefix (``SharedPrefix``) is appended once, and its pairs continue it.
    ///
    /// - Parameter embedded: embeddings of an image that arrived as pixels, found since preparation (asked once
    ///   an image); such images are uploaded instead of embedded again. An image whose rows any of the pairs
    ///   holds on the device (embedded ahead) takes those, whichever pair shows it first, and is not asked for.
    /// - Parameter reuse: the prefix cache: a group's prefix up to its *cache point* (the end of the query
    ///   image when the query has one, else the whole shared prefix) is taken from it when stored, or
    ///   computed as a prefix of its own (and captured when the cache asks for it).
    static func pack(
        _ pairs: [ScoringPair], embedded: (ImageKey) -> HostRows? = { _ in nil }, reuse: PrefixReuse = .none
    ) throws -> Packed {
        var groups = [[Int]]()
        var groupOfKey = [PrefixKey: Int]()
        for (position, pair) in pairs.enumerated() {
            if let group = groupOfKey[pair.prefixKey] {
                groups[group].append(position)
            } else {
                groupOfKey[pair.prefixKey] = groups.count
                groups.append([position])
            }
        }

        var batch = PackedBatch()
        var images = [ModelInput.Image]()
        var prepared = [PreparedImage]()
        var imageIndex = [ImageKey: Int]()
        var splices = [ModelInput.Splice]()
        var order = [Int]()
        order.reserveCapacity(pairs.count)

        var deviceRows = [ImageKey: Tensor]()
        for image in pairs.flatMap({ [$0.queryImage, $0.documentImage] }).compactMap({ $0 }) {
            if let rows = image.deviceEmbeddings { deviceRows[image.key] = rows }
        }

        func index(of image: PreparedImage) -> Int {
            if let index = imageIndex[image.key] { return index }
            let index = images.count
            imageIndex[image.key] = index
            prepared.append(image)
            if let onDevice = image.deviceEmbeddings ?? deviceRows[image.key] {
                images.append(.device(onDevice))
                return index
            }
            switch image.content {
            case .embeddings(let values):
                images.append(.embeddings(values, rows: image.grid.mergedTokenCount()))
            case .pixels(let source):
                if let stored = embedded(image.key) {
                    images.append(.embeddings(stored, rows: image.grid.mergedTokenCount()))
                } else {
                    images.append(.pixels(source))
                }
            }
            return index
        }

        var captures = [PrefixCacheKey]()
        /// Splices the rows of `image` (shown in `block`) that fall in tokens `tokens` of a sequence whose
        /// first token `tokens.lowerBound` is at axis row `base`.
        func splice(_ block: PromptImageBlock, _ image: PreparedImage?, tokens: Range<Int>, base: Int32) {
            let lower = max(block.padStart, tokens.lowerBound),
                upper = min(block.padRange.upperBound, tokens.upperBound)
            guard let image, lower < upper else { return }
            let own = lower..<upper
            splices.append(
                ModelInput.Splice(
                    image: index(of: image),
                    sourceRows: (own.lowerBound - block.padStart)..<(own.upperBound - block.padStart),
                    destinationRows: own.map { base + Int32($0 - tokens.lowerBound) }))
        }

        for group in groups {
            let members = group.map { pairs[$0] }
            guard let first = members.first else { continue }
            let shared = SharedPrefix.length(of: members)
            // Rows (contiguous) holding the group's tokens [0, covered).
            var rows: Range<Int32> = 0..<0
            var covered = 0
            // Only the query image can reach into a prefix (SharedPrefix keeps document images out).
            let queryBlocks = first.prompt.imageBlocks.filter { $0.side == .query }
            if let point = cachePoint(members, shared: shared) {
                let key = PrefixCacheKey(tokenIDs: first.prompt.tokenIDs[..<point], queryImage: first.queryImage?.key)
                if let kv = reuse.lookup(key), kv.rows == point {
                    rows = batch.appendCachedPrefix(kv)
                } else {
                    let capture = reuse.shouldCapture(key)
                    rows = batch.appendPrefix(
                        tokenIDs: Array(first.prompt.tokenIDs[..<point]), positions: first.positions.tokens(0..<point),
                        capture: capture)
                    if capture { captures.append(key) }
                    for block in queryBlocks {
                        splice(block, first.queryImage, tokens: 0..<point, base: rows.lowerBound)
                    }
                }
                covered = point
            }
            if shared > covered {
                let more = batch.appendPrefix(
                    tokenIDs: Array(first.prompt.tokenIDs[covered..<shared]),
                    positions: first.positions.tokens(covered..<shared), continuing: rows)
                for block in queryBlocks {
                    splice(block, first.queryImage, tokens: covered..<shared, base: more.lowerBound)
                }
                rows = (rows.isEmpty ? more.lowerBound : rows.lowerBound)..<more.upperBound
                covered = shared
            }
            for (position, pair) in zip(group, members) {
                order.append(position)
                let count = pair.prompt.count
                let start = batch.append(
                    tokenIDs: Array(pair.prompt.tokenIDs[covered...]),
                    positions: pair.positions.tokens(covered..<count),
                    prefix: rows)
                for block in pair.prompt.imageBlocks {
                    splice(
                        block, block.side == .query ? pair.queryImage : pair.documentImage, tokens: covered..<count,
                        base: start)
                }
            }
        }
        return Packed(
            input: ModelInput(
                batch: batch, images: images, splices: splices, patchLayout: ImagePreprocessor.patchLayout),
            order: order, images: prepared,
            captures: captures)
    }

    /// Where a group's cacheable prefix ends: just past the query image when the query has one (the words
    /// that follow may change between requests that show the same image), else the whole shared prefix;
    /// nil when there is nothing worth caching. Every pair keeps at least its last token.
    static func cachePoint(_ members: [ScoringPair], shared: Int) -> Int? {
        guard let first = members.first else { return nil }
        let shortest = members.map(\.prompt.count).min() ?? 0
        if let image = first.prompt.imageBlocks.last(where: { $0.side == .query }), first.queryImage != nil {
            let end = image.blockRange.upperBound
            return end < shortest ? end : nil
        }
        return shared >= SharedPrefix.minimumLength ? shared : nil
    }
}
