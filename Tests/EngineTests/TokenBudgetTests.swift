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
        func fixed(_ chunks: MLPRowChunks) -> Int {
            TokenBudget.fixedActivationBytes(dims, chunks: chunks, elementBytes: 2)
        }
        #expect(fixed(MLPRowChunks(text: 64, vision: 0)) == textBytes)
        #expect(fixed(MLPRowChunks(text: 0, vision: 64)) == visionBytes)
        let both = MLPRowChunks(text: 64, vision: 64)
        #expect(TokenBudget.fixedActivationBytes(dims, chunks: both, elementBytes: 2) == max(textBytes, visionBytes))
        // A vision chunk bigger than the decoder's leaves less room for tokens.
        let wideVision = MLPRowChunks(text: 64, vision: 64 * 100)
        let available = visionBytes * 100 + 1000 * TokenBudget.activationBytesPerToken(dims, elementBytes: 2)
        #expect(
            TokenBudget.gpu(availableBytes: available, dims: dims, chunks: wideVision)
                < TokenBudget.gpu(availableBytes: available, dims: dims, chunks: both))
    }

    @Test("the memory a budget leaves spare is what its passes do not need, and what planned the budget is not")
    func spareBytesAfterTheBudget() throws {
        let dims = try Self.dimensions()
        let chunks = MLPRowChunks(text: 64, vision: 64)
        let perToken = TokenBudget.activationBytesPerToken(dims, elementBytes: 2)
        let fixed = TokenBudget.fixedActivationBytes(dims, chunks: chunks, elementBytes: 2)
        let extra = perToken / 2
        let available = fixed + 1000 * perToken + extra
        #expect(TokenBudget.spareBytes(availableBytes: available, dims: dims, chunks: chunks, budget: 1000) == extra)
        #expect(TokenBudget.spareBytes(availableBytes: available, dims: dims, chunks: chunks, budget: 1001) < 0)
        // The budget planned from the same room leaves less than a token's worth.
        let budget = TokenBudget.gpu(availableBytes: available, dims: dims, chunks: chunks)
        #expect(budget == 1000)
        let spare = TokenBudget.spareBytes(availableBytes: available, dims: dims, chunks: chunks, budget: budget)
        #expect(spare >= 0 && spare < perToken)
    }

    @Test("the standard chunks keep the 7B's vision chunk within the decoder chunk's memory")
    func standardChunksFitTheSevenB() {
        // The 7B: decoder MLP 18944 wide, vision MLP 3420 wide.
        let text = MLPRowChunks.standard.text * 3 * 18944, vision = MLPRowChunks.standard.vision * 3 * 3420
        #expect(vision <= text)
        let eightBitText = MLPRowChunks.eightBit.text * 3 * 18944
        let eightBitVision = MLPRowChunks.eightBit.vision * 3 * 3420
        #expect(eightBitVision <= eightBitText)
    }

    @Test(
        "with room for passes at the latency cap, the MLP chunks grow (2048 -> 6144 or 4096, 8-bit 4096 -> 8192; the vision chunk doubles where it fits too); without, they stay"
    )
    func largerChunksOnlyWhereTheyCostNoTokens() throws {
        let dims = try Self.dimensions()
        let perToken = TokenBudget.activationBytesPerToken(dims, elementBytes: 2)
        // Decoder chunks alone (no vision chunk to hide their memory behind).
        let standard = MLPRowChunks(text: 2048, vision: 0), larger = MLPRowChunks(text: 4096, vision: 0)
        // Room for 4096 rows at the latency cap, not for 6144.
        let ample =
            TokenBudget.fixedActivationBytes(dims, chunks: larger, elementBytes: 2)
            + perToken * TokenBudget.gpuLatencyCap
        let roomy = TokenBudget.gpuPlan(availableBytes: ample, dims: dims, chunks: standard)
        #expect(roomy.budget == TokenBudget.gpuLatencyCap && roomy.chunks == larger)
        // With room for three times the rows, three times (6144: W3's decoder rows in one chunk).
        let largest = MLPRowChunks(text: 6144, vision: 0)
        let ampler = TokenBudget.fixedActivationBytes(dims, chunks: largest, elementBytes: 2) + perToken * 20_000
        let roomier = TokenBudget.gpuPlan(availableBytes: ampler, dims: dims, chunks: standard)
        #expect(roomier.budget == TokenBudget.gpuLatencyCap && roomier.chunks == largest)
        let tight = TokenBudget.fixedActivationBytes(dims, chunks: standard, elementBytes: 2) + perToken * 5000
        let plan = TokenBudget.gpuPlan(availableBytes: tight, dims: dims, chunks: standard)
        #expect(plan.budget == TokenBudget.gpu(availableBytes: tight, dims: dims, chunks: standard))
        #expect(plan.budget == 5000 && plan.chunks == standard)
        // 8-bit weights start from 4096 rows and go to 8192 with the room for it (three times would pass the
        // 8192-row cap, even with room for it).
        let eightBit = MLPRowChunks(text: MLPRowChunks.eightBit.text, vision: 0)
        let eightBitLarger = MLPRowChunks(text: 8192, vision: 0)
        let eightBitRoom =
            TokenBudget.fixedActivationBytes(dims, chunks: eightBitLarger, elementBytes: 2) + perToken * 20_000
        #expect(
            TokenBudget.gpuPlan(availableBytes: eightBitRoom, dims: dims, chunks: eightBit).chunks == eightBitLarger)
        let eightBitAmple =
            TokenBudget.fixedActivationBytes(dims, chunks: MLPRowChunks(text: 12288, vision: 0), elementBytes: 2)
            + perToken * 20_000
        #expect(
            TokenBudget.gpuPlan(availableBytes: eightBitAmple, dims: dims, chunks: eightBit).chunks == eightBitLarger)
        let eightBitTight = TokenBudget.fixedActivationBytes(dims, chunks: eightBit, elementBytes: 2) + perToken * 5000
        #expect(TokenBudget.gpuPlan(availableBytes: eightBitTight, dims: dims, chunks: eightBit).chunks == eightBit)
        // The standard chunks with room for both doubled at the latency cap: the vision chunk doubles too, and the
        // decoder's triples where the doubled vision chunk's memory covers that (this fixture's narrow decoder),
        // else doubles.
        let both = MLPRowChunks.standard
        let bothDoubled = MLPRowChunks(text: both.text * 2, vision: both.vision * 2)
        let bothRoom =
            TokenBudget.fixedActivationBytes(dims, chunks: bothDoubled, elementBytes: 2)
            + perToken * TokenBudget.gpuLatencyCap
        let bothPlan = TokenBudget.gpuPlan(availableBytes: bothRoom, dims: dims, chunks: both).chunks
        let tripledFree =
            TokenBudget.fixedActivationBytes(
                dims, chunks: MLPRowChunks(text: both.text * 3, vision: both.vision * 2), elementBytes: 2)
            <= TokenBudget.fixedActivationBytes(dims, chunks: bothDoubled, elementBytes: 2)
        #expect(bothPlan == MLPRowChunks(text: both.text * (tripledFree ? 3 : 2), vision: both.vision * 2))
        // A vision chunk whose memory covers the doubled decoder chunk makes the doubling free, even when tight.
        let visionRows = 128 * dims.text.intermediateSize / dims.vision.intermediateSize + 1
        let covered = MLPRowChunks(text: 64, vision: visionRows)
        let coveredTight = TokenBudget.fixedActivationBytes(dims, chunks: covered, elementBytes: 2) + perToken * 5000
        #expect(
            TokenBudget.gpuPlan(availableBytes: coveredTight, dims: dims, chunks: covered).chunks
                == MLPRowChunks(text: 128, vision: visionRows))
    }

    @Test("a model with other MLP row chunks shares the weights and scores the same")
    func modelWithOtherChunks() throws {
        let reranker = try EmbedAheadTests.load()
        let model = reranker.model
        #expect(model.withMLPRowChunks(model.mlpRowChunks) === model)
        let other = model.withMLPRowChunks(MLPRowChunks(text: 5, vision: 16))
        #expect(other.mlpRowChunks == MLPRowChunks(text: 5, vision: 16))
        let query = RerankItem(text: "a question")
        let documents = ["one answer", "another answer"].map { RerankItem(text: $0) }
        let first = try reranker.score(query: query, documents: documents)
        let second = try reranker.replica(on: other).score(query: query, documents: documents)
        for (a, b) in zip(first, second) { #expect(abs(a.logit - b.logit) < 1e-4) }
    }
}
