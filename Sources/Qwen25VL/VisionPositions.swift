import TensorKit

/// 2D rotary position of every vision patch, in the order the patch matrix is laid out.
///
/// The image processor orders patches by 2 x 2 merge blocks: (block row, block column, row in block, column
/// in block), frame after frame. `rows[i]`, `cols[i]` are the patch row and column of patch `i` in that order,
/// as `Qwen2_5_VisionTransformerPretrainedModel.rot_pos_emb` computes them (before the window permutation).
public struct VisionPatchPositions: Sendable, Equatable {
    /// Patch row of each patch.
    public var rows: [Int32]
    /// Patch column of each patch.
    public var cols: [Int32]
    /// Largest side (in patches) over all images: the rotary table needs positions `0..<maxGridSide`.
    public var maxGridSide: Int

    /// Number of patches.
    public var count: Int { rows.count }
}

/// Computes the vision RoPE positions for the patches of the given images, concatenated in order.
public func visionPatchPositions(
    grids: [VisionGrid],
    spatialMergeSize: Int = 2
) throws(PositionError) -> VisionPatchPositions {
    let total = try validatedPatchTotal(grids, spatialMergeSize: spatialMergeSize)
    let m = spatialMergeSize
    var rows = [Int32](), cols = [Int32]()
    rows.reserveCapacity(total)
    cols.reserveCapacity(total)
    var maxSide = 0
    for grid in grids {
        maxSide = max(maxSide, grid.h, grid.w)
        for _ in 0..<grid.t {
            for blockRow in 0..<(grid.h / m) {
                for blockCol in 0..<(grid.w / m) {
                    for subRow in 0..<m {
                        for subCol in 0..<m {
                            rows.append(Int32(blockRow * m + subRow))
                            cols.append(Int32(blockCol * m + subCol))
                        }
                    }
                }
            }
        }
    }
    return VisionPatchPositions(rows: rows, cols: cols, maxGridSide: maxSide)
}
