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
        let t = (0..<40).map { Int32(3 + $0 / 2) }, h = (0..<40).map { Int32(3 + $0 % 7) }, w = (0..<40).map { Int32(5 + $0 % 3) }
        let decoder = try RotaryTables.multimodal(
            temporal: t, height: h, width: w, headDim: 16, theta: 1_000_000, mropeSection: [2, 3, 3])
        let decoderTables = try backend.rotaryTables(
            RotaryTables.multimodalPlan(temporal: t, height: h, width: w, headDim: 16, theta: 1_000_000, mropeSection: [2, 3, 3]))
        #expect(decoderTables.cos.shape == [40, 16] && decoderTables.sin.shape == [40, 16])
        #expect(try backend.download(decoderTables.cos) == decoder.cos)
        #expect(try backend.download(decoderTables.sin) == decoder.sin)

        let rows = (0..<36).map { Int32($0 / 6) }, cols = (0..<36).map { Int32($0 % 6) }
        let vision = try RotaryTables.vision(rows: rows, cols: cols, headDim: 80, theta: 10_000)
        let visionTables = try backend.rotaryTables(RotaryTables.visionPlan(rows: rows, cols: cols, headDim: 80, theta: 10_000))
        #expect(visionTables.cos.shape == [36, 80])
        #expect(try backend.download(visionTables.cos) == vision.cos)
        #expect(try backend.download(visionTables.sin) == vision.sin)
    }
}
