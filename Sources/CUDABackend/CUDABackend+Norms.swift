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
        if vectorized, let kernel = Self.warpRowNormKernel(width: width) {
            let rowsPerBlock = 8
            try kernels.launch(
                kernel, grid: ((rows + rowsPerBlock - 1) / rowsPerBlock, 1, 1), block: (32 * rowsPerBlock, 1, 1),
                pointers.map { .pointer($0) } + [.int32(Int32(rows)), .int32(Int32(width)), .float(eps)])
        } else {
            try kernels.launch(
                vectorized ? "rms_norm_v8" : "rms_norm", grid: (rows, 1, 1), block: (vectorized ? 128 : 256, 1, 1),
                pointers.map { .pointer($0) } + [.int32(Int32(width)), .float(eps)])
        }
        try finish("rmsNorm")
        return out
    }

    /// The one-warp-a-row norm for vector rows of `width` elements, when a warp's registers hold the row:
    /// up to 8 (2048 elements: the vision tower's 1280) or 16 vectors a lane (4096: the decoder's 3584).
    static func warpRowNormKernel(width: Int) -> String? {
        if width <= 8 * 8 * 32 { return "rms_norm_warp8_v8" }
        if width <= 16 * 8 * 32 { return "rms_norm_warp16_v8" }
        return nil
    }

    /// Whether rows of `width` bf16 elements at these addresses can be read 16 bytes (8 values) at a time.
    static func allowsVectors(width: Int, _ pointers: [CUdeviceptr]) -> Bool {
        width % 8 == 0 && pointers.allSatisfy { $0 % 16 == 0 }
    }
}
