import COpenBLAS
import TensorKit

extension CPUBackend {
    /// `x W^T + b` through `cblas_sgemm`.
    ///
    /// Work is split into blocks of output columns (weight rows), and when there are fewer blocks than
    /// threads also into blocks of x rows. A worker converts its block of weight rows to fp32 in a
    /// scratch panel (skipped for fp32 weights), then multiplies: `y[rows, block] = x[rows] panel^T`.
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let sizes = try OpChecks.linear(x, weight: weight, bias: bias)
        let input = try floats(x, op: "linear", argument: "x")
        let weights = try hostBytes(weight, op: "linear")
        let biasValues = try bias.map { try floatVector($0, op: "linear") }
        let rowScales = try weight.rowScales.map { try scaleValues($0, op: "linear") }
        let (output, result) = try makeFloatTensor(shape: sizes.outputShape)
        let (m, n, k) = (sizes.rows, sizes.outFeatures, sizes.inFeatures)
        guard m > 0, n > 0 else { return output }

        let panelRows = weight.dtype == .f32 ? max(linearPanelRows, (n + threads - 1) / threads) : linearPanelRows
        let columnBlocks = (n + panelRows - 1) / panelRows
        let wantedRowBlocks = columnBlocks >= threads ? 1 : min(m, (threads + columnBlocks - 1) / columnBlocks)
        let rowBlockSize = (m + wantedRowBlocks - 1) / wantedRowBlocks
        // Only blocks that start inside the rows: with many threads, wanted blocks of the rounded-up size can
        // run past m (18 rows over 16 threads: blocks of 2, the last ones starting at rows 18..30).
        let rowBlocks = (m + rowBlockSize - 1) / rowBlockSize
        let dtype = weight.dtype
        let elementSize = dtype.byteSize

        let panelFloats = dtype == .f32 ? 0 : panelRows * k
        parallel.forEachItem(count: columnBlocks * rowBlocks, scratchFloats: panelFloats) { item, panel in
            let columns = (item / rowBlocks * panelRows)..<min(item / rowBlocks * panelRows + panelRows, n)
            let rowStart = item % rowBlocks * rowBlockSize
            let rows = rowStart..<min(rowStart + rowBlockSize, m)
            guard !rows.isEmpty else { return }
            let block = weights + columns.lowerBound * k * elementSize
            let b: UnsafePointer<Float>
            if let rowScales {
                convertScaledRows(
                    block, scales: rowScales + columns.lowerBound, rows: columns.count, columns: k, into: panel)
                b = UnsafePointer(panel)
            } else if dtype != .f32 {
                convertToFloat(block, dtype: dtype, into: panel, count: columns.count * k)
                b = UnsafePointer(panel)
            } else {
                b = block.assumingMemoryBound(to: Float.self)
            }
            let c = result + rows.lowerBound * n + columns.lowerBound
            var beta: Float = 0
            if let biasValues {
                for row in 0..<rows.count {
                    for column in 0..<columns.count { c[row * n + column] = biasValues[columns.lowerBound + column] }
                }
                beta = 1
            }
            if k == 0 {
                if beta == 0 {
                    for row in 0..<rows.count { (c + row * n).initialize(repeating: 0, count: columns.count) }
                }
                return
            }
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans,
                Int32(rows.count), Int32(columns.count), Int32(k),
                1, input + rows.lowerBound * k, Int32(k),
                b, Int32(k),
                beta, c, Int32(n))
        }
        return output
    }
}
