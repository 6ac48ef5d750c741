import Foundation
import ImageProcessing
import Reranker

/// The BENCHMARK.md workloads, built in memory and deterministic (fixed seeds), so that the transformers
/// reference can be fed the very same inputs (`bench --dump-inputs`).
public struct BenchWorkload: Sendable {
    public var id: String
    public var title: String
    public var query: RerankItem
    public var documents: [RerankItem]
    /// The images in order of appearance (query first), for dumping.
    public var images: [RGBImage]

    /// Every workload, in order.
    public static let ids = ["W1", "W2", "W3", "W4"]

    /// Keeps the first `count` documents (and only the images they and the query use).
    public mutating func limit(documents count: Int) {
        guard count < documents.count else { return }
        let queryImages = query.image == nil ? 0 : 1
        let documentImages = documents.prefix(count).filter { $0.image != nil }.count
        documents = Array(documents.prefix(count))
        images = Array(images.prefix(queryImages + documentImages))
    }

    /// W1 text->text, W2 text->image, W3 image->text, W4 mixed; nil for another id.
    public static func make(_ id: String) throws -> BenchWorkload? {
        var texts = SyntheticText(seed: UInt64(id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        switch id {
        case "W1":
            return BenchWorkload(
                id: id, title: "text->text: 32-token query, 100 texts of 256 tokens",
                query: RerankItem(text: texts.words(32)),
                documents: (0..<100).map { _ in RerankItem(text: texts.words(256)) }, images: [])
        case "W2":
            let images = try (0..<20).map { try SyntheticImage.make(seed: 200 + $0) }
            return BenchWorkload(
                id: id, title: "text->image: 32-token query, 20 images 768x512",
                query: RerankItem(text: texts.words(32)),
                documents: images.map { RerankItem(image: .decoded($0)) }, images: images)
        case "W3":
            let image = try SyntheticImage.make(seed: 300)
            return BenchWorkload(
                id: id, title: "image->text: one 768x512 image, 50 texts of 128 tokens",
                query: RerankItem(image: .decoded(image)),
                documents: (0..<50).map { _ in RerankItem(text: texts.words(128)) }, images: [image])
        case "W4":
            let queryImage = try SyntheticImage.make(seed: 400)
            let images = try (0..<10).map { try SyntheticImage.make(seed: 401 + $0) }
            return BenchWorkload(
                id: id, title: "mixed: image + 32 tokens, 10 x (image + 64 tokens)",
                query: RerankItem(text: texts.words(32), image: .decoded(queryImage)),
                documents: images.map { RerankItem(text: texts.words(64), image: .decoded($0)) },
                images: [queryImage] + images)
        default:
            return nil
        }
    }
}

/// Text of common English words, each one token in the Qwen2 vocabulary when preceded by a space,
/// so `words(n)` is n tokens long (the bench prints the real counts). Deterministic for a seed.
public struct SyntheticText {
    public static let vocabulary = [
        "time", "people", "water", "house", "world", "music", "river", "light", "city", "story", "market", "table",
        "garden", "school", "family", "paper", "power", "money", "night", "green", "small", "large", "early", "often",
        "bring", "write", "learn", "happy", "open", "stone", "train", "field", "north", "south", "plant", "glass",
        "heart", "color", "dance", "phone", "ocean", "bread", "sugar", "horse", "cloud", "paint", "price", "metal",
        "voice", "watch", "store", "court", "floor", "forest", "energy", "report", "season", "winter", "summer",
        "camera", "doctor", "window", "animal", "travel",
    ]
    private var state: UInt64

    public init(seed: UInt64) { state = seed | 1 }

    private mutating func next() -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int(state >> 33)
    }

    /// `count` words separated by spaces.
    public mutating func words(_ count: Int) -> String {
        (0..<count).map { _ in Self.vocabulary[next() % Self.vocabulary.count] }.joined(separator: " ")
    }
}

/// A 768x512 test picture: smooth colour gradients, a few rectangles and mild noise, from a seed.
public enum SyntheticImage {
    /// The picture of `seed` (the same pixels every time).
    public static func make(seed: Int, width: Int = 768, height: Int = 512) throws -> RGBImage {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        func random() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 40)
        }
        let tint = (random() % 256, random() % 256, random() % 256)
        let boxes = (0..<6).map { _ in
            (
                x: random() % width, y: random() % height, w: 40 + random() % 200, h: 40 + random() % 160,
                c: (random() % 256, random() % 256, random() % 256)
            )
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                var rgb = (
                    (x * 255 / width + tint.0) % 256, (y * 255 / height + tint.1) % 256, ((x + y) / 5 + tint.2) % 256
                )
                for box in boxes where x >= box.x && x < box.x + box.w && y >= box.y && y < box.y + box.h {
                    rgb = box.c
                }
                let noise = random() % 17 - 8
                let base = (y * width + x) * 3
                pixels[base] = UInt8(clamping: rgb.0 + noise)
                pixels[base + 1] = UInt8(clamping: rgb.1 + noise)
                pixels[base + 2] = UInt8(clamping: rgb.2 + noise)
            }
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }
}
