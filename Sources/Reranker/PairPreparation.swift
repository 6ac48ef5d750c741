import Crypto
import Foundation
import ImageProcessing
import Qwen25VL
import TensorKit

/// One query–document pair made ready on the host: prompt tokenized (and truncated if needed), rope
/// positions computed, images preprocessed or found in the cache. No model work has been done for it.
///
/// Pairs of different requests (different queries, instructions and images) can be scored together in one
/// forward pass with ``Reranker/scorePairs(_:)``: this is what lets a server pack concurrent requests.
public struct ScoringPair: Sendable {
    /// Position of the document in its request.
    public let index: Int
    let prompt: EncodedPrompt
    let positions: MRopePositions
    /// The query's image, one instance shared by every pair of the request.
    let queryImage: PreparedImage?
    let documentImage: PreparedImage?
    /// Identifies the query side (instruction, query text and image, prompt limits): pairs with equal keys,
    /// of one request or of several, can share their prompt prefix in a forward pass.
    public let prefixKey: PrefixKey
    /// Leading tokens this pair shares with the other pairs of its request: in a forward pass they are
    /// computed once for all the pairs of one prefix (see ``BatchPlanner``).
    public let sharedPrefixLength: Int

    /// The images the pair shows (the query's, then the document's).
    public var images: [PreparedImage] { [queryImage, documentImage].compactMap { $0 } }

    /// Decoder tokens of the pair's prompt (image tokens included).
    public var tokenCount: Int { prompt.count }
    /// Whether the document text was shortened to fit the maximum length.
    public var truncated: Bool { prompt.wasTruncated }
}

/// Identifies the query side of a prompt; see ``ScoringPair/prefixKey``.
public struct PrefixKey: Hashable, Sendable {
    let digest: [UInt8]

    init(instruction: String?, queryText: String, queryImage: ImageKey?, maxLength: Int) {
        var hasher = SHA256()
        for part in [instruction.map { "i" + $0 } ?? "-", queryText] {
            withUnsafeBytes(of: Int64(part.utf8.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Data(part.utf8))
        }
        hasher.update(data: queryImage?.digest ?? [])
        withUnsafeBytes(of: Int64(maxLength).littleEndian) { hasher.update(bufferPointer: $0) }
        digest = Array(hasher.finalize())
    }
}

extension Reranker {
    /// Prepares every pair of one request on the host: reads, decodes and preprocesses the images (or finds
    /// their embeddings in ``imageCache``), tokenizes the prompts and computes their positions. The query
    /// image is prepared once and shared by all pairs; it is embedded in the forward pass, like every image.
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
        let prepared = try prepareQuery(query, instruction: instruction, options: requestOptions)
        return try preparePairs(prepared, documents: documents[...])
    }

    /// What every pair of one request shares: the prompt builder and image preprocessor of the request's
    /// options, its pixel allowance, and the query (its image prepared once). A request prepared in parts
    /// (``preparePairs(_:documents:)`` on slices of its documents) shares one.
    public struct PreparedQuery: Sendable {
        let builder: PromptBuilder
        let preprocessor: ImagePreprocessor
        let allowance: PixelAllowance
        let instruction: String?
        let image: PreparedImage?
        let segment: PromptSegment
        let prefixKey: PrefixKey
    }

    /// Prepares the query side of a request (the query image decoded or found in the cache).
    /// - Throws: ``RerankerError`` naming the query or the option that could not be used.
    public func prepareQuery(
        _ query: RerankItem, instruction: String?, options requestOptions: PairPreparationOptions
    ) throws -> PreparedQuery {
        let builder: PromptBuilder
        do { builder = try prompts.applying(requestOptions) } catch { throw RerankerError.invalidOption("\(error)") }
        let preprocessor = try imagePreprocessor(for: requestOptions)
        let allowance = PixelAllowance(total: options.maxRequestDecodedPixels)
        let queryImage: PreparedImage?
        do {
            queryImage = try query.image.map { try prepare($0, allowance: allowance, with: preprocessor) }
        } catch {
            throw RerankerError.query(reason: "\(error)")
        }
        return PreparedQuery(
            builder: builder, preprocessor: preprocessor, allowance: allowance, instruction: instruction,
            image: queryImage, segment: PromptSegment(text: query.text, images: queryImage.map { [$0.grid] } ?? []),
            prefixKey: PrefixKey(
                instruction: instruction, queryText: query.text, queryImage: queryImage?.key,
                maxLength: builder.maxLength))
    }

    /// The pairs of `documents` (a slice of the request's documents: pair indices are their positions in the
    /// whole request) with the prepared query. The shared prompt prefix is measured over these pairs.
    /// - Throws: ``RerankerError`` naming the first document (in order) that could not be used.
    public func preparePairs(_ query: PreparedQuery, documents: ArraySlice<RerankItem>) throws -> [ScoringPair] {
        let first = documents.startIndex
        let builder = query.builder, instruction = query.instruction, querySegment = query.segment
        // Decoding and preprocessing dominate the host work of image documents: spread them over the cores.
        let images = prepareConcurrently(documents.map(\.image), allowance: query.allowance, with: query.preprocessor)
        // Tokenizing is a few milliseconds for a request of long documents: spread it over the cores too.
        typealias Prepared = (prompt: EncodedPrompt, positions: MRopePositions, image: PreparedImage?)
        let encoded = concurrentResults(count: documents.count) { offset -> Prepared in
            let image = try images[offset].get()
            let segment = PromptSegment(text: documents[first + offset].text, images: image.map { [$0.grid] } ?? [])
            let prompt = try builder.encode(query: querySegment, document: segment, instruction: instruction)
            let positions = try multimodalRopePositions(
                tokenIDs: prompt.tokenIDs, imageGrids: prompt.imageGrids,
                spatialMergeSize: configuration.vision.spatialMergeSize, tokens: visionTokens)
            return (prompt, positions, image)
        }
        var prepared = [(index: Int, prompt: EncodedPrompt, positions: MRopePositions, image: PreparedImage?)]()
        prepared.reserveCapacity(documents.count)
        // The first failing document (in order) names the error, as a sequential loop would.
        for (offset, outcome) in encoded.enumerated() {
            let index = first + offset
            do {
                let value = try outcome.get()
                prepared.append((index, value.prompt, value.positions, value.image))
            } catch let error as PromptError {
                if case .queryTooLong = error { throw RerankerError.query(reason: "\(error)") }
                throw RerankerError.document(index: index, reason: "\(error)")
            } catch {
                throw RerankerError.document(index: index, reason: "\(error)")
            }
        }
        let pairs = prepared.map {
            ScoringPair(
                index: $0.index, prompt: $0.prompt, positions: $0.positions, queryImage: query.image,
                documentImage: $0.image, prefixKey: query.prefixKey, sharedPrefixLength: 0)
        }
        let shared = SharedPrefix.length(of: pairs)
        guard shared > 0 else { return pairs }
        return pairs.map {
            ScoringPair(
                index: $0.index, prompt: $0.prompt, positions: $0.positions, queryImage: $0.queryImage,
                documentImage: $0.documentImage, prefixKey: $0.prefixKey, sharedPrefixLength: shared)
        }
    }

    /// ``prepare(_:)`` for each image (nil stays nil), run in parallel; errors are kept per image.
    func prepareConcurrently(
        _ images: [RerankImage?], allowance: PixelAllowance, with preprocessor: ImagePreprocessor
    ) -> [Result<PreparedImage?, any Error>] {
        concurrentResults(count: images.count) { index in
            try images[index].map { try prepare($0, allowance: allowance, with: preprocessor) }
        }
    }

    /// Reads an image and either finds its embeddings in the cache (no decoding) or decodes and
    /// preprocesses it with `preprocessor` (the request's pixel bounds).
    func prepare(_ image: RerankImage, allowance: PixelAllowance, with preprocessor: ImagePreprocessor) throws
        -> PreparedImage
    {
        let key: ImageKey
        let encoded: Data?
        switch image {
        case .file(let url):
            let data: Data
            do {
                data = try Data(contentsOf: url, options: .mappedIfSafe)
            } catch {
                throw ImageError.unreadableFile(path: url.path, reason: error.localizedDescription)
            }
            key = ImageKey(bytes: data, minPixels: preprocessor.minPixels, maxPixels: preprocessor.maxPixels)
            encoded = data
        case .encoded(let data):
            key = ImageKey(bytes: data, minPixels: preprocessor.minPixels, maxPixels: preprocessor.maxPixels)
            encoded = data
        case .decoded(let rgb):
            let sides = withUnsafeBytes(of: (Int64(rgb.width).littleEndian, Int64(rgb.height).littleEndian)) {
                Array($0)
            }
            key = ImageKey(
                bytes: rgb.pixels, trailer: sides, minPixels: preprocessor.minPixels,
                maxPixels: preprocessor.maxPixels)
            encoded = nil
        }
        if let hit = imageCache.lookup(key) {
            return PreparedImage(key: key, grid: hit.grid, content: .embeddings(hit.embeddings))
        }
        let (decoded, shared) = try imagePreparations.image(for: key) {
            try decode(image, encoded: encoded, allowance: allowance, with: preprocessor)
        }
        // Another request decoded it: this request spends its pixels all the same, as if it had.
        if shared { try allowance.spend(decoded.decodedPixels) }
        return PreparedImage(key: key, decoded: decoded)
    }

    /// Decodes `image` (its `encoded` bytes when it has them) within what the request's `allowance` has left,
    /// spends the pixels, and resizes it with `preprocessor`.
    private func decode(
        _ image: RerankImage, encoded: Data?, allowance: PixelAllowance, with preprocessor: ImagePreprocessor
    ) throws -> DecodedImage {
        let maxPixels = min(options.maxDecodedPixels, allowance.remaining)
        let decoded: RGBImage
        do {
            decoded =
                try encoded.map { try ImageDecoder.decode($0, maxPixels: maxPixels) }
                ?? image.decode(maxPixels: maxPixels)
        } catch let error as ImageError {
            // Over what the request has left (not over the per-image limit): the request's limit speaks.
            if maxPixels < options.maxDecodedPixels, case .tooManyPixels = error {
                throw RerankerError.tooManyPixels(limit: allowance.total)
            }
            if case .file(let url) = image { throw ImageError.inFile(path: url.path, error) }
            throw error
        }
        let pixels = decoded.width * decoded.height
        try allowance.spend(pixels)
        let processed = try preprocessor.process(decoded)
        return DecodedImage(grid: processed.grid, source: processed.patchifySource, decodedPixels: pixels)
    }
}
