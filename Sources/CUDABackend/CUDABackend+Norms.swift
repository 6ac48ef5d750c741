import CCUDA
import TensorKit

extension CUDABackend {
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        let width = try OpChecks.rmsNorm(x, weight: weight)
        try enter()
        let out = try makeTensor(shape: x.shape)
        let rows = width == 0 ? 0 : x.elementCount / width
        guard rows > 0 else { return out }
        let pointers = [
            try address(x, op: "rmsNorm", argument: "x"), try address(weight, op: "rmsNorm", argument: "weight"),
            try address(out, op: "rmsNorm", argument: "output"),
        ]
        let vectorized = Self.allowsVectors(width: width, pointers)
        try kernels.launch(
            vectorized ? "rms_norm_v8" : "rms_norm", grid: (rows, 1, 1), block: (vectorized ? 128 : 256, 1, 1),
            pointers.map { .pointer($0) } + [.int32(Int32(width)), .float(eps)])
        try finish("rmsNorm")
        return out
    }

    /// Whether rows of `width` bf16 elements at these addresses can be read 16 bytes (8 values) at a time.
    static func allowsVectors(width: Int, _ pointers: [CUdeviceptr]) -> Bool {
        width % 8 == 0 && pointers.allSatisfy { $0 % 16 == 0 }
    }
}
