import TensorKit

/// Where the model gets its weights.
///
/// Names are canonical: the legacy Qwen2.5-VL layout (`model.layers.3.self_attn.q_proj.weight`,
/// `visual.blocks.0.attn.qkv.bias`, `lm_head.weight`). An implementation maps them onto the layout the
/// checkpoint actually uses and hands out backend tensors without copying where it can.
public protocol WeightSource {
    /// The weight named `name` as a tensor of `backend`, in the checkpoint's element type.
    func tensor(_ name: String, on backend: any Backend) throws -> Tensor
    /// Rows `rows` of the 2-D weight `name`, as host floats (used for the yes/no rows of the output head).
    func hostRows(_ name: String, rows: [Int]) throws -> [[Float]]
    /// The token embedding table `name`, made with ``Backend/embeddingTable(_:dtype:shape:keepingAlive:)``
    /// so that a GPU backend can leave it in host memory.
    func embeddingTable(_ name: String, on backend: any Backend) throws -> Tensor
}

extension WeightSource {
    /// By default the table is an ordinary weight.
    public func embeddingTable(_ name: String, on backend: any Backend) throws -> Tensor {
        try tensor(name, on: backend)
    }
}
