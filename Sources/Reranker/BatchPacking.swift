import Qwen25VL

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
    }

    /// Packs `pairs` (from one request or many) for one forward pass.
    ///
    /// Pairs with equal ``ScoringPair/prefixKey`` form a group, kept in order of first appearance; each
    /// group's exact shared prefix (``SharedPrefix``) is appended once, and its pairs continue it.
    ///
    /// - Parameter cached: embeddings found for images that arrived as pixels (filled since preparation);
    ///   such images are uploaded instead of embedded again.
    static func pack(_ pairs: [ScoringPair], cached: [ImageKey: [Float]] = [:]) throws -> Packed {
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

        func index(of image: PreparedImage) -> Int {
            if let index = imageIndex[image.key] { return index }
            let index = images.count
            imageIndex[image.key] = index
            prepared.append(image)
            if let onDevice = image.deviceEmbeddings {
                images.append(.device(onDevice))
                return index
            }
            switch image.content {
            case .embeddings(let values):
                images.append(.embeddings(values, rows: image.grid.mergedTokenCount()))
            case .pixels(let values):
                if let stored = cached[image.key] {
                    images.append(.embeddings(stored, rows: image.grid.mergedTokenCount()))
                } else {
                    images.append(.pixels(values, grid: image.grid))
                }
            }
            return index
        }

        for group in groups {
            let members = group.map { pairs[$0] }
            let shared = SharedPrefix.length(of: members)
            var prefixRows: Range<Int32> = 0..<0
            if shared > 0, let first = members.first {
                prefixRows = batch.appendPrefix(
                    tokenIDs: Array(first.prompt.tokenIDs[..<shared]), positions: first.positions.tokens(0..<shared))
                // SharedPrefix keeps document images out of the prefix: only the query image can reach into it.
                for block in first.prompt.imageBlocks where block.side == .query && block.padStart < shared {
                    guard let image = first.queryImage else { continue }
                    let end = min(block.padRange.upperBound, shared)
                    splices.append(
                        ModelInput.Splice(
                            image: index(of: image), sourceRows: 0..<(end - block.padStart),
                            destinationRows: (block.padStart..<end).map { prefixRows.lowerBound + Int32($0) }))
                }
            }
            for (position, pair) in zip(group, members) {
                order.append(position)
                let count = pair.prompt.count
                let start = batch.append(
                    tokenIDs: Array(pair.prompt.tokenIDs[shared...]), positions: pair.positions.tokens(shared..<count),
                    prefix: prefixRows)
                for block in pair.prompt.imageBlocks {
                    guard let image = block.side == .query ? pair.queryImage : pair.documentImage else { continue }
                    // The pad rows past the shared prefix belong to this pair's own rows.
                    let end = block.padRange.upperBound
                    let own = min(max(block.padStart, shared), end)..<end
                    guard !own.isEmpty else { continue }
                    splices.append(
                        ModelInput.Splice(
                            image: index(of: image),
                            sourceRows: (own.lowerBound - block.padStart)..<(own.upperBound - block.padStart),
                            destinationRows: own.map { start + Int32($0 - shared) }))
                }
            }
        }
        return Packed(input: ModelInput(batch: batch, images: images, splices: splices), order: order, images: prepared)
    }
}
