import Foundation
import RegularFiles

/// A Codable copy of the image part of `preprocessor_config.json` (Qwen2-VL image processor).
///
/// Pixel limits come from `min_pixels`/`max_pixels` (older files) or `size.shortest_edge` /
/// `size.longest_edge` (newer files); as in transformers, `min_pixels`/`max_pixels` win when both
/// appear. Anything absent takes the Lychee-Rerank-MM defaults (`PreprocessorConfiguration.lychee`).
public struct PreprocessorConfiguration: Codable, Sendable, Equatable {
    public var minPixels: Int
    public var maxPixels: Int
    public var patchSize: Int
    public var mergeSize: Int
    public var temporalPatchSize: Int
    public var imageMean: [Double]
    public var imageStd: [Double]

    /// The conventional file name.
    public static let fileName = "preprocessor_config.json"

    /// Lychee's processor: 4x28x28 to 1280x28x28 pixels, CLIP mean/std (SPEC section 4).
    public static let lychee = PreprocessorConfiguration(
        minPixels: 4 * 28 * 28, maxPixels: 1280 * 28 * 28, patchSize: 14, mergeSize: 2, temporalPatchSize: 2,
        imageMean: [0.48145466, 0.4578275, 0.40821073], imageStd: [0.26862954, 0.26130258, 0.27577711])

    /// The largest `max_pixels` the resize rule accepts (`smartResize` refuses every image above it).
    public static let largestPixelLimit = 1 << 40

    /// The resize granularity in pixels (`patch_size * merge_size`, 28).
    public var factor: Int { patchSize * mergeSize }

    enum CodingKeys: String, CodingKey {
        case minPixels = "min_pixels"
        case maxPixels = "max_pixels"
        case patchSize = "patch_size"
        case mergeSize = "merge_size"
        case temporalPatchSize = "temporal_patch_size"
        case imageMean = "image_mean"
        case imageStd = "image_std"
    }

    private enum SizeKeys: String, CodingKey {
        case size
        case shortestEdge = "shortest_edge"
        case longestEdge = "longest_edge"
    }

    /// Creates a configuration with every field given.
    public init(
        minPixels: Int, maxPixels: Int, patchSize: Int, mergeSize: Int, temporalPatchSize: Int,
        imageMean: [Double], imageStd: [Double]
    ) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
        self.patchSize = patchSize
        self.mergeSize = mergeSize
        self.temporalPatchSize = temporalPatchSize
        self.imageMean = imageMean
        self.imageStd = imageStd
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let outer = try decoder.container(keyedBy: SizeKeys.self)
        let size = try outer.contains(.size) ? outer.nestedContainer(keyedBy: SizeKeys.self, forKey: .size) : nil
        let d = Self.lychee
        minPixels =
            try c.decodeIfPresent(Int.self, forKey: .minPixels)
            ?? size?.decodeIfPresent(Int.self, forKey: .shortestEdge) ?? d.minPixels
        maxPixels =
            try c.decodeIfPresent(Int.self, forKey: .maxPixels)
            ?? size?.decodeIfPresent(Int.self, forKey: .longestEdge) ?? d.maxPixels
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        mergeSize = try c.decodeIfPresent(Int.self, forKey: .mergeSize) ?? d.mergeSize
        temporalPatchSize = try c.decodeIfPresent(Int.self, forKey: .temporalPatchSize) ?? d.temporalPatchSize
        imageMean = try c.decodeIfPresent([Double].self, forKey: .imageMean) ?? d.imageMean
        imageStd = try c.decodeIfPresent([Double].self, forKey: .imageStd) ?? d.imageStd
    }

    /// Decodes and validates file contents; `file` names the source in messages.
    public init(jsonData: Data, file: String = fileName) throws(ConfigurationError) {
        do {
            self = try JSONDecoder().decode(Self.self, from: jsonData)
        } catch {
            throw ConfigurationError.from(error, file: file)
        }
        let problems = problems()
        guard problems.isEmpty else { throw .invalid(file: file, problems: problems) }
    }

    /// Reads `preprocessor_config.json` from a model directory; Lychee defaults when the file is absent.
    public static func load(directory: URL) throws(ConfigurationError) -> PreprocessorConfiguration {
        let file = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return .lychee }
        let data: Data
        do { data = try RegularFile.contents(of: file) } catch {
            throw .cannotRead(file: file.path, reason: error.reason)
        }
        return try PreprocessorConfiguration(jsonData: data, file: file.path)
    }

    /// Every inconsistency, as sentences.
    public func problems() -> [String] {
        var problems: [String] = []
        for (name, value) in [
            ("min_pixels", minPixels), ("max_pixels", maxPixels), ("patch_size", patchSize),
            ("merge_size", mergeSize), ("temporal_patch_size", temporalPatchSize),
        ] where value <= 0 {
            problems.append("\(name) is \(value); it must be positive")
        }
        if minPixels > maxPixels { problems.append("min_pixels \(minPixels) is larger than max_pixels \(maxPixels)") }
        if maxPixels > Self.largestPixelLimit {
            problems.append("max_pixels \(maxPixels) is beyond any image the resize rule accepts (at most 2^40)")
        }
        if imageMean.count != 3 {
            problems.append("image_mean has \(imageMean.count) values; it needs one per RGB channel")
        }
        if imageStd.count != 3 || imageStd.contains(where: { !($0 > 0) }) {
            problems.append("image_std must hold three positive values, found \(imageStd)")
        }
        return problems
    }

    /// Disagreements with the model's vision tower (patch, merge and temporal sizes must match).
    public func mismatches(with vision: VisionConfiguration) -> [String] {
        var problems: [String] = []
        if patchSize != vision.patchSize {
            problems.append(
                "preprocessor patch_size \(patchSize) differs from vision_config.patch_size \(vision.patchSize)")
        }
        if mergeSize != vision.spatialMergeSize {
            problems.append(
                "preprocessor merge_size \(mergeSize) differs from vision_config.spatial_merge_size \(vision.spatialMergeSize)"
            )
        }
        if temporalPatchSize != vision.temporalPatchSize {
            problems.append(
                "preprocessor temporal_patch_size \(temporalPatchSize) differs from vision_config.temporal_patch_size \(vision.temporalPatchSize)"
            )
        }
        return problems
    }
}
