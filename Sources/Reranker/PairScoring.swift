import Foundation
import ImageProcessing
import Qwen25VL
import TensorKit

extension Reranker {
    /// Scores `pairs` in one forward pass, whichever requests they come from; results are in the pairs'
    /// order, each carrying its pair's ``ScoringPair/index``.
    ///
    /// The caller chooses the batch (see ``BatchPlanner``). When the backend runs out of device memory
    /// (``DeviceMemoryError``), the device copies of cached prefixes (``prefixCopies``) are dropped, their capacity
    /// halved, and the pass runs again; when there were none, the batch is split in halves and each is scored on its
    /// own.
    /// - Throws: ``RerankerError/nonFiniteScore(index:logit:)`` when the model's score of a pair is not a number.
    public func scorePairs(_ pairs: [ScoringPair]) throws -> [RerankResult] {
        try scorePairsSeparately(pairs).map { try $0.get() }
    }

    /// ``scorePairs(_:)`` with each pair's own outcome: a pair whose score is not finite fails alone, the
    /// others keep their results. A failure of the whole pass (a device error) is thrown.
    public func scorePairsSeparately(_ pairs: [ScoringPair]) throws -> [Result<RerankResult, RerankerError>] {
        guard !pairs.isEmpty else { return [] }
        let logits: [Float]
        do {
            logits = try forwardMakingRoom(pairs)
        } catch let error as any DeviceMemoryError where error.isOutOfDeviceMemory && pairs.count > 1 {
            // The device could not hold this batch's activations: score it in two halves.
            let half = pairs.count / 2
            return try scorePairsSeparately(Array(pairs[..<half])) + scorePairsSeparately(Array(pairs[half...]))
        }
        return zip(pairs, logits).map { pair, z in
            guard z.isFinite else { return .failure(RerankerError.nonFiniteScore(index: pair.index, logit: Double(z))) }
            return .success(
                RerankResult(
                    index: pair.index, score: 1 / (1 + Foundation.exp(-Double(z))), logit: Double(z),
                    tokens: pair.prompt.count, truncated: pair.prompt.wasTruncated))
        }
    }

    /// Runs the vision tower now on those of `images` that a pass would still have to embed (no rows on the
    /// device, not in the image cache; each image once) and keeps each image's rows on the device for the
    /// passes that show it: work for the device while the host is busy preparing. A device out of memory
    /// leaves the images to the passes. Runs on the model's device: call it where passes run (a server's
    /// engine thread), and score the pairs of these images with this reranker.
    /// - Returns: how many images it embedded.
    @discardableResult
    public func embedAhead(_ images: [PreparedImage]) throws -> Int {
        cacheLeftoverImages()
        var seen = Set<ImageKey>()
        var pending = [(image: PreparedImage, source: PatchifySource)]()
        for image in images where image.deviceEmbeddings == nil && seen.insert(image.key).inserted {
            guard case .pixels(let source) = image.content else { continue }
            if embeddedEarlier(image.key) != nil { continue }
            pending.append((image, source))
        }
        guard !pending.isEmpty else { return 0 }
        let embeddings: Tensor
        do {
            embeddings = try model.imageEmbeddings(images: pending.map(\.source), layout: ImagePreprocessor.patchLayout)
        } catch let error as any DeviceMemoryError where error.isOutOfDeviceMemory {
            return 0
        }
        countEmbeddedImages(pending.count)
        var first = 0
        for (image, _) in pending {
            let count = image.grid.mergedTokenCount()
            try keep(try embeddings.rows(first..<(first + count)), of: image, onDevice: true)
            first += count
        }
        return pending.count
    }

    /// Marks an image's vision-tower rows for the image cache (``cacheEmbeddedImages()`` hands them over) and,
    /// `onDevice`, keeps an own copy of them on the device for the request's later passes (so that the rest of
    /// the tower's output is not kept alive). The rows' copy to the host is `download` when the pass started
    /// it, else it starts here (from the own copy when there is one).
    private func keep(
        _ rows: Tensor, of image: PreparedImage, onDevice: Bool, download: PendingHostRows? = nil
    ) throws {
        var kept = rows
        if onDevice {
            kept = try model.backend.concatenateRows([rows])
            image.deviceEmbeddings = kept
        }
        guard imageCache.isEnabled else { return }
        let copy = try download ?? model.backend.downloadRowsLater(kept)
        pendingCacheEntries.append(.init(key: image.key, grid: image.grid, rows: copy, bytes: kept.byteCount))
    }

    /// Hands the images this reranker's device embedded since the last call to the image cache.
    ///
    /// Their copies to the host started behind the vision tower (on a GPU they run beside the decoder); this
    /// waits for them, so that a request's answer never does: call it once a pass's results are delivered. It
    /// queues nothing on the device, so any thread may call it. A pass or ``embedAhead(_:)`` that finds more
    /// than ``PendingImageEmbeddings/leftoverLimitBytes`` left over hands them over first, so a caller that never
    /// calls this holds little.
    /// - Returns: how many images went into the cache.
    @discardableResult
    public func cacheEmbeddedImages() throws -> Int {
        let entries = pendingCacheEntries.all()
        defer { pendingCacheEntries.remove(entries) }
        for entry in entries {
            imageCache.insert(entry.key, grid: entry.grid, embeddings: try entry.rows.wait())
        }
        return entries.count
    }

    /// The vision-tower rows of an image already embedded: from the image cache, or from this reranker's entries
    /// waiting for the hand-over (an image that a request sent while another request's pass was embedding it; its
    /// copy finished behind that pass). Nil when the cache is off or the image is new; a failed copy counts as new
    /// (the pass embeds it again).
    func embeddedEarlier(_ key: ImageKey) -> HostRows? {
        guard imageCache.isEnabled else { return nil }
        if let hit = imageCache.lookup(key, counting: false) { return hit.embeddings }
        return try? pendingCacheEntries.entry(for: key)?.rows.wait()
    }

    /// ``cacheEmbeddedImages()`` when the entries left over hold more than
    /// ``PendingImageEmbeddings/leftoverLimitBytes``; a failure only loses those cache entries. (Fewer wait: the
    /// entries ``embedAhead(_:)`` just made are those of the pass about to run, which must not wait for them.)
    private func cacheLeftoverImages() {
        guard pendingCacheEntries.bytes > PendingImageEmbeddings.leftoverLimitBytes else { return }
        _ = try? cacheEmbeddedImages()
    }

    /// ``forward(_:)``, once more without the device copies of prefixes when the device ran out of memory with
    /// some kept.
    private func forwardMakingRoom(_ pairs: [ScoringPair]) throws -> [Float] {
        do {
            return try forward(pairs)
        } catch let error as any DeviceMemoryError where error.isOutOfDeviceMemory {
            guard prefixCopies.giveUpAfterRunningOutOfMemory() else { throw error }
            return try forward(pairs)
        }
    }

    /// One forward pass over `pairs`, logits in the pairs' order. Images the vision tower embeds here are
    /// marked for the image cache (``cacheEmbeddedImages()``).
    private func forward(_ pairs: [ScoringPair]) throws -> [Float] {
        cacheLeftoverImages()
        let cache = prefixCache
        let reuse = BatchPacking.PrefixReuse(lookup: { cache.lookup($0) }, shouldCapture: { cache.shouldCapture($0) })
        // Images whose rows a pair holds on the device are not looked up (nor waited for).
        var packed = try BatchPacking.pack(
            pairs, embedded: { embeddedEarlier($0) }, reuse: cache.isEnabled ? reuse : .none)
        packed.input.downloadsComputedImages = imageCache.isEnabled
        packed.input.prefixCopies = prefixCopies.capacityBytes > 0 ? prefixCopies : nil
        let scores = try model.score(packed.input)
        countEmbeddedImages(scores.computedImages.count)
        for (key, kv) in zip(packed.captures, scores.capturedPrefixes) { cache.insert(key, kv) }
        let queryImages = Set(pairs.compactMap { $0.queryImage.map(ObjectIdentifier.init) })
        for (index, rows) in scores.computedImages {
            // A query image stays on the device for the request's later passes.
            let image = packed.images[index]
            try keep(
                rows, of: image, onDevice: queryImages.contains(ObjectIdentifier(image)),
                download: scores.computedImageDownloads[index])
        }
        var logits = [Float](repeating: .nan, count: pairs.count)
        for (row, position) in packed.order.enumerated() { logits[position] = scores.logits[row] }
        return logits
    }
}
