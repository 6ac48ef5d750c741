import SafeTensors

extension CheckpointWeights {
    /// Whether the checkpoint stores any weight the model uses in 8 bits (an FP8 checkpoint).
    public var storesFP8Weights: Bool {
        catalog.expected.contains { checkpoint.info($0.storedName)?.dtype == .f8e4m3 }
    }

    /// The scales of linear weight `canonical` (legacy spelling, e.g. `model.layers.0.self_attn.q_proj.weight`)
    /// when the checkpoint stores it in 8 bits: one fp32 scale per output row, so that row `r` is
    /// `scales[r] * e4m3(row r)`; a per-tensor scale is repeated for every row. Nil when the weight is stored
    /// in 16 or 32 bits.
    ///
    /// Throws when the model has no such weight, or its scale is missing, malformed (the catalog reports both
    /// when the weights are opened) or holds a NaN, infinite, zero or negative value.
    public func rowScales(ofWeight canonical: String) throws -> [Float]? {
        guard let storedName = catalog.storedName(canonical: canonical), let info = checkpoint.info(storedName) else {
            throw WeightCheckError.problems([.missing(name: canonical, expectedShape: [])])
        }
        guard info.dtype == .f8e4m3 else { return nil }
        let rows = info.shape.first ?? 1
        let scaleName = WeightCatalog.scaleName(ofWeight: storedName)
        guard let scale = checkpoint.info(scaleName) else {
            throw WeightCheckError.problems([.scaleMissing(weight: storedName, scale: scaleName)])
        }
        guard WeightCatalog.scaleDTypes.contains(scale.dtype) else {
            throw WeightCheckError.problems([.scaleWrongDType(name: scaleName, dtype: scale.dtype.safetensorsName)])
        }
        guard let granularity = ScaleGranularity(scaleShape: scale.shape, rows: rows) else {
            throw WeightCheckError.problems([.scaleWrongShape(name: scaleName, rows: rows, actual: scale.shape)])
        }
        let values = try checkpoint.floats(scaleName)
        let invalid = values.reduce(0) { $0 + ($1.isFinite && $1 > 0 ? 0 : 1) }
        guard invalid == 0 else {
            throw WeightCheckError.problems([.scaleValuesInvalid(name: scaleName, count: invalid)])
        }
        switch granularity {
        case .perChannel: return values
        case .perTensor: return [Float](repeating: values.first ?? 1, count: rows)
        }
    }
}
