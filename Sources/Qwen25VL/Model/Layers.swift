import TensorKit

/// `x W^T + b`, the weight kept in the checkpoint's element type.
struct Linear {
    let weight: Tensor
    let bias: Tensor?

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.linear(x, weight: weight, bias: bias)
    }
}

/// The SwiGLU MLP shared by the decoder and the vision blocks: `down(silu(gate(x)) * up(x))`.
struct GatedMLP {
    let gate, up, down: Linear

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try down(try backend.siluMul(gate: try gate(x, backend), up: try up(x, backend)), backend)
    }
}
