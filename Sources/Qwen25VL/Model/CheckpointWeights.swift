import SafeTensors
import TensorKit

/// Weights read from a validated checkpoint: canonical names are mapped onto the stored layout by the
/// ``WeightCatalog`` and the memory-mapped bytes are handed to the backend without a host copy.
public final class CheckpointWeights: WeightSource, @unchecked Sendable {
    public let checkpoint: Checkpoint
    public let catalog: WeightCatalog
    /// How ``linearWeight(_:rowsEach:columns:on:)`` hands out the weights of linear layers.
    public let linearPrecision: LinearWeightPrecision

    /// Checks `checkpoint` against `configuration` (every missing, unexpected or misshapen tensor is
    /// reported in one error) and prepares the name map.
    public init(
        checkpoint: Checkpoint, configuration: Qwen25VLConfiguration, linearPrecision: LinearWeightPrecision = .bf16
    ) throws {
        self.checkpoint = checkpoint
        self.catalog = try WeightCatalog.validated(checkpoint, configuration: configuration)
        self.linearPrecision = linearPrecision
    }

    private func stored(_ name: WeightName) throws -> (name: String, info: TensorInfo) {
        guard let stored = catalog.storedName(canonical: name.canonical), let info = checkpoint.info(stored) else {
            throw WeightCheckError.problems([.missing(name: name.canonical, expectedShape: [])])
        }
        return (stored, info)
    }

    public func tensor(_ name: WeightName, on backend: any Backend) throws -> Tensor {
        let (storedName, info) = try stored(name)
        let bytes = try checkpoint.bytes(storedName)
        return try backend.weight(bytes, dtype: info.dtype.tensorKitDType, shape: info.shape, keepingAlive: checkpoint)
    }

    public func embeddingTable(_ name: WeightName, on backend: any Backend) throws -> Tensor {
        let (storedName, info) = try stored(name)
        let bytes = try checkpoint.bytes(storedName)
        return try backend.embeddingTable(
            bytes, dtype: info.dtype.tensorKitDType, shape: info.shape, keepingAlive: checkpoint)
    }

    public func stackedTensor(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend) throws
        -> Tensor
    {
        let stacked = try stackedBytes(names, rowsEach: rowsEach, columns: columns)
        return try stacked.bytes.withUnsafeBytes {
            try backend.weight($0, dtype: stacked.dtype, shape: stacked.shape, keepingAlive: nil)
        }
    }

    /// The bytes of `names` (all 2-D or all 1-D, one element type) stacked along their first axis, each
    /// part's rows zero-padded to `rowsEach` and each row to `columns` where given.
    func stackedBytes(_ names: [WeightName], rowsEach: Int?, columns: Int?) throws -> (
        bytes: [UInt8], dtype: DType, shape: [Int]
    ) {
        let parts = try names.map { name -> (name: String, info: TensorInfo) in
            let (storedName, info) = try stored(name)
            return (storedName, info)
        }
        guard let first = parts.first?.info, first.shape.count == 1 || first.shape.count == 2,
            parts.allSatisfy({ $0.info.dtype == first.dtype && $0.info.shape.count == first.shape.count })
        else {
            throw TensorError.shapeMismatch(
                op: "stackedTensor", detail: "\(names) must all be 2-D weights or all 1-D biases of one element type")
        }
        let width = first.shape.count == 2 ? first.shape[1] : 1
        guard parts.allSatisfy({ $0.info.shape.count == 1 || $0.info.shape[1] == width }),
            parts.allSatisfy({ $0.info.shape[0] <= (rowsEach ?? $0.info.shape[0]) }), width <= (columns ?? width)
        else {
            throw TensorError.shapeMismatch(
                op: "stackedTensor",
                detail:
                    "\(names) (\(parts.map(\.info.shape))) do not fit \(rowsEach.map { "\($0) rows each" } ?? "their rows") and \(columns.map { "\($0) columns" } ?? "their columns")"
            )
        }
        let element = first.dtype.byteSize
        let outWidth = first.shape.count == 2 ? (columns ?? width) : 1
        let totalRows = parts.reduce(0) { $0 + (rowsEach ?? $1.info.shape[0]) }
        var buffer = [UInt8](repeating: 0, count: totalRows * outWidth * element)
        try buffer.withUnsafeMutableBytes { target in
            var row = 0
            for part in parts {
                let bytes = try checkpoint.bytes(part.name)
                let rows = part.info.shape[0], rowBytes = width * element
                for r in 0..<rows {
                    let source = UnsafeRawBufferPointer(rebasing: bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
                    UnsafeMutableRawBufferPointer(rebasing: target[((row + r) * outWidth * element)...])
                        .copyMemory(from: source)
                }
                row += rowsEach ?? rows
            }
        }
        let shape = first.shape.count == 2 ? [totalRows, outWidth] : [totalRows]
        return (buffer, first.dtype.tensorKitDType, shape)
    }

    public func linearWeight(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend) throws
        -> Tensor
    {
        if try names.contains(where: { try stored($0).info.dtype == .f8e4m3 }) {
            return try eightBitStoredWeight(names, rowsEach: rowsEach, columns: columns, on: backend)
        }
        // One unpadded weight is read in place; stacked or padded ones are joined first.
        if names.count == 1, rowsEach == nil, columns == nil {
            let (storedName, info) = try stored(names[0])
            guard info.shape.count == 2 else {
                throw TensorError.shapeMismatch(
                    op: "linearWeight", detail: "\(names[0]) is \(info.shape), not a 2-D weight")
            }
            return try precisionWeight(
                checkpoint.bytes(storedName), dtype: info.dtype.tensorKitDType, shape: info.shape, owner: checkpoint,
                backend: backend)
        }
        let stacked = try stackedBytes(names, rowsEach: rowsEach, columns: columns)
        guard stacked.shape.count == 2 else {
            throw TensorError.shapeMismatch(op: "linearWeight", detail: "\(names) are not 2-D weights")
        }
        return try stacked.bytes.withUnsafeBytes {
            try precisionWeight($0, dtype: stacked.dtype, shape: stacked.shape, owner: nil, backend: backend)
        }
    }

    /// A linear weight of which some part is stored in 8 bits (an FP8 checkpoint). In ``LinearWeightPrecision/fp8``
    /// the 8-bit parts are used as stored, with their scales, and any wider part is quantized; in
    /// ``LinearWeightPrecision/bf16`` the 8-bit values are widened to bf16 (a wider part stacked with 8-bit ones,
    /// which no known checkpoint has, goes through the same 8-bit rounding). Parts are stacked (padding rows are zero
    /// with scale 1, padding columns zero) as ``stackedTensor(_:rowsEach:columns:on:)`` stacks them.
    private func eightBitStoredWeight(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend)
        throws
        -> Tensor
    {
        var parts = [RowQuantizedMatrix]()
        for name in names {
            let (storedName, info) = try stored(name)
            guard info.shape.count == 2 else {
                throw TensorError.shapeMismatch(
                    op: "linearWeight", detail: "\(name) is \(info.shape), not a 2-D weight")
            }
            let bytes = try checkpoint.bytes(storedName)
            if let scales = try rowScales(ofWeight: name.canonical) {
                parts.append(
                    RowQuantizedMatrix(
                        values: Array(bytes), scales: scales, rows: info.shape[0], columns: info.shape[1]))
            } else {
                parts.append(
                    try RowQuantizedMatrix(
                        quantizing: bytes, dtype: info.dtype.tensorKitDType, rows: info.shape[0], columns: info.shape[1]
                    ))
            }
        }
        guard let width = parts.first?.columns, parts.allSatisfy({ $0.columns == width }),
            parts.allSatisfy({ $0.rows <= (rowsEach ?? $0.rows) }), width <= (columns ?? width)
        else {
            throw TensorError.shapeMismatch(
                op: "linearWeight", detail: "\(names) (\(parts.map { [$0.rows, $0.columns] })) cannot be stacked")
        }
        let outWidth = columns ?? width
        var values = [UInt8](), scales = [Float]()
        for part in parts {
            let rows = rowsEach ?? part.rows
            values.reserveCapacity(values.count + rows * outWidth)
            for r in 0..<part.rows {
                values += part.values[(r * width)..<((r + 1) * width)]
                values += repeatElement(0, count: outWidth - width)
            }
            values += repeatElement(0, count: (rows - part.rows) * outWidth)
            scales += part.scales + repeatElement(1, count: rows - part.rows)
        }
        let matrix = RowQuantizedMatrix(values: values, scales: scales, rows: scales.count, columns: outWidth)
        let shape = [matrix.rows, matrix.columns]
        switch linearPrecision {
        case .fp8:
            return try matrix.values.withUnsafeBytes {
                try backend.scaledWeight($0, rowScales: matrix.scales, shape: shape)
            }
        case .bf16:
            return try matrix.bf16Bits().withUnsafeBytes {
                try backend.weight($0, dtype: .bf16, shape: shape, keepingAlive: nil)
            }
        }
    }

    /// A weight of ``linearPrecision`` from bytes of `dtype` (kept valid by `owner`; nil: copy them).
    private func precisionWeight(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], owner: AnyObject?, backend: any Backend
    ) throws -> Tensor {
        switch linearPrecision {
        case .bf16:
            return try backend.weight(bytes, dtype: dtype, shape: shape, keepingAlive: owner)
        case .fp8:
            let matrix = try RowQuantizedMatrix(quantizing: bytes, dtype: dtype, rows: shape[0], columns: shape[1])
            return try matrix.values.withUnsafeBytes {
                try backend.scaledWeight($0, rowScales: matrix.scales, shape: shape)
            }
        }
    }

    public func hostRows(_ name: WeightName, rows: [Int]) throws -> [[Float]] {
        let (storedName, info) = try stored(name)
        guard info.shape.count == 2 else {
            throw WeightCheckError.problems([.missing(name: name.canonical, expectedShape: [])])
        }
        let width = info.shape[1], rowBytes = width * info.dtype.byteSize
        let bytes = try checkpoint.bytes(storedName)
        return try rows.map { row in
            guard row >= 0, row < info.shape[0] else {
                throw TensorError.indexOutOfRange(op: "output head row", index: row, limit: info.shape[0])
            }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[(row * rowBytes)..<((row + 1) * rowBytes)])
            return FloatConversion.floats(slice, dtype: info.dtype)
        }
    }
}

extension TensorDType {
    /// The engine's element type for a checkpoint element type.
    var tensorKitDType: DType {
        switch self {
        case .bf16: .bf16
        case .f16: .f16
        case .f32: .f32
        case .f8e4m3: .f8e4m3
        }
    }
}

extension ModelDimensions {
    /// The sizes a configuration describes.
    public init(configuration c: Qwen25VLConfiguration) {
        let t = c.text, v = c.vision
        self.init(
            text: Text(
                hiddenSize: t.hiddenSize, layerCount: t.numHiddenLayers, headCount: t.numAttentionHeads,
                kvHeadCount: t.keyValueHeads, intermediateSize: t.intermediateSize,
                rmsNormEps: Float(t.rmsNormEpsilon), ropeTheta: t.ropeBase, mropeSection: t.mropeSections ?? []),
            vision: Vision(
                depth: v.depth, hiddenSize: v.hiddenSize, headCount: v.numHeads,
                intermediateSize: v.intermediateSize, outHiddenSize: v.outHiddenSize, patchSize: v.patchSize,
                temporalPatchSize: v.temporalPatchSize, spatialMergeSize: v.spatialMergeSize,
                windowSize: v.windowSize, fullAttentionBlocks: Set(v.fullattBlockIndexes), inChannels: v.inChannels),
            tiedEmbeddings: c.tieWordEmbeddings)
    }
}
