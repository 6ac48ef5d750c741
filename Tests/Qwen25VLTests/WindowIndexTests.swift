import Qwen25VL
import TensorKit
import Testing

@Suite struct WindowIndexTests {
    @Test func fixturesPresent() {
        #expect(PositionFixtures.windows.count >= 8)
    }

    @Test(arguments: PositionFixtures.windows)
    func matchesTransformers(_ fixture: PositionFixtures.WindowCase) throws {
        let layout = try visionWindowLayout(grids: PositionFixtures.grids(fixture.gridTHW))
        #expect(layout.windowIndex == fixture.windowIndex)
        #expect(layout.reverseIndex == fixture.reverseIndex)
        #expect(layout.cuWindowSeqlens == fixture.cuWindowSeqlens)
        #expect(layout.cuSeqlens == fixture.cuSeqlens)
    }

    @Test(arguments: PositionFixtures.windows)
    func patchPositionsMatchRotPosEmb(_ fixture: PositionFixtures.WindowCase) throws {
        let grids = PositionFixtures.grids(fixture.gridTHW)
        let positions = try visionPatchPositions(grids: grids)
        #expect(positions.rows == fixture.patchRows)
        #expect(positions.cols == fixture.patchCols)
        #expect(positions.maxGridSide == grids.map { max($0.h, $0.w) }.max())
    }

    @Test func reverseUndoesWindowOrder() throws {
        let layout = try visionWindowLayout(grids: [VisionGrid(t: 1, h: 22, w: 14), VisionGrid(t: 1, h: 2, w: 4)])
        for k in 0..<layout.mergedTokenCount {
            #expect(layout.windowIndex[Int(layout.reverseIndex[k])] == Int32(k))
        }
    }

    @Test func smallWindowParameters() throws {
        // 56 px windows -> 2x2 merged tokens per window on a 2x3 merged grid.
        let layout = try visionWindowLayout(grids: [VisionGrid(t: 1, h: 4, w: 6)], windowSize: 56)
        #expect(layout.windowIndex == [0, 1, 3, 4, 2, 5])
        #expect(layout.cuWindowSeqlens == [0, 16, 24])
    }

    @Test func noImages() throws {
        let layout = try visionWindowLayout(grids: [])
        #expect(layout.windowIndex.isEmpty && layout.cuWindowSeqlens == [0] && layout.cuSeqlens == [0])
    }

    @Test func windowSmallerThanMergedTokenRejected() {
        #expect(throws: PositionError.invalidParameter("window size 20 is smaller than one merged token")) {
            try visionWindowLayout(grids: [VisionGrid(t: 1, h: 2, w: 2)], windowSize: 20)
        }
        #expect(PositionError.invalidParameter("x").description.contains("vision_config"))
    }

    @Test func badGridsRejected() {
        for grid in [
            VisionGrid(t: 0, h: 2, w: 2), VisionGrid(t: 1, h: 0, w: 2), VisionGrid(t: 1, h: 2, w: 5),
            VisionGrid(t: 1, h: -2, w: 2),
        ] {
            #expect(throws: PositionError.invalidGrid(grid, spatialMergeSize: 2)) {
                try visionWindowLayout(grids: [grid])
            }
            #expect(throws: PositionError.invalidGrid(grid, spatialMergeSize: 2)) {
                try visionPatchPositions(grids: [grid])
            }
        }
    }

    @Test func hugeGridRejected() {
        let grid = VisionGrid(t: 1, h: 1 << 16, w: 1 << 16)
        #expect(throws: PositionError.tooManyPatches(1 << 32)) { try visionWindowLayout(grids: [grid]) }
        #expect(PositionError.tooManyPatches(1 << 32).description.contains("fewer or smaller images"))
    }
}
