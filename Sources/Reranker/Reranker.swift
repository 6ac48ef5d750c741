import Foundation
import ImageProcessing
import Qwen25VL
import SafeTensors
import Synchronization
import TensorKit
import Tokenizers

/// Settings of a loaded reranker.
public struct RerankerOptions: Sendable {
    /// Longest prompt in tokens; longer documents have their text cut from the end (SPEC: 3200).
    public var maxLength: Int = 3200
    /// Most decoder tokens packed into one forward pass.
    public var tokenBudget: Int = 4096
    /// Largest image (width x height) decoded at all; bigger ones are refused before decoding.
    public var maxDecodedPixels: Int = ImageLimits.defaultMaxDecodedPixels
    /// Most pixels all the images of one request may decode to together (beyond, the request is refused
    /// before the rest of its images are decoded).
    public var maxRequestDecodedPixels: Int = 1 << 28
    /// Host memory for vision-tower outputs kept across requests (``ImageEmbeddingCache``); 0 disables it.
    public var imageCacheBytes: Int = 0
    /// Host memory for prompt prefixes' keys and values kept across requests (``PrefixCache``); 0 disables it.
    public var prefixCacheBytes: Int = 0
    /// Device memory for copies of cached prefixes kept between passes (``DevicePrefixCopies``): a prefix used
    /// again is not uploaded again. 0 keeps none (each pass uploads the prefixes it attends to).
    public var devicePrefixCopyBytes: Int = 0

    public init(
        maxLength: Int = 3200, tokenBudget: Int = 4096, maxDecodedPixels: Int = ImageLimits.defaultMaxDecodedPixels,
        imageCacheBytes: Int = 0, prefixCacheBytes: Int = 0
    ) {
        self.prefixCacheBytes = prefixCacheBytes
        self.maxLength = maxLength
        self.tokenBudget = tokenBudget
        self.maxDecodedPixels = maxDecodedPixels
        self.imageCacheBytes = imageCacheBytes
    }
}

/// Scores documents (text, images or both) against a query with Lychee-Rerank-MM.
///
/// Load once; then call ``score(query:documents:instruction:progress:)`` from any number of threads:
/// the reranker keeps no per-request state (only the images its device embedded for the image cache, until
/// ``cacheEmbeddedImages()`` downloads them).
public final class Reranker: Sendable {
    public let model: Qwen25VLModel
    public let configuration: Qwen25VLConfiguration
    public let tokenizer: Tokenizer
    public let preprocessor: ImagePreprocessor
    public let options: RerankerOptions
    /// Vision-tower outputs of images seen before (sized by ``RerankerOptions/imageCacheBytes``).
    public let imageCache: ImageEmbeddingCache
    /// Keys and values of prompt prefixes seen before (sized by ``RerankerOptions/prefixCacheBytes``).
    public let prefixCache: PrefixCache
    /// Images being decoded or held decoded by requests in flight, each decoded once for all of them.
    public let imagePreparations: ImagePreparations
    /// Cached prefixes' keys and values kept on this reranker's device between passes (sized by
    /// ``RerankerOptions/devicePrefixCopyBytes``; one per device, unlike the host cache).
    public let prefixCopies: DevicePrefixCopies
    /// Images this reranker's device embedded that ``imageCache`` has yet to receive.
    let pendingCacheEntries = PendingImageEmbeddings()
    private let embeddedImages = Atomic<Int>(0)
    /// Images the vision tower embedded on this reranker's device since it was made (in passes and ahead of
    /// them): the work the image cache did not save.
    public var imagesEmbedded: Int { embeddedImages.load(ordering: .relaxed) }
    func countEmbeddedImages(_ count: Int) { embeddedImages.add(count, ordering: .relaxed) }
    let prompts: PromptBuilder
    let visionTokens: VisionTokenIDs

    /// Loads the model in `directory` (config.json, tokenizer.json, safetensors weights, optional
    /// preprocessor_config.json) onto `backend`, after the checks `inspect` makes. `weightLoading` says whether
    /// the CPU backend computes on the mapped shards (the default) or on a copy read into memory; other
    /// backends copy every weight, so the shards are unmapped once this returns. `linearPrecision` says how
    /// the linear layers' weights are kept (``LinearWeightPrecision``); `mlpRowChunks` bounds the rows each MLP
    /// works on at once (nil: ``MLPRowChunks/standard``, or ``MLPRowChunks/eightBit`` for 8-bit weights).
    public static func load(
        modelDirectory directory: URL, backend: any Backend, options: RerankerOptions = RerankerOptions(),
        weightLoading: WeightLoading = .memoryMapped, linearPrecision: LinearWeightPrecision = .bf16,
        mlpRowChunks: MLPRowChunks? = nil
    ) throws -> Reranker {
        try requireModelFiles(in: directory)
        let configuration = try Qwen25VLConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
        try configuration.validate()
        let preprocessing = try PreprocessorConfiguration.load(directory: directory)
        let tokenizer = try Tokenizer(contentsOf: directory.appendingPathComponent("tokenizer.json"))
        let checkpoint = try Checkpoint(directory: directory, loading: weightLoading)
        try checkModel(
            directory: directory, configuration: configuration, preprocessing: preprocessing, tokenizer: tokenizer,
            checkpoint: checkpoint, maxLength: options.maxLength)
        let weights = try CheckpointWeights(
            checkpoint: checkpoint, configuration: configuration, linearPrecision: linearPrecision)
        guard let yes = tokenizer.tokenID(LycheePromptFormat.yesToken) else {
            throw RerankerError.missingToken(LycheePromptFormat.yesToken)
        }
        guard let no = tokenizer.tokenID(LycheePromptFormat.noToken) else {
            throw RerankerError.missingToken(LycheePromptFormat.noToken)
        }
        let model = try Qwen25VLModel(
            dimensions: ModelDimensions(configuration: configuration), weights: weights, backend: backend,
            yesTokenID: yes, noTokenID: no,
            mlpRowChunks: mlpRowChunks ?? (linearPrecision == .fp8 ? .eightBit : .standard))
        return try Reranker(
            model: model, configuration: configuration, tokenizer: tokenizer,
            preprocessor: ImagePreprocessor(minPixels: preprocessing.minPixels, maxPixels: preprocessing.maxPixels),
            options: options)
    }

    /// Assembles a reranker from loaded parts.
    public convenience init(
        model: Qwen25VLModel, configuration: Qwen25VLConfiguration, tokenizer: Tokenizer,
        preprocessor: ImagePreprocessor, options: RerankerOptions
    ) throws {
        try self.init(
            model: model, configuration: configuration, tokenizer: tokenizer, preprocessor: preprocessor,
            options: options, imageCache: ImageEmbeddingCache(capacityBytes: options.imageCacheBytes),
            prefixCache: PrefixCache(capacityBytes: options.prefixCacheBytes), imagePreparations: ImagePreparations())
    }

    /// The same reranker over another copy of the model (another GPU): tokenizer, settings, both caches and the
    /// images being decoded are shared, so an image or a prefix computed on one device is reused on every device.
    /// The replica keeps its own device copies of prefixes, `devicePrefixCopyBytes` of them (nil: as many as
    /// ``RerankerOptions/devicePrefixCopyBytes``).
    public func replica(on model: Qwen25VLModel, devicePrefixCopyBytes: Int? = nil) throws -> Reranker {
        var options = options
        if let devicePrefixCopyBytes { options.devicePrefixCopyBytes = devicePrefixCopyBytes }
        return try Reranker(
            model: model, configuration: configuration, tokenizer: tokenizer, preprocessor: preprocessor,
            options: options, imageCache: imageCache, prefixCache: prefixCache, imagePreparations: imagePreparations)
    }

    init(
        model: Qwen25VLModel, configuration: Qwen25VLConfiguration, tokenizer: Tokenizer,
        preprocessor: ImagePreprocessor, options: RerankerOptions, imageCache: ImageEmbeddingCache,
        prefixCache: PrefixCache, imagePreparations: ImagePreparations
    ) throws {
        guard options.tokenBudget >= 1 else {
            throw RerankerError.invalidOption("the token budget must be at least 1, got \(options.tokenBudget)")
        }
        self.model = model
        self.configuration = configuration
        self.tokenizer = tokenizer
        self.preprocessor = preprocessor
        self.options = options
        self.imageCache = imageCache
        self.prefixCache = prefixCache
        self.imagePreparations = imagePreparations
        self.prefixCopies = DevicePrefixCopies(capacityBytes: prefixCache.isEnabled ? options.devicePrefixCopyBytes : 0)
        self.prompts = try PromptBuilder(
            tokenizer: tokenizer, maxLength: options.maxLength,
            spatialMergeSize: configuration.vision.spatialMergeSize)
        self.visionTokens = VisionTokenIDs(
            imagePad: Int32(configuration.imageTokenId), visionStart: Int32(configuration.visionStartTokenId),
            videoPad: Int32(configuration.videoTokenId))
    }

    /// Relevance of each document to the query, in the documents' order.
    ///
    /// An empty query (no text, no image) is allowed: the prompt then holds a bare `<Query>:` prefix, as the
    /// reference renders it.
    ///
    /// The device embeds the query image while the host prepares the documents. A request of 16 documents or
    /// more is prepared in two waves (``preparationWaves(documentCount:)``): the device scores the first while
    /// the host prepares the rest. The first wave's last, partly filled pass
    /// waits for the second wave's documents when they would fit in the passes the second wave needs anyway
    /// (``waitsForNextWave(partialDocuments:waveDocumentTokens:sharedPrefix:remainingDocuments:tokenBudget:)``): no pass of its own, and no second
    /// computation of a shared prefix. A document that cannot be used still fails the whole request with its
    /// own index, possibly after the first wave was scored.
    ///
    /// - Parameters:
    ///   - instruction: what "relevant" means for this request; nil uses Lychee's default instruction.
    ///   - progress: called after each forward pass with (documents scored, total).
    public func score(
        query: RerankItem, documents: [RerankItem], instruction: String? = nil,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> [RerankResult] {
        guard !documents.isEmpty else { throw RerankerError.noDocuments }
        let prepared = try prepareQuery(query, instruction: instruction, options: PairPreparationOptions())
        var results = [RerankResult?](repeating: nil, count: documents.count)
        var done = 0
        // The host prepares the next wave of documents while the device scores this one; while it prepares
        // the first, the device embeds the query image.
        let waves = Self.preparationWaves(
            documentCount: documents.count, imageDocuments: documents.count { $0.image != nil },
            queryImage: prepared.image != nil)
        let firstWave = BackgroundWork { [self] in try preparePairs(prepared, documents: documents[waves[0]]) }
        do {
            try embedAhead([prepared.image].compactMap { $0 })
        } catch {
            _ = try? firstWave.result()  // never leave a preparation running on an early exit
            throw error
        }
        // The image cache gets this request's images once it has its scores.
        defer { _ = try? cacheEmbeddedImages() }
        var pairs = try firstWave.result()
        var carried = [ScoringPair]()
        for number in waves.indices {
            let next =
                number + 1 < waves.count
                ? BackgroundWork { [self] in try preparePairs(prepared, documents: documents[waves[number + 1]]) } : nil
            defer { _ = try? next?.result() }  // never leave a preparation running on an early exit
            pairs = carried + pairs
            var passes = planBatches(pairs, tokenBudget: options.tokenBudget)
            carried = []
            if next != nil, let last = passes.last,
                Self.waitsForNextWave(
                    partialDocuments: last.count,
                    waveDocumentTokens: pairs.map { $0.tokenCount - $0.sharedPrefixLength },
                    sharedPrefix: pairs.map(\.sharedPrefixLength).max() ?? 0,
                    remainingDocuments: waves[number + 1].count,
                    tokenBudget: options.tokenBudget)
            {
                carried = last.map { pairs[$0] }
                passes.removeLast()
                // Their images need no more of the host: the device embeds them while it prepares.
                try embedAhead(carried.flatMap(\.images))
            }
            for pass in passes {
                for (position, result) in zip(pass, try scorePairs(pass.map { pairs[$0] })) {
                    results[pairs[position].index] = result
                }
                done += pass.count
                progress?(done, documents.count)
            }
            if let next { pairs = try next.result() }
        }
        return results.compactMap { $0 }
    }

    /// Whether the last pass of a wave (`partialDocuments` documents) should wait for the next wave's
    /// `remainingDocuments`: when, at the wave's average document length (`waveDocumentTokens`: each pair's
    /// tokens after the `sharedPrefix` that every pass holds once), the next wave plus these documents need no
    /// more passes than the next wave alone. Running the pass now would cost a small pass of its own, and one
    /// more computation of the shared prefix, to overlap the next wave's preparation.
    public static func waitsForNextWave(
        partialDocuments: Int, waveDocumentTokens: [Int], sharedPrefix: Int, remainingDocuments: Int, tokenBudget: Int
    ) -> Bool {
        guard partialDocuments > 0, !waveDocumentTokens.isEmpty else { return false }
        let perDocument = Double(waveDocumentTokens.reduce(0, +)) / Double(waveDocumentTokens.count)
        let room = Double(max(1, tokenBudget - sharedPrefix))
        func passes(_ documents: Int) -> Int { Int((Double(documents) * perDocument / room).rounded(.up)) }
        return passes(remainingDocuments + partialDocuments) <= max(1, passes(remainingDocuments))
    }

    /// Documents in the order they are prepared and scored: one wave for a small request; otherwise a small
    /// first wave (an eighth, at least 4 documents), so the device starts early, then the rest while it runs.
    /// A small request with ``imageDocumentWaveMinimum`` or more image documents and no `queryImage` is prepared
    /// in two halves: decoding and resizing an image costs the host about half a millisecond, and while the
    /// second half is prepared the device embeds the first half's images (the first half's pass waits for the
    /// second's documents when they share a pass, ``waitsForNextWave(partialDocuments:waveDocumentTokens:sharedPrefix:remainingDocuments:tokenBudget:)``).
    /// With a query image the device embeds it while the host prepares the whole request, and the documents'
    /// images then go through the vision tower in one pass instead of two (W4 on the H200: +0.8%).
    public static func preparationWaves(documentCount count: Int, imageDocuments: Int = 0, queryImage: Bool = false)
        -> [Range<Int>]
    {
        if count >= 16 {
            let first = max(4, count / 8)
            return [0..<first, first..<count]
        }
        guard imageDocuments >= imageDocumentWaveMinimum, !queryImage else { return [0..<count] }
        return [0..<(count / 2), (count / 2)..<count]
    }

    /// Image documents from which a request of fewer than 16 documents is prepared in two waves.
    public static let imageDocumentWaveMinimum = 4

    /// ``score(query:documents:instruction:progress:)`` sorted by score, highest first, cut to `topN`.
    public func rerank(
        query: RerankItem, documents: [RerankItem], instruction: String? = nil, topN: Int? = nil,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> [RerankResult] {
        ranked(try score(query: query, documents: documents, instruction: instruction, progress: progress), topN: topN)
    }
}

/// Results sorted by score, highest first (ties by document order), cut to `topN` when given: the one
/// ranking rule of the CLI and the server.
public func ranked(_ results: [RerankResult], topN: Int? = nil) -> [RerankResult] {
    let sorted = results.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
    return topN.map { Array(sorted.prefix(max(0, $0))) } ?? sorted
}
