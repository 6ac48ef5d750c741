import CPUBackend
import TensorKit

/// The CPU backend with hooks, for tests that need a backend that misbehaves in one way: every op is the CPU
/// backend's, except that `add` may be replaced and `attention` may run a check first (which throws to fail it).
public struct HookedCPUBackend: Backend {
    public let base = CPUBackend()
    public let name: String
    let add: (@Sendable (Tensor, Tensor, CPUBackend) throws -> Tensor)?
    let beforeAttention: (@Sendable () throws -> Void)?

    /// - Parameters:
    ///   - add: computes `add` instead of the CPU backend (which it is given).
    ///   - beforeAttention: runs before every `attention`; an error it throws is the op's.
    public init(
        name: String = "hooked CPU", add: (@Sendable (Tensor, Tensor, CPUBackend) throws -> Tensor)? = nil,
        beforeAttention: (@Sendable () throws -> Void)? = nil
    ) {
        self.name = name
        self.add = add
        self.beforeAttention = beforeAttention
    }

    public var activationDType: DType { base.activationDType }
    public func upload(concatenating parts: [[Float]], shape: [Int]) throws -> Tensor {
        try base.upload(concatenating: parts, shape: shape)
    }
    public func upload(rows parts: [HostRows], shape: [Int]) throws -> Tensor {
        try base.upload(rows: parts, shape: shape)
    }
    public func concatenateRows(_ parts: [Tensor]) throws -> Tensor { try base.concatenateRows(parts) }
    public func download(_ tensor: Tensor) throws -> [Float] { try base.download(tensor) }
    public func downloadRows(_ tensor: Tensor) throws -> HostRows { try base.downloadRows(tensor) }
    public func weight(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?)
        throws -> Tensor
    {
        try base.weight(bytes, dtype: dtype, shape: shape, keepingAlive: owner)
    }
    public func scaledWeight(_ values: UnsafeRawBufferPointer, rowScales: [Float], shape: [Int]) throws -> Tensor {
        try base.scaledWeight(values, rowScales: rowScales, shape: shape)
    }
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try base.linear(x, weight: weight, bias: bias)
    }
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) throws -> Tensor {
        try base.linear(x, weight: weight, bias: bias, adding: residual)
    }
    public func linear(
        rowChunks: [Range<Int>], of rows: (Range<Int>) throws -> Tensor, weight: Tensor, bias: Tensor?,
        adding residual: Tensor
    ) throws -> Tensor {
        try base.linear(rowChunks: rowChunks, of: rows, weight: weight, bias: bias, adding: residual)
    }
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        try base.rmsNorm(x, weight: weight, eps: eps)
    }
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try add.map { try $0(a, b, base) } ?? base.add(a, b)
    }
    public func siluMul(gate: Tensor, up: Tensor) throws -> Tensor { try base.siluMul(gate: gate, up: up) }
    public func siluMul(gateUp: Tensor) throws -> Tensor { try base.siluMul(gateUp: gateUp) }
    public func gelu(_ x: Tensor) throws -> Tensor { try base.gelu(x) }
    public func applyRope(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor {
        try base.applyRope(x, cos: cos, sin: sin)
    }
    public func splitRope(_ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor) throws
        -> (query: Tensor, key: Tensor, value: Tensor)
    {
        try base.splitRope(qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
    }
    public func gatherRows(_ x: Tensor, indices: [Int32]) throws -> Tensor { try base.gatherRows(x, indices: indices) }
    public func scatterRows(_ rows: Tensor, into destination: Tensor, at indices: [Int32]) throws {
        try base.scatterRows(rows, into: destination, at: indices)
    }
    public func embedding(_ table: Tensor, ids: [Int32]) throws -> Tensor { try base.embedding(table, ids: ids) }
    public func attention(
        query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32], prefixes: [Range<Int32>], causal: Bool,
        scale: Float
    ) throws -> Tensor {
        try beforeAttention?()
        return try base.attention(
            query: query, key: key, value: value, cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, scale: scale
        )
    }
}
