import TensorKit

/// Where the model gets its weights.
///
/// Names are typed (``WeightName``: `.decoder(layer: 3, .qProj, .weight)`), whatever the checkpoint's
/// spelling; an implementation maps them onto the layout the checkpoint actually uses and hands out backend
/// tensors without copying where it can.
public protocol WeightSource {
    /// The weight named `name` as a tensor of `backend`, in the checkpoint's element type.
    func tensor(_ name: WeightName, on backend: any Backend) throws -> Tensor
    /// Rows `rows` of the 2-D weight `name`, as host floats (used for the yes/no rows of the output head).
    func hostRows(_ name: WeightName, rows: [Int]) throws -> [[Float]]
    /// The token embedding table `name`, made with ``Backend/embeddingTable(_:dtype:shape:keepingAlive:)``
    /// so that a GPU backend can leave it in host memory.
    func embeddingTable(_ name: WeightName, on backend: any Backend) throws -> Tensor
    /// The weights `names` (all 2-D `[rows, columns]`, or all 1-D biases) stacked along their first axis
    /// as one tensor of `backend`: each part's rows zero-padded to `rowsEach` and each row zero-padded to
    /// `columns` where given. Builds the fused `[q|k|v]` and `[gate|up]` weights and the padded vision MLP.
    func stackedTensor(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend) throws -> Tensor

    /// The weight of a linear layer: the 2-D weights `names` stacked as ``stackedTensor(_:rowsEach:columns:on:)``
    /// does, in the precision the source was asked for (``LinearWeightPrecision``): as stored, or 8-bit
    /// with a scale per row (``Backend/scaledWeight(_:rowScales:shape:)``).
    func linearWeight(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend) throws -> Tensor
}

/// How the weights of linear layers are kept on the backend.
public enum LinearWeightPrecision: String, Sendable, CaseIterable {
    /// bf16 (or the checkpoint's 16/32-bit type); an 8-bit checkpoint is widened to bf16 at load.
    case bf16
    /// 8-bit E4M3 with one fp32 scale per output channel: quantized at load from a wider checkpoint
    /// (`scale = max|row| / 448`), or taken as stored from an FP8 checkpoint.
    case fp8
}

extension WeightSource {
    /// One linear layer's weight.
    public func linearWeight(_ name: WeightName, on backend: any Backend) throws -> Tensor {
        try linearWeight([name], rowsEach: nil, columns: nil, on: backend)
    }

    /// By default the table is an ordinary weight.
    public func embeddingTable(_ name: WeightName, on backend: any Backend) throws -> Tensor {
        try tensor(name, on: backend)
    }
}
