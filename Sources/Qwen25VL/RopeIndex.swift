import TensorKit

/// Multimodal RoPE position ids of one token sequence, as `Qwen2_5_VLModel.get_rope_index` computes them.
///
/// Each token has three position components (temporal, height, width). Text tokens get `(p, p, p)` with
/// `p` increasing by one per token; `<|vision_start|>` and `<|vision_end|>` are text. An image whose first
/// `<|image_pad|>` would sit at text position `s` gives its merged token at (row `r`, column `c`) the
/// position `(s, s + r, s + c)`, and the text after it resumes at `s + max(rows, cols)`.
public struct MRopePositions: Sendable, Equatable {
    /// Temporal component, one per token.
    public var temporal: [Int32]
    /// Height component, one per token.
    public var height: [Int32]
    /// Width component, one per token.
    public var width: [Int32]

    /// The position a token appended after the sequence would get (largest position + 1; 0 when empty).
    public var nextPosition: Int32
    /// `nextPosition - count`: what transformers returns as `rope_deltas` (0 for text only, negative with
    /// images, whose tokens share positions).
    public var ropeDelta: Int32 { nextPosition - Int32(temporal.count) }

    /// Number of tokens.
    public var count: Int { temporal.count }

    /// The three rows back to back (`[t..., h..., w...]`, shape 3 x n), the layout of transformers'
    /// `position_ids[:, 0, :]`.
    public var flattened: [Int32] { temporal + height + width }
}

/// Token ids the rope index needs to recognise image blocks.
public struct VisionTokenIDs: Sendable, Hashable {
    /// `<|image_pad|>`.
    public var imagePad: Int32
    /// `<|vision_start|>`.
    public var visionStart: Int32
    /// `<|video_pad|>` (only detected, to reject videos).
    public var videoPad: Int32

    /// Explicit ids.
    public init(imagePad: Int32, visionStart: Int32, videoPad: Int32) {
        self.imagePad = imagePad
        self.visionStart = visionStart
        self.videoPad = videoPad
    }

    /// The Qwen2 vocabulary's ids: 151655, 151652, 151656.
    public static let qwen2 = VisionTokenIDs(imagePad: 151655, visionStart: 151652, videoPad: 151656)
}

/// Computes the M-RoPE positions of one unpadded sequence holding still images (no video).
///
/// Matches `Qwen2_5_VLModel.get_rope_index` for a single sequence without attention mask: image blocks
/// are counted as `<|vision_start|>` directly followed by `<|image_pad|>`; the k-th image's tokens are the
/// `t * (h/m) * (w/m)` tokens starting at the first `<|image_pad|>` after the previous image. For images the
/// temporal component is constant (transformers multiplies the frame index by `second_per_grid_t = 0`).
/// Stricter than transformers: the number of image blocks must equal `imageGrids.count` and each image's
/// run of pad tokens must be exactly its merged token count, otherwise a `PositionError` is thrown.
///
/// - Parameters:
///   - tokenIDs: the sequence, image placeholders already expanded to their merged token counts.
///   - imageGrids: one grid per image, in the order the images appear.
///   - spatialMergeSize: patches merged per side (2).
///   - tokens: ids of the vision marker tokens.
public func multimodalRopePositions(
    tokenIDs: [Int32],
    imageGrids: [VisionGrid],
    spatialMergeSize: Int = 2,
    tokens: VisionTokenIDs = .qwen2
) throws(PositionError) -> MRopePositions {
    _ = try validatedPatchTotal(imageGrids, spatialMergeSize: spatialMergeSize)
    let n = tokenIDs.count
    var blocks = 0
    for i in 0..<max(0, n - 1) where tokenIDs[i] == tokens.visionStart {
        if tokenIDs[i + 1] == tokens.imagePad { blocks += 1 }
        if tokenIDs[i + 1] == tokens.videoPad { throw .videoNotSupported(position: i + 1) }
    }
    guard blocks == imageGrids.count else {
        throw .imageCountMismatch(blocksInTokens: blocks, grids: imageGrids.count)
    }

    var temporal = [Int32](), height = [Int32](), width = [Int32]()
    temporal.reserveCapacity(n)
    height.reserveCapacity(n)
    width.reserveCapacity(n)
    var next: Int32 = 0  // the position the next text token gets
    func appendText(_ length: Int) {
        for p in 0..<Int32(length) {
            temporal.append(next + p)
            height.append(next + p)
            width.append(next + p)
        }
        next += Int32(length)
    }

    var cursor = 0
    for (index, grid) in imageGrids.enumerated() {
        guard let start = tokenIDs[cursor...].firstIndex(of: tokens.imagePad) else {
            throw .imageTokenRunMismatch(index: index, start: n, expected: grid.mergedTokenCount(), found: 0)
        }
        let rows = grid.h / spatialMergeSize, cols = grid.w / spatialMergeSize
        let length = grid.t * rows * cols
        let run = tokenIDs[start...].prefix { $0 == tokens.imagePad }.count
        guard run == length else {
            throw .imageTokenRunMismatch(index: index, start: start, expected: length, found: run)
        }
        appendText(start - cursor)
        let s = next
        for _ in 0..<grid.t {
            for r in 0..<Int32(rows) {
                for c in 0..<Int32(cols) {
                    temporal.append(s)
                    height.append(s + r)
                    width.append(s + c)
                }
            }
        }
        next = s + Int32(max(rows, cols))
        cursor = start + length
    }
    appendText(n - cursor)
    return MRopePositions(temporal: temporal, height: height, width: width, nextPosition: next)
}
