import CPUBackend
import Qwen25VL
import TensorKit
import Testing

/// The model's row-wise plumbing on the CPU backend (the reference every GPU op is checked against).
@Suite("Model row ops on the CPU backend")
struct ModelRowOpsTests {
    @Test("the backend's rotary tables (the default: expanded on the host, uploaded) equal RotaryTables'")
    func backendRotaryTables() throws {
        let backend = CPUBackend(threads: 2)
        let t = (0..<40).map { Int32(3 + $0 / 2) }, h = (0..<40).map { Int32(3 + $0 % 7) },
            w = (0..<40).map { Int32(5 + $0 % 3) }
        let decoder = try RotaryTables.multimodal(
            temporal: t, height: h, width: w, headDim: 16, theta: 1_000_000, mropeSection: [2, 3, 3])
        let decoderTables = try backend.rotaryTables(
            RotaryTables.multimodalPlan(
                temporal: t, height: h, width: w, headDim: 16, theta: 1_000_000, mropeSection: [2, 3, 3]))
        #expect(decoderTables.cos.shape == [40, 16] && decoderTables.sin.shape == [40, 16])
        #expect(try backend.download(decoderTables.cos) == decoder.cos)
        #expect(try backend.download(decoderTables.sin) == decoder.sin)

        let rows = (0..<36).map { Int32($0 / 6) }, cols = (0..<36).map { Int32($0 % 6) }
        let vision = try RotaryTables.vision(rows: rows, cols: cols, headDim: 80, theta: 10_000)
        let visionTables = try backend.rotaryTables(
            RotaryTables.visionPlan(rows: rows, cols: cols, headDim: 80, theta: 10_000))
        #expect(visionTables.cos.shape == [36, 80])
        #expect(try backend.download(visionTables.cos) == vision.cos)
        #expect(try backend.download(visionTables.sin) == vision.sin)
    }

    /// OpenBLAS may round a row's product differently for another number of rows, so chunked and unchunked
    /// runs agree to float rounding, not to the bit (a chunk out of place would be off by far more).
    @Test("MLPs in small row chunks give the vision embeddings and scores of unchunked ones", arguments: [false, true])
    func mlpRowChunks(fused: Bool) throws {
        let golden = try GoldenModelOutputs.load("tiny-untied-legacy")
        let backend = CPUBackend(prefersFusedWeights: fused)
        let (whole, configuration) = try loadFixtureModel(
            "tiny-untied-legacy", golden: golden, backend: backend,
            mlpRowChunks: MLPRowChunks(text: 1 << 20, vision: 1 << 20))
        let (chunked, _) = try loadFixtureModel(
            "tiny-untied-legacy", golden: golden, backend: backend, mlpRowChunks: MLPRowChunks(text: 3, vision: 8))
        for pair in golden.pairs {
            let a = try forwardGoldenPair(pair, model: whole, configuration: configuration)
            let b = try forwardGoldenPair(pair, model: chunked, configuration: configuration)
            #expect(maxRelativeError(b.logits, a.logits) < 1e-5, "\(pair.name)")
            #expect(maxRelativeError(b.lastHidden, a.lastHidden) < 1e-5, "\(pair.name)")
            guard !pair.image_grid_thw.isEmpty else { continue }
            let (pixels, _, grids) = try preprocessedImages(of: pair)
            let embeddings = (
                try backend.download(whole.imageEmbeddings(pixelValues: pixels, grids: grids)),
                try backend.download(chunked.imageEmbeddings(pixelValues: pixels, grids: grids))
            )
            #expect(embeddings.0.count == embeddings.1.count)
            #expect(maxRelativeError(embeddings.1, embeddings.0) < 1e-5, "\(pair.name)")
        }
    }
}
