import Foundation
import Qwen25VL
import TestSupport
import Testing

@Suite("preprocessor_config.json: both styles, Lychee defaults, validation")
struct ConfigurationPreprocessorTests {
    static func load(_ name: String) throws -> PreprocessorConfiguration {
        let url = Fixtures.url("models/configs/\(name)")
        return try PreprocessorConfiguration(jsonData: Data(contentsOf: url), file: name)
    }

    @Test func minMaxPixelsStyle() throws {
        let config = try Self.load("preprocessor-min-max-pixels.json")
        #expect(config.minPixels == 3136 && config.maxPixels == 12_845_056)
        #expect(config.patchSize == 14 && config.mergeSize == 2 && config.temporalPatchSize == 2 && config.factor == 28)
        #expect(config.imageMean == [0.48145466, 0.4578275, 0.40821073])
    }

    @Test func sizeStyle() throws {
        let config = try Self.load("preprocessor-size.json")
        #expect(config.minPixels == 3136 && config.maxPixels == 1_003_520)
    }

    @Test func minMaxPixelsWinOverSize() throws {
        let json = #"{"min_pixels": 100, "max_pixels": 200, "size": {"shortest_edge": 1, "longest_edge": 2}}"#
        let config = try PreprocessorConfiguration(jsonData: Data(json.utf8))
        #expect(config.minPixels == 100 && config.maxPixels == 200)
    }

    @Test func absentFieldsTakeLycheeDefaults() throws {
        let config = try PreprocessorConfiguration(jsonData: Data("{}".utf8))
        #expect(config == .lychee)
        #expect(config.minPixels == 4 * 28 * 28 && config.maxPixels == 1280 * 28 * 28)
        #expect(
            try PreprocessorConfiguration.load(directory: Fixtures.temporaryDirectory("no-preprocessor")) == .lychee)
    }

    @Test func inconsistentValuesAreListed() {
        let json = #"{"min_pixels": 500, "max_pixels": 100, "image_std": [0.2, 0, 0.2], "image_mean": [0.5]}"#
        #expect(
            throws: ConfigurationError.invalid(
                file: "p.json",
                problems: [
                    "min_pixels 500 is larger than max_pixels 100",
                    "image_mean has 1 values; it needs one per RGB channel",
                    "image_std must hold three positive values, found [0.2, 0.0, 0.2]",
                ])
        ) {
            try PreprocessorConfiguration(jsonData: Data(json.utf8), file: "p.json")
        }
    }

    @Test func wrongTypeNamesTheField() {
        #expect(
            throws: ConfigurationError.wrongType(file: "p.json", field: "size.longest_edge", expected: "an integer")
        ) {
            try PreprocessorConfiguration(jsonData: Data(#"{"size": {"longest_edge": "x"}}"#.utf8), file: "p.json")
        }
    }

    @Test func mismatchWithTheVisionTower() {
        var config = PreprocessorConfiguration.lychee
        config.patchSize = 16
        #expect(
            config.mismatches(with: .defaults) == [
                "preprocessor patch_size 16 differs from vision_config.patch_size 14"
            ])
        #expect(PreprocessorConfiguration.lychee.mismatches(with: .defaults).isEmpty)
    }
}
