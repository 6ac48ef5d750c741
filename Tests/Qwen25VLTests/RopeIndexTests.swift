import Qwen25VL
import TensorKit
import Testing

@Suite struct RopeIndexTests {
    @Test func fixturesPresent() {
        #expect(PositionFixtures.rope.count >= 10)
    }

    @Test(arguments: PositionFixtures.rope)
    func matchesTransformers(_ fixture: PositionFixtures.RopeCase) throws {
        let positions = try multimodalRopePositions(
            tokenIDs: fixture.inputIDs, imageGrids: PositionFixtures.grids(fixture.imageGridTHW))
        #expect(positions.temporal == fixture.positionIDs[0])
        #expect(positions.height == fixture.positionIDs[1])
        #expect(positions.width == fixture.positionIDs[2])
        #expect(positions.ropeDelta == fixture.ropeDelta)
        #expect(positions.flattened == fixture.positionIDs.flatMap { $0 })
    }

    @Test func specExample() throws {
        // text(3) + <vs> + 2x3 merged image + <ve> + text(1)
        let ids: [Int32] = [1, 2, 151652] + Array(repeating: 151655, count: 6) + [151653, 7]
        let p = try multimodalRopePositions(tokenIDs: ids, imageGrids: [VisionGrid(t: 1, h: 4, w: 6)])
        #expect(p.temporal == [0, 1, 2, 3, 3, 3, 3, 3, 3, 6, 7])
        #expect(p.height == [0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7])
        #expect(p.width == [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7])
        #expect(p.nextPosition == 8)
        #expect(p.ropeDelta == -3)
    }

    @Test func emptySequence() throws {
        let p = try multimodalRopePositions(tokenIDs: [], imageGrids: [])
        #expect(p.count == 0 && p.nextPosition == 0 && p.ropeDelta == 0)
    }

    @Test func tooFewGrids() {
        let ids: [Int32] = [151652, 151655, 151653]
        #expect(throws: PositionError.imageCountMismatch(blocksInTokens: 1, grids: 0)) {
            try multimodalRopePositions(tokenIDs: ids, imageGrids: [])
        }
        let message = PositionError.imageCountMismatch(blocksInTokens: 1, grids: 0).description
        #expect(message.contains("1 image block") && message.contains("0 image grid"))
    }

    @Test func padRunTooShort() {
        let ids: [Int32] = [9, 151652, 151655, 151655, 151653]
        let error = PositionError.imageTokenRunMismatch(index: 0, start: 2, expected: 4, found: 2)
        #expect(throws: error) {
            try multimodalRopePositions(tokenIDs: ids, imageGrids: [VisionGrid(t: 1, h: 4, w: 4)])
        }
        #expect(error.description.contains("should occupy 4 consecutive <|image_pad|> tokens from position 2"))
    }

    @Test func padRunTooLong() {
        let ids: [Int32] = [151652] + Array(repeating: 151655, count: 5) + [151653]
        #expect(throws: PositionError.imageTokenRunMismatch(index: 0, start: 1, expected: 4, found: 5)) {
            try multimodalRopePositions(tokenIDs: ids, imageGrids: [VisionGrid(t: 1, h: 4, w: 4)])
        }
    }

    @Test func videoRejected() {
        let ids: [Int32] = [3, 151652, 151656, 151653]
        #expect(throws: PositionError.videoNotSupported(position: 2)) {
            try multimodalRopePositions(tokenIDs: ids, imageGrids: [])
        }
        #expect(PositionError.videoNotSupported(position: 2).description.contains("only still images"))
    }

    @Test func oddGridRejected() {
        let ids: [Int32] = [151652, 151655, 151653]
        let grid = VisionGrid(t: 1, h: 3, w: 2)
        #expect(throws: PositionError.invalidGrid(grid, spatialMergeSize: 2)) {
            try multimodalRopePositions(tokenIDs: ids, imageGrids: [grid])
        }
        #expect(PositionError.invalidGrid(grid, spatialMergeSize: 2).description.contains("h=3"))
    }

    @Test func customTokenIDs() throws {
        let tokens = VisionTokenIDs(imagePad: 5, visionStart: 4, videoPad: 6)
        let p = try multimodalRopePositions(
            tokenIDs: [4, 5, 5, 7], imageGrids: [VisionGrid(t: 1, h: 2, w: 4)], tokens: tokens)
        #expect(p.temporal == [0, 1, 1, 3])
        #expect(p.width == [0, 1, 2, 3])
    }
}
