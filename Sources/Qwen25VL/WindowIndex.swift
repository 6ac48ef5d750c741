import TensorKit

/// How the vision tower groups patches for attention: the window permutation and the two sets of
/// cumulative sequence lengths (window blocks and full-attention blocks).
///
/// Mirrors `Qwen2_5_VisionTransformerPretrainedModel.get_window_index` and the `cu_seqlens` computed in its
/// `forward`. Indices are in merged tokens (one unit = `spatialMergeSize^2` consecutive patches);
/// cumulative lengths are in patches.
public struct VisionWindowLayout: Sendable, Equatable {
    /// `windowIndex[j]` is the merged token (in processor order, all images concatenated) placed at slot `j`
    /// of the window order. Windows tile each frame's merged grid row-major, tokens row-major inside a window.
    public var windowIndex: [Int32]
    /// Inverse permutation (`argsort(windowIndex)`): `reverseIndex[k]` is the slot of merged token `k`;
    /// gathering rows with it undoes the window order after the merger.
    public var reverseIndex: [Int32]
    /// Boundaries of the attention windows in window order, in patches, starting with 0, strictly
    /// increasing (transformers' `torch.unique_consecutive` of the window boundaries).
    public var cuWindowSeqlens: [Int32]
    /// Boundaries of full attention: one sequence per frame of each image, in patches, starting with 0.
    public var cuSeqlens: [Int32]

    /// Number of merged tokens (and of window-order slots).
    public var mergedTokenCount: Int { windowIndex.count }
}

/// Computes the window layout of the given images.
///
/// - Parameters:
///   - grids: image grids in patches, in the order the patch matrix concatenates them.
///   - windowSize: window side in pixels (`vision_config.window_size`, 112).
///   - patchSize: patch side in pixels (14).
///   - spatialMergeSize: patches merged per side (2); windows are `windowSize / patchSize / merge` merged
///     tokens per side (4).
public func visionWindowLayout(
    grids: [VisionGrid],
    windowSize: Int = 112,
    patchSize: Int = 14,
    spatialMergeSize: Int = 2
) throws(PositionError) -> VisionWindowLayout {
    _ = try validatedPatchTotal(grids, spatialMergeSize: spatialMergeSize)
    guard patchSize > 0 else { throw .invalidParameter("patch size \(patchSize)") }
    let side = windowSize / spatialMergeSize / patchSize  // Python floor division of positives
    guard side > 0 else {
        throw .invalidParameter("window size \(windowSize) is smaller than one merged token")
    }
    let unit = Int32(spatialMergeSize * spatialMergeSize)

    var windowIndex = [Int32]()
    var cuWindow: [Int32] = [0]
    var cuFull: [Int32] = [0]
    var base: Int32 = 0  // merged tokens of the previous images
    for grid in grids {
        let rows = grid.h / spatialMergeSize, cols = grid.w / spatialMergeSize
        let frameTokens = Int32(rows * cols)
        for frame in 0..<grid.t {
            let frameBase = base + Int32(frame) * frameTokens
            for windowRow in stride(from: 0, to: rows, by: side) {
                for windowCol in stride(from: 0, to: cols, by: side) {
                    let rowEnd = min(windowRow + side, rows), colEnd = min(windowCol + side, cols)
                    for r in windowRow..<rowEnd {
                        for c in windowCol..<colEnd {
                            windowIndex.append(frameBase + Int32(r * cols + c))
                        }
                    }
                    // Empty padding windows are never produced, so no duplicate boundaries arise.
                    let windowTokens = Int32((rowEnd - windowRow) * (colEnd - windowCol))
                    cuWindow.append(cuWindow[cuWindow.count - 1] + windowTokens * unit)
                }
            }
            cuFull.append(cuFull[cuFull.count - 1] + frameTokens * unit)
        }
        base += Int32(grid.t) * frameTokens
    }

    var reverseIndex = [Int32](repeating: 0, count: windowIndex.count)
    for (slot, token) in windowIndex.enumerated() { reverseIndex[Int(token)] = Int32(slot) }
    return VisionWindowLayout(
        windowIndex: windowIndex, reverseIndex: reverseIndex, cuWindowSeqlens: cuWindow, cuSeqlens: cuFull)
}
