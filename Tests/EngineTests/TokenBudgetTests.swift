import Foundation
import Qwen25VL
import Reranker
import TestSupport
import Testing

@Suite("GPU token budget")
struct TokenBudgetTests {
    static func dimensions() throws -> ModelDimensions {
        let directory = Fixtures.url("checkpoints/tiny-untied-legacy")
        return ModelDimensions(
            configuration: try Qwen25VLConfiguration(contentsOf: directory.appendingPathComponent("config.json")))
    }

    @Test("the fixed activation memory is the larger MLP chunk of the decoder and the vision tower")
    func fixedBytesTakeTheLargerChunk() throws {
        let dims = try Self.dimensions()
        let textBytes = 64 * 3 * dims.text.intermediateSize * 2
        let visionBytes = 64 * 3 * dims.vision.intermediateSize * 2
        #expect(TokenBudget.fixedActivationBytes(dims, chunks: MLPRowChunks(text: 64, vision: 0), elementBytes: 2) == textBytes)
        #expect(TokenBudget.fixedActivationBytes(dims, chunks: MLPRowChunks(text: 0, vision: 64), elementBytes: 2) == visionBytes)
        let both = MLPRowChunks(text: 64, vision: 64)
        #expect(TokenBudget.fixedActivationBytes(dims, chunks: both, elementBytes: 2) == max(textBytes, visionBytes))
        // A vision chunk bigger than the decoder's leaves less room for tokens.
        let wideVision = MLPRowChunks(text: 64, vision: 64 * 100)
        let available = visionBytes * 100 + 1000 * TokenBudget.activationBytesPerToken(dims, elementBytes: 2)
        #expect(TokenBudget.gpu(availableBytes: available, dims: dims, chunks: wideVision)
            < TokenBudget.gpu(availableBytes: available, dims: dims, chunks: both))
    }

    @Test("the standard chunks keep the 7B's vision chunk within the decoder chunk's memory")
    func standardChunksFitTheSevenB() {
        // The 7B: decoder MLP 18944 wide, vision MLP 3420 wide.
        let text = MLPRowChunks.standard.text * 3 * 18944, vision = MLPRowChunks.standard.vision * 3 * 3420
        #expect(vision <= text)
        let eightBitText = MLPRowChunks.eightBit.text * 3 * 18944, eightBitVision = MLPRowChunks.eightBit.vision * 3 * 3420
        #expect(eightBitVision <= eightBitText)
    }
}
