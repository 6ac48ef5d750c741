import TensorKit

/// Everything one forward pass reads, built on the host by a pure packing step: the packed decoder batch
/// (token ids, positions, sequences), the images of the pass, and where each image's rows go.
public struct ModelInput: Sendable {
    /// One image of the pass.
    public enum Image: Sendable {
        /// A resized image for the vision tower, cut into patches on the model's device with
        /// ``ModelInput/patchLayout`` (``Backend/patchify(_:layout:)``).
        case pixels(PatchifySource)
        /// Vision-tower output computed earlier (`rows x outHidden`, row-major): uploaded, not recomputed.
        case embeddings(HostRows, rows: Int)
        /// Vision-tower output already on the model's device (`rows x outHidden`).
        case device(Tensor)
    }

    /// Rows of one image copied into the batch: image rows `sourceRows` replace the `<|image_pad|>` rows
    /// `destinationRows` of the packed batch.
    public struct Splice: Sendable, Equatable {
        public var image: Int
        public var sourceRows: Range<Int>
        public var destinationRows: [Int32]

        public init(image: Int, sourceRows: Range<Int>, destinationRows: [Int32]) {
            self.image = image
            self.sourceRows = sourceRows
            self.destinationRows = destinationRows
        }
    }

    /// The decoder batch; its `images` stay empty (the model fills them from ``splices``).
    public var batch: PackedBatch
    /// Every distinct image of the pass, each embedded (or uploaded) once.
    public var images: [Image]
    public var splices: [Splice]
    /// How the ``Image/pixels(_:)`` images are cut into patch rows (their preprocessor's layout); needed
    /// when there is one.
    public var patchLayout: PatchifyLayout?
    /// Whether to start copying each computed image's rows to the host as soon as the vision tower has made
    /// them (``ModelScores/computedImageDownloads``): the copies run beside the decoder (for an image cache).
    public var downloadsComputedImages = false
    /// Where the pass finds the batch's cached prefixes already on the device, and leaves those it uploads or
    /// captures (nil: every cached prefix is uploaded, and none is kept).
    public var prefixCopies: DevicePrefixCopies?

    public init(batch: PackedBatch, images: [Image] = [], splices: [Splice] = [], patchLayout: PatchifyLayout? = nil) {
        self.batch = batch
        self.images = images
        self.splices = splices
        self.patchLayout = patchLayout
    }
}

/// What ``Qwen25VLModel/score(_:)`` returns.
public struct ModelScores: Sendable {
    /// `z = logit(yes) - logit(no)` of each scored sequence, in batch order.
    public var logits: [Float]
    /// The vision-tower output of each image of the input that arrived as pixels, by image index: a view of
    /// device rows that stays valid while the caller holds it (for a cache to download).
    public var computedImages: [Int: Tensor]
    /// With ``ModelInput/downloadsComputedImages``, each computed image's rows on their way to the host, by
    /// image index (``Backend/downloadRowsLater(_:)``, started before the decoder was queued).
    public var computedImageDownloads: [Int: PendingHostRows] = [:]
    /// The keys and values of the prefixes the batch asked to capture, in order.
    public var capturedPrefixes: [PrefixKV] = []
}

extension Qwen25VLModel {
    /// The model's one entry point: runs the vision tower once over every image that arrived as pixels,
    /// uploads the precomputed ones, splices their rows into the batch and runs the decoder.
    public func score(_ input: ModelInput) throws -> ModelScores {
        var batch = input.batch
        batch.images = []
        let merge = dimensions.vision.mergeUnit
        var sources = [Int: Tensor]()
        var computed = [Int: Tensor]()
        var downloads = [Int: PendingHostRows]()

        let pixelImages = input.images.enumerated().compactMap { index, image -> (Int, PatchifySource)? in
            if case let .pixels(source) = image { return (index, source) }
            return nil
        }
        if !pixelImages.isEmpty {
            guard let layout = input.patchLayout else { throw ModelInputError.missingPatchLayout }
            let embedded = try imageEmbeddings(images: pixelImages.map(\.1), layout: layout)
            var row = 0
            for (index, source) in pixelImages {
                let rows = source.patchCount / merge
                let view = try embedded.rows(row..<(row + rows))
                sources[index] = view
                computed[index] = view
                if input.downloadsComputedImages { downloads[index] = try backend.downloadRowsLater(view) }
                row += rows
            }
        }
        let stored = input.images.enumerated().compactMap { index, image -> (Int, HostRows, Int)? in
            if case let .embeddings(values, rows) = image { return (index, values, rows) }
            return nil
        }
        if !stored.isEmpty {
            let total = stored.reduce(0) { $0 + $1.2 }
            let uploaded = try backend.upload(rows: stored.map(\.1), shape: [total, dimensions.vision.outHiddenSize])
            var row = 0
            for (index, _, rows) in stored {
                sources[index] = try uploaded.rows(row..<(row + rows))
                row += rows
            }
        }
        for (index, image) in input.images.enumerated() {
            if case let .device(tensor) = image { sources[index] = tensor }
        }
        for splice in input.splices {
            guard let source = sources[splice.image] else {
                throw ModelInputError.unknownImage(splice.image, count: input.images.count)
            }
            batch.images.append(
                ImageInsert(embeddings: try source.rows(splice.sourceRows), rows: splice.destinationRows))
        }
        let output = try forward(batch, prefixCopies: input.prefixCopies)
        return ModelScores(
            logits: output.logits, computedImages: computed, computedImageDownloads: downloads,
            capturedPrefixes: output.capturedPrefixes)
    }
}

/// A malformed ``ModelInput`` (a packing bug, never user input).
public enum ModelInputError: Error, CustomStringConvertible {
    case unknownImage(Int, count: Int)
    /// Images arrived as pixels without a ``ModelInput/patchLayout``.
    case missingPatchLayout
    /// The patch layout does not make the rows the vision tower reads.
    case patchLayoutMismatch(String)

    public var description: String {
        switch self {
        case let .unknownImage(index, count):
            return "a splice names image \(index) but the forward pass has \(count) images"
        case .missingPatchLayout:
            return "the forward pass has images given as pixels but no patch layout to cut them with"
        case let .patchLayoutMismatch(detail):
            return "the image patch layout does not fit the vision tower: \(detail)"
        }
    }
}
