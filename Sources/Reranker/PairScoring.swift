import Foundation
import ImageProcessing
import Qwen25VL
import TensorKit

/// One query–document pair made ready for the model: prompt tokenized (and truncated if needed), rope
/// positions computed, the document image preprocessed, and the query image already embedded.
///
/// Pairs of different requests (different queries, instructions and images) can be scored together in one
/// forward pass with ``Reranker/scorePairs(_:)``: this is what lets a server pack concurrent requests.
public struct ScoringPair: Sendable {
    /// Position of the document in its request.
    public let index: Int
    let prompt: EncodedPrompt
    let positions: MRopePositions
    let image: Reranker.PreparedImage?
    /// The query image's embeddings, computed once per request and shared by all its pairs.
    let queryEmbeddings: Tensor?

    /// Decoder tokens of the pair's prompt (image tokens included): its cost in a token budget.
    public var tokenCount: Int { prompt.count }
    /// Whether the document text was shortened to fit the maximum length.
    public var truncated: Bool { prompt.wasTruncated }
}

extension Reranker {
    struct PreparedImage: Sendable {
        var grid: VisionGrid
        var pixelValues: [Float]
    }

    /// Prepares every pair of one request: decodes and preprocesses the images, tokenizes the prompts and
    /// runs the vision tower once on the query image.
    ///
    /// - Parameters:
    ///   - instruction: what "relevant" means; nil uses Lychee's default instruction.
    ///   - options: the request's truncation and image-size choices (see ``PairPreparationOptions``); they
    ///     never raise the reranker's own limits.
    /// - Throws: ``RerankerError`` naming the query or the document that could not be used.
    public func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String? = nil,
        options requestOptions: PairPreparationOptions = PairPreparationOptions()
    ) throws -> [ScoringPair] {
        guard !documents.isEmpty else { throw RerankerError.noDocuments }
        let builder: PromptBuilder
        do { builder = try prompts.applying(requestOptions) } catch { throw RerankerError.invalidOption("\(error)") }
        let preprocessor = try imagePreprocessor(for: requestOptions)

        let queryImage: PreparedImage?
        do {
            queryImage = try query.image.map { try prepare($0, with: preprocessor) }
        } catch {
            throw RerankerError.query(reason: "\(error)")
        }
        let querySegment = PromptSegment(text: query.text, images: queryImage.map { [$0.grid] } ?? [])

        // Decoding and preprocessing dominate the host work of image documents: spread them over the cores.
        let images = prepareConcurrently(documents.map(\.image), with: preprocessor)
        var prepared = [(index: Int, prompt: EncodedPrompt, positions: MRopePositions, image: PreparedImage?)]()
        prepared.reserveCapacity(documents.count)
        for (index, document) in documents.enumerated() {
            do {
                let image = try images[index].get()
                let segment = PromptSegment(text: document.text, images: image.map { [$0.grid] } ?? [])
                let prompt = try builder.encode(query: querySegment, document: segment, instruction: instruction)
                let positions = try multimodalRopePositions(
                    tokenIDs: prompt.tokenIDs, imageGrids: prompt.imageGrids,
                    spatialMergeSize: configuration.vision.spatialMergeSize, tokens: visionTokens)
                prepared.append((index, prompt, positions, image))
            } catch let error as PromptError {
                if case .queryTooLong = error { throw RerankerError.query(reason: "\(error)") }
                throw RerankerError.document(index: index, reason: "\(error)")
            } catch {
                throw RerankerError.document(index: index, reason: "\(error)")
            }
        }
        // Embedded only once every document is known to be usable.
        let queryEmbeddings = try queryImage.map {
            try model.imageEmbeddings(pixelValues: $0.pixelValues, grids: [$0.grid])
        }
        return prepared.map {
            ScoringPair(
                index: $0.index, prompt: $0.prompt, positions: $0.positions, image: $0.image,
                queryEmbeddings: queryEmbeddings)
        }
    }

    /// Scores `pairs` in one forward pass, whichever requests they come from; results are in the pairs'
    /// order, each carrying its pair's ``ScoringPair/index``.
    ///
    /// The caller chooses the batch: keep the sum of ``ScoringPair/tokenCount`` near `options.tokenBudget`
    /// (see `planBatches(lengths:tokenBudget:)`). When the backend runs out of device memory
    /// (``DeviceMemoryError``), the batch is split in halves and each is scored on its own.
    public func scorePairs(_ pairs: [ScoringPair]) throws -> [RerankResult] {
        guard !pairs.isEmpty else { return [] }
        let logits: [Float]
        do {
            logits = try forward(pairs)
        } catch let error as any DeviceMemoryError where error.isOutOfDeviceMemory && pairs.count > 1 {
            // The device could not hold this batch's activations: score it in two halves.
            let half = pairs.count / 2
            return try scorePairs(Array(pairs[..<half])) + scorePairs(Array(pairs[half...]))
        }
        return zip(pairs, logits).map { pair, z in
            RerankResult(
                index: pair.index, score: 1 / (1 + Foundation.exp(-Double(z))), logit: Double(z),
                tokens: pair.prompt.count, truncated: pair.prompt.wasTruncated)
        }
    }

    /// ``prepare(_:)`` for each image (nil stays nil), run in parallel; errors are kept per image.
    func prepareConcurrently(
        _ images: [RerankImage?], with preprocessor: ImagePreprocessor? = nil
    ) -> [Result<PreparedImage?, any Error>] {
        let results = ResultSlots<PreparedImage?>(count: images.count)
        DispatchQueue.concurrentPerform(iterations: images.count) { index in
            results.set(index, Result { try images[index].map { try prepare($0, with: preprocessor) } })
        }
        return results.values
    }

    func prepare(_ image: RerankImage, with requestPreprocessor: ImagePreprocessor? = nil) throws -> PreparedImage {
        let processed = try (requestPreprocessor ?? preprocessor).process(
            try image.decode(maxPixels: options.maxDecodedPixels))
        return PreparedImage(
            grid: VisionGrid(t: processed.grid.t, h: processed.grid.h, w: processed.grid.w),
            pixelValues: processed.pixelValues)
    }

    /// One forward pass over `pairs`: the documents' images go through the vision tower together, the
    /// prompt prefix all pairs share (``SharedPrefix``) is packed once, then every image's embeddings (the
    /// pair's own query embeddings, or its document's) are spliced at its pad rows.
    private func forward(_ pairs: [ScoringPair]) throws -> [Float] {
        let documentImages = pairs.compactMap(\.image)
        let documentEmbeddings = try documentImages.isEmpty
            ? nil
            : model.imageEmbeddings(
                pixelValuesOfImages: documentImages.map(\.pixelValues), grids: documentImages.map(\.grid))
        var batch = PackedBatch()
        let shared = SharedPrefix.length(of: pairs)
        var prefixRows: Range<Int32> = 0..<0
        if shared > 0 {
            let first = pairs[0]
            prefixRows = batch.appendPrefix(
                tokenIDs: Array(first.prompt.tokenIDs[..<shared]), positions: first.positions.tokens(0..<shared))
            // SharedPrefix keeps document images out of the prefix: only query images can reach into it.
            for block in first.prompt.imageBlocks where block.side == .query && block.padStart < shared {
                guard let queryEmbeddings = first.queryEmbeddings else { continue }
                let end = min(block.padRange.upperBound, shared)
                batch.images.append(
                    ImageInsert(
                        embeddings: try queryEmbeddings.rows(0..<(end - block.padStart)),
                        rows: (block.padStart..<end).map { prefixRows.lowerBound + Int32($0) }))
            }
        }
        var documentRow = 0
        for pair in pairs {
            let count = pair.prompt.count
            let start = batch.append(
                tokenIDs: Array(pair.prompt.tokenIDs[shared...]), positions: pair.positions.tokens(shared..<count),
                prefix: prefixRows)
            for block in pair.prompt.imageBlocks {
                let source: Tensor
                switch block.side {
                case .query:
                    guard let queryEmbeddings = pair.queryEmbeddings else { continue }
                    source = queryEmbeddings
                case .document:
                    guard let documentEmbeddings else { continue }
                    source = try documentEmbeddings.rows(documentRow..<(documentRow + block.padCount))
                    documentRow += block.padCount
                }
                // The pad rows past the shared prefix belong to this pair's own rows.
                let end = block.padRange.upperBound
                let own = min(max(block.padStart, shared), end)..<end
                guard !own.isEmpty else { continue }
                batch.images.append(
                    ImageInsert(
                        embeddings: try source.rows((own.lowerBound - block.padStart)..<(own.upperBound - block.padStart)),
                        rows: own.map { start + Int32($0 - shared) }))
            }
        }
        return try model.forward(batch).logits
    }
}

/// Slots that concurrent workers fill, each index written once.
private final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Result<Value, any Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Value, any Error>) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    /// Every slot's result (call after all workers have finished).
    var values: [Result<Value, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0 ?? .failure(RerankerError.invalidOption("an image was not prepared")) }
    }
}
