import CPUBackend
import Foundation
import TensorKit
import Testing

@testable import BackendConformance

@Suite("Op self-test harness")
struct OpSelfTestTests {
    @Test("the CPU backend against itself passes every check")
    func cpuAgainstItself() throws {
        var test = OpSelfTest(device: CPUBackend(), reference: CPUBackend(), seed: 7)
        let checks = try test.run(scale: .small)
        #expect(checks.count >= 15)
        #expect(checks.filter { !$0.passed }.isEmpty)
    }

    @Test("a backend with a wrong op fails that op, and only that op")
    func detectsWrongOp() throws {
        var test = OpSelfTest(device: SkewedAddBackend(), reference: CPUBackend(), seed: 11)
        let failed = try test.run(scale: .small).filter { !$0.passed }
        #expect(failed.map(\.op) == ["add"])
    }

    @Test("NaN never passes")
    func nanFails() {
        let check = OpSelfTest.Check(op: "x", shape: "", maxAbsError: .nan, relativeError: .nan, tolerance: 1)
        #expect(!check.passed)
    }
}

/// The CPU backend with `add` off by 5%: the harness must notice.
struct SkewedAddBackend: Backend {
    let base = CPUBackend()
    var name: String { "skewed" }
    var activationDType: DType { base.activationDType }
    func upload(concatenating parts: [[Float]], shape: [Int]) throws -> Tensor {
        try base.upload(concatenating: parts, shape: shape)
    }
    func concatenateRows(_ parts: [Tensor]) throws -> Tensor { try base.concatenateRows(parts) }
    func download(_ tensor: Tensor) throws -> [Float] { try base.download(tensor) }
    func weight(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?) throws
        -> Tensor
    {
        try base.weight(bytes, dtype: dtype, shape: shape, keepingAlive: owner)
    }
    func scaledWeight(_ values: UnsafeRawBufferPointer, rowScales: [Float], shape: [Int]) throws -> Tensor {
        try base.scaledWeight(values, rowScales: rowScales, shape: shape)
    }
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try base.linear(x, weight: weight, bias: bias)
    }
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) throws -> Tensor {
        try base.linear(x, weight: weight, bias: bias, adding: residual)
    }
    func linear(
        rowChunks: [Range<Int>], of rows: (Range<Int>) throws -> Tensor, weight: Tensor, bias: Tensor?,
        adding residual: Tensor
    ) throws -> Tensor {
        try base.linear(rowChunks: rowChunks, of: rows, weight: weight, bias: bias, adding: residual)
    }
    func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        try base.rmsNorm(x, weight: weight, eps: eps)
    }
    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let sum = try base.download(try base.add(a, b)).map { $0 * 1.05 }
        return try base.upload(sum, shape: a.shape)
    }
    func siluMul(gate: Tensor, up: Tensor) throws -> Tensor { try base.siluMul(gate: gate, up: up) }
    func gelu(_ x: Tensor) throws -> Tensor { try base.gelu(x) }
    func applyRope(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor { try base.applyRope(x, cos: cos, sin: sin) }
    func gatherRows(_ x: Tensor, indices: [Int32]) throws -> Tensor { try base.gatherRows(x, indices: indices) }
    func scatterRows(_ rows: Tensor, into destination: Tensor, at indices: [Int32]) throws {
        try base.scatterRows(rows, into: destination, at: indices)
    }
    func embedding(_ table: Tensor, ids: [Int32]) throws -> Tensor { try base.embedding(table, ids: ids) }
    func siluMul(gateUp: Tensor) throws -> Tensor { try base.siluMul(gateUp: gateUp) }
    func splitRope(_ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor) throws
        -> (query: Tensor, key: Tensor, value: Tensor)
    {
        try base.splitRope(qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
    }
    func attention(
        query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32], prefixes: [Range<Int32>], causal: Bool,
        scale: Float
    ) throws -> Tensor {
        try base.attention(
            query: query, key: key, value: value, cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, scale: scale
        )
    }
}
