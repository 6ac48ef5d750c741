import CUDABackend
import Foundation
import TensorKit

/// Runs every backend op on one backend and on a reference backend over the same random inputs of
/// realistic shapes, and reports how far apart the results are (ggml's test-backend-ops, for us).
///
/// Inputs are drawn fresh on every run and rounded to bf16 first, so both backends see identical
/// values whatever their activation type. Errors: max |device - reference|, and the relative error
/// ||device - reference|| / ||reference|| (METHOD.md: bf16 operands land between 1e-3 and 1e-2).
/// Pure data movement (gathers, scatters, embeddings, patchify in bf16) must match exactly. NaN never passes.
public struct OpSelfTest {
    /// One checked op.
    public struct Check: Sendable, CustomStringConvertible {
        public var op: String
        public var shape: String
        public var maxAbsError: Float
        public var relativeError: Float
        public var tolerance: Float
        public var passed: Bool { relativeError.isFinite && maxAbsError.isFinite && relativeError <= tolerance }

        public var description: String {
            let status = passed ? "PASS" : "FAIL"
            return op.padding(toLength: 14, withPad: " ", startingAt: 0)
                + shape.padding(toLength: 44, withPad: " ", startingAt: 0)
                + String(format: "%11.3e %11.3e %9.1e  ", maxAbsError, relativeError, tolerance) + status
        }

        /// The column titles matching ``description``.
        public static let header =
            "op".padding(toLength: 14, withPad: " ", startingAt: 0)
            + "shape".padding(toLength: 44, withPad: " ", startingAt: 0)
            + String(format: "%11@ %11@ %9@  ", "max abs err", "rel err", "tolerance") + "result"
    }

    public let device: any Backend
    public let reference: any Backend
    /// Tolerance on the relative error for ops with bf16 rounding.
    public var tolerance: Float = 1e-2
    /// The seed of this run's inputs (pass it back to reproduce a failure).
    public let seed: UInt64
    private var generator: SeededGenerator

    /// - Parameter seed: nil draws a fresh seed from the system generator.
    public init(device: any Backend, reference: any Backend, seed: UInt64? = nil) {
        self.device = device
        self.reference = reference
        self.seed = seed ?? UInt64.random(in: 1...UInt64.max)
        self.generator = SeededGenerator(seed: self.seed)
    }

    /// Problem sizes: the 7B decoder and vision tower's own widths, with token counts cut so the CPU
    /// reference finishes in seconds; `small` shrinks them further for unit tests.
    public enum Scale: Sendable { case realistic, small }

    /// Runs every check; `progress` sees each result as it comes.
    public mutating func run(scale: Scale = .realistic, progress: ((Check) -> Void)? = nil) throws -> [Check] {
        let s = scale == .realistic
        var checks = [Check]()
        func record(_ check: Check) { checks.append(check); progress?(check) }
        let hidden = s ? 3584 : 96, vision = s ? 1280 : 64, inter = s ? 18944 : 160, visInter = s ? 3420 : 120
        record(try checkLinear(rows: s ? 300 : 17, inFeatures: hidden, outFeatures: s ? 4608 : 40, bias: true))
        record(try checkLinear(rows: s ? 300 : 17, inFeatures: visInter, outFeatures: vision, bias: true))
        record(try checkLinear(rows: s ? 129 : 9, inFeatures: inter, outFeatures: hidden, bias: false))
        record(try checkLinear(rows: 7, inFeatures: hidden, outFeatures: 1, bias: false))
        // 8-bit weights: on FP8 tensor cores where the device has them, then always the widening path.
        for tensorCores in [true, false] {
            record(
                try checkScaledLinear(
                    rows: s ? 300 : 17, inFeatures: hidden, outFeatures: s ? 4608 : 48, bias: true,
                    tensorCores: tensorCores))
            record(
                try checkScaledLinear(
                    rows: s ? 129 : 9, inFeatures: s ? 18944 : 160, outFeatures: hidden, bias: false,
                    tensorCores: tensorCores, residual: true))
            record(
                try checkScaledLinear(
                    rows: s ? 301 : 9, inFeatures: vision, outFeatures: vision, bias: true, tensorCores: tensorCores,
                    residual: true))
            record(
                try checkScaledLinear(
                    rows: s ? 517 : 13, inFeatures: vision, outFeatures: s ? 3840 : 192, bias: true,
                    tensorCores: tensorCores))
            record(
                try checkScaledLinear(
                    rows: 3, inFeatures: s ? 1176 : 24, outFeatures: s ? 1280 : 40, bias: false,
                    tensorCores: tensorCores))
        }
        // Odd sizes: widened.
        record(try checkScaledLinear(rows: 5, inFeatures: 20, outFeatures: 7, bias: true, tensorCores: true))
        record(try checkSiluMulIntoScaledLinear(rows: s ? 300 : 11, width: s ? 18944 : 160, outFeatures: hidden))
        record(try checkSiluMulIntoScaledLinear(rows: s ? 517 : 9, width: s ? 3424 : 48, outFeatures: vision))
        record(try checkRMSNormIntoScaledLinear(rows: s ? 517 : 13, width: hidden, outFeatures: s ? 4608 : 48))
        record(try checkRMSNormIntoScaledLinear(rows: s ? 301 : 9, width: vision, outFeatures: s ? 3840 : 192))
        // Row counts that are not a multiple of the warp kernels' 4 rows per block; rows wider than their
        // registers hold (8192) run on the block kernels.
        record(try checkRMSNorm(rows: s ? 517 : 13, width: hidden))
        record(try checkRMSNorm(rows: s ? 301 : 13, width: vision))
        record(try checkRMSNorm(rows: s ? 37 : 5, width: s ? 1002 : 42))  // not a multiple of 8: scalar kernel
        record(try checkRMSNorm(rows: s ? 29 : 3, width: s ? 1000 : 40))  // a warp's last vectors partly idle
        record(try checkRMSNorm(rows: s ? 67 : 5, width: 8192))
        // The residual connection inside the product (cuBLASLt's C matrix), whole and in row chunks as the MLP
        // runs it; odd widths take the fallback product and a separate add.
        record(try checkLinearAdding(chunks: s ? [517] : [13], inFeatures: hidden, outFeatures: hidden, bias: false))
        record(
            try checkLinearAdding(
                chunks: s ? [683, 683, 682] : [5, 5, 4], inFeatures: inter, outFeatures: hidden, bias: false))
        record(
            try checkLinearAdding(
                chunks: s ? [1025, 1] : [7, 1], inFeatures: visInter, outFeatures: vision, bias: true))
        record(try checkLinearAdding(chunks: [5, 3], inFeatures: 20, outFeatures: 7, bias: true))
        record(try checkBinary("add", rows: s ? 1000 : 11, width: hidden) { try $0.add($1, $2) })
        record(try checkBinary("siluMul", rows: s ? 300 : 11, width: inter) { try $0.siluMul(gate: $1, up: $2) })
        record(try checkGateUp(rows: s ? 300 : 11, width: s ? 3424 : 40))
        record(try checkGateUp(rows: s ? 100 : 5, width: s ? 3420 : 30))  // not a multiple of 8: scalar kernel
        record(try checkSplitRope(tokens: s ? 300 : 9, heads: s ? 28 : 4, kvHeads: s ? 4 : 2, headDim: 128))
        record(try checkSplitRope(tokens: s ? 256 : 9, heads: s ? 16 : 2, kvHeads: s ? 16 : 2, headDim: 80))
        // Half not a multiple of 8: scalar.
        record(try checkSplitRope(tokens: s ? 50 : 5, heads: 4, kvHeads: 2, headDim: 36))
        record(try checkGELU(rows: s ? 243 : 7, width: s ? 5120 : 256))
        record(try checkRotaryTables(tokens: s ? 3001 : 19, headDim: 128, vision: false))
        record(try checkRotaryTables(tokens: s ? 7997 : 33, headDim: 80, vision: true))
        record(try checkRope(tokens: s ? 300 : 9, heads: s ? 28 : 4, headDim: 128))
        record(try checkRope(tokens: s ? 256 : 9, heads: s ? 16 : 2, headDim: 80))
        record(try checkGather(rows: s ? 500 : 20, width: vision, count: s ? 700 : 30))
        record(try checkScatter(rows: s ? 486 : 6, width: hidden, destinationRows: s ? 1000 : 15))
        record(try checkUploadParts(sizes: s ? [1944 * 1176, 7, 1944 * 1176 * 2] : [11, 3, 40]))
        record(try checkRowsRoundTrip(sizes: s ? [486 * 3584, 3, 560 * 512] : [30, 3, 17]))
        record(try checkRowsLater(sizes: s ? [486 * 3584, 3, 1944 * 3584] : [30, 3, 17]))
        let images = [(width: 28, height: 56), (56, 28)] + (s ? [(756, 504)] : [])
        record(try checkPatchify(sizes: images, patchSize: 14, mergeSize: 2, frames: 2))
        // Rows of 75: scalar stores.
        record(try checkPatchify(sizes: [(10, 20), (30, 10)], patchSize: 5, mergeSize: 2, frames: 1))
        record(try checkConcatenate(widths: s ? [700, 1, 2048, 333] : [5, 1, 9], width: hidden))
        record(try checkEmbedding(vocab: s ? 5000 : 50, width: hidden, count: s ? 300 : 12))
        record(try checkEmbedding(vocab: s ? 5000 : 50, width: hidden, count: s ? 3000 : 40, distinct: s ? 60 : 6))
        // The vision tower's head dimension on its two kernels (warpgroup products on Hopper, 16 rows a warp):
        // 64-row windows, a whole image, and a prefix with grouped heads too.
        for kernel in [AttentionKernelChoice.hopper, .sixteenRows] {
            record(
                try checkAttention(
                    lengths: s ? Array(repeating: 64, count: 8) + [48] : [64, 3], heads: s ? 16 : 2,
                    kvHeads: s ? 16 : 2, headDim: 80, causal: false, kernel: kernel))
            record(
                try checkAttention(
                    lengths: s ? [1944] : [130], heads: s ? 16 : 2, kvHeads: s ? 16 : 2, headDim: 80, causal: false,
                    kernel: kernel))
            record(
                try checkAttention(
                    lengths: s ? [93, 259, 1, 64, 130] : [7, 5, 1, 70], heads: s ? 16 : 4, kvHeads: s ? 4 : 2,
                    headDim: 80, causal: true, sharedPrefix: true, kernel: kernel))
        }
        // The decoder's head dimension on each of its kernels (warpgroup products on Hopper, two 16-row tiles a
        // warp, 16 rows a warp), each with grouped heads packed into a block's rows and with one head a block.
        for kernel in AttentionKernelChoice.allCases {
            for oneHeadABlock in [false, true] {
                record(
                    try checkAttention(
                        lengths: s ? [1, 37, 64, 200, 65] : [1, 5, 70], heads: s ? 28 : 4, kvHeads: s ? 4 : 2,
                        headDim: 128, causal: true, kernel: kernel, oneHeadABlock: oneHeadABlock))
                record(
                    try checkAttention(
                        lengths: s ? [300, 17, 128, 33] : [9, 70], heads: s ? 14 : 4, kvHeads: 2, headDim: 128,
                        causal: false, kernel: kernel, oneHeadABlock: oneHeadABlock))
                record(
                    try checkAttention(
                        lengths: s ? [93, 259, 1, 64, 300] : [7, 5, 1, 70], heads: s ? 28 : 4, kvHeads: s ? 4 : 2,
                        headDim: 128, causal: true, sharedPrefix: true, kernel: kernel, oneHeadABlock: oneHeadABlock))
            }
        }
        // Head dimension 64 on the warpgroup kernel (one swizzled half a row).
        record(
            try checkAttention(
                lengths: s ? [93, 259, 1, 64, 130] : [7, 5, 1, 70], heads: s ? 16 : 4, kvHeads: s ? 4 : 2,
                headDim: 64, causal: true, sharedPrefix: true, kernel: .hopper))
        // The vision tower's attention from the fused q/k/v product: windows (one kernel on Hopper, also checked
        // against the split path on the device itself, to the bit), an empty sequence, and a whole image (split).
        for check in try checkSplitRopeAttention(
            lengths: s ? Array(repeating: 64, count: 6) + [48, 0, 24, 1, 32] : [64, 0, 5, 1], heads: s ? 16 : 2,
            kvHeads: s ? 16 : 2, headDim: 80)
        {
            record(check)
        }
        for check in try checkSplitRopeAttention(
            lengths: s ? [64, 40, 64, 7] : [9, 64], heads: s ? 8 : 4, kvHeads: s ? 4 : 2, headDim: 64)
        {
            record(check)
        }
        for check in try checkSplitRopeAttention(
            lengths: s ? [1944, 64] : [130, 64], heads: s ? 16 : 2, kvHeads: s ? 16 : 2, headDim: 80)
        {
            record(check)
        }
        return checks
    }

    // MARK: Inputs

    /// bf16-representable random values in [-range, range].
    private mutating func values(_ count: Int, range: Float = 1) -> [Float] {
        (0..<count).map { _ in
            HalfConversion.float(bf16: HalfConversion.bf16Bits(Float.random(in: -range...range, using: &generator)))
        }
    }

    /// The same values as a weight tensor (bf16 bytes) on both backends.
    private func weights(_ values: [Float], shape: [Int]) throws -> (Tensor, Tensor) {
        let bits = values.map(HalfConversion.bf16Bits)
        return try bits.withUnsafeBytes { bytes in
            (
                try device.weight(bytes, dtype: .bf16, shape: shape, keepingAlive: nil),
                try reference.weight(bytes, dtype: .bf16, shape: shape, keepingAlive: nil)
            )
        }
    }

    private func activations(_ values: [Float], shape: [Int]) throws -> (Tensor, Tensor) {
        (try device.upload(values, shape: shape), try reference.upload(values, shape: shape))
    }

    private func compare(_ op: String, _ shape: String, _ pair: (Tensor, Tensor), tolerance: Float) throws -> Check {
        Self.compare(op, shape, try device.download(pair.0), try reference.download(pair.1), tolerance: tolerance)
    }

    /// `value` rounded to `dtype` as an upload rounds it (unchanged for f32).
    static func rounded(_ value: Float, to dtype: DType) -> Float {
        switch dtype {
        case .bf16: HalfConversion.float(bf16: HalfConversion.bf16Bits(value))
        case .f16: HalfConversion.float(f16: HalfConversion.f16Bits(value))
        case .f32, .f8e4m3: value
        }
    }

    /// Errors of `got` against `want` (max abs, relative norm) as a check with `tolerance`.
    public static func compare(_ op: String, _ shape: String, _ got: [Float], _ want: [Float], tolerance: Float)
        -> Check
    {
        var maxAbs: Float = got.count == want.count ? 0 : .infinity
        var diff2: Double = 0, ref2: Double = 0
        for (g, w) in zip(got, want) {
            let d = g - w
            maxAbs = d.isNaN ? .nan : max(maxAbs, abs(d))
            diff2 += Double(d * d)
            ref2 += Double(w * w)
        }
        let relative = ref2 > 0 ? Float((diff2 / ref2).squareRoot()) : (diff2 == 0 ? 0 : .infinity)
        return Check(
            op: op, shape: shape, maxAbsError: maxAbs, relativeError: diff2.isNaN ? .nan : relative,
            tolerance: tolerance)
    }

    // MARK: Checks

    private mutating func checkLinear(rows: Int, inFeatures: Int, outFeatures: Int, bias: Bool) throws -> Check {
        let x = try activations(values(rows * inFeatures), shape: [rows, inFeatures])
        let scale = 1 / Float(inFeatures).squareRoot()
        let w = try weights(values(outFeatures * inFeatures, range: scale), shape: [outFeatures, inFeatures])
        let b = bias ? try weights(values(outFeatures), shape: [outFeatures]) : nil
        let out = (try device.linear(x.0, weight: w.0, bias: b?.0), try reference.linear(x.1, weight: w.1, bias: b?.1))
        return try compare(
            "linear", "[\(rows),\(inFeatures)]x[\(outFeatures),\(inFeatures)]\(bias ? "+b" : "")", out,
            tolerance: tolerance)
    }

    /// `linear` with an 8-bit weight (random values quantized per row). On FP8 tensor cores the device also
    /// quantizes x per row; the reference then multiplies the same rounded x (quantized and widened on the
    /// host), so both sides compute one product and only accumulation order and output rounding differ.
    private mutating func checkScaledLinear(
        rows: Int, inFeatures: Int, outFeatures: Int, bias: Bool, tensorCores: Bool, residual: Bool = false
    ) throws -> Check {
        let cuda = device as? CUDABackend
        let previous = cuda?.fp8TensorCores
        cuda?.fp8TensorCores = tensorCores && (cuda?.hasFP8TensorCores ?? false)
        defer { if let previous { cuda?.fp8TensorCores = previous } }
        let onTensorCores = device.runsFP8Products && inFeatures % 16 == 0 && outFeatures % 16 == 0
        let xValues = values(rows * inFeatures, range: 2)
        let quantizedX = try xValues.withUnsafeBytes {
            try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: rows, columns: inFeatures)
        }
        let referenceX =
            onTensorCores
            ? quantizedX.dequantized()
            : xValues
        let scale = 1 / Float(inFeatures).squareRoot()
        let wValues = values(outFeatures * inFeatures, range: scale)
        let matrix = try wValues.withUnsafeBytes {
            try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: outFeatures, columns: inFeatures)
        }
        let w = try matrix.values.withUnsafeBytes { bytes in
            (
                try device.scaledWeight(bytes, rowScales: matrix.scales, shape: [outFeatures, inFeatures]),
                try reference.scaledWeight(bytes, rowScales: matrix.scales, shape: [outFeatures, inFeatures])
            )
        }
        let b = bias ? try weights(values(outFeatures), shape: [outFeatures]) : nil
        let x = (
            try device.upload(xValues, shape: [rows, inFeatures]),
            try reference.upload(referenceX, shape: [rows, inFeatures])
        )
        let out: (Tensor, Tensor)
        if residual {
            let r = try activations(values(rows * outFeatures, range: 4), shape: [rows, outFeatures])
            out = (
                try device.linear(x.0, weight: w.0, bias: b?.0, adding: r.0),
                try reference.linear(x.1, weight: w.1, bias: b?.1, adding: r.1)
            )
        } else {
            out = (try device.linear(x.0, weight: w.0, bias: b?.0), try reference.linear(x.1, weight: w.1, bias: b?.1))
        }
        return try compare(
            onTensorCores ? "linear fp8" : "linear fp8w",
            "[\(rows),\(inFeatures)]x[\(outFeatures),\(inFeatures)]\(bias ? "+b" : "")\(residual ? "+r" : "")", out,
            tolerance: tolerance)
    }

    /// The MLP's down projection from the fused gate/up product as the model runs it: in two row chunks,
    /// each ``Backend/siluMul(gateUp:feeding:)`` (on FP8 tensor cores quantized in the same kernel) into an
    /// 8-bit product adding the residual's rows; against the reference's siluMul, the same per-row
    /// quantization on the host, its product and the residual.
    private mutating func checkSiluMulIntoScaledLinear(rows: Int, width: Int, outFeatures: Int) throws -> Check {
        let gateUp = try activations(values(rows * 2 * width, range: 3), shape: [rows, 2 * width])
        let matrix = try values(outFeatures * width, range: 1 / Float(width).squareRoot()).withUnsafeBytes {
            try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: outFeatures, columns: width)
        }
        let w = try matrix.values.withUnsafeBytes { bytes in
            (
                try device.scaledWeight(bytes, rowScales: matrix.scales, shape: [outFeatures, width]),
                try reference.scaledWeight(bytes, rowScales: matrix.scales, shape: [outFeatures, width])
            )
        }
        let residual = try activations(values(rows * outFeatures, range: 4), shape: [rows, outFeatures])
        var quantizedOnDevice = false
        let got = try device.linear(
            rowChunks: [0..<(rows / 2), (rows / 2)..<rows],
            of: { range in
                let activated = try device.siluMul(gateUp: try gateUp.0.rows(range), feeding: w.0)
                quantizedOnDevice = activated.dtype == .f8e4m3
                return activated
            }, weight: w.0, bias: nil, adding: residual.0)
        // The reference activation rounded to bf16 as the device stores it, then quantized if the device did.
        var wanted = try reference.download(try reference.siluMul(gateUp: gateUp.1))
            .map { HalfConversion.float(bf16: HalfConversion.bf16Bits($0)) }
        if device.runsFP8Products {
            let quantized = try wanted.withUnsafeBytes {
                try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: rows, columns: width)
            }
            wanted = quantized.dequantized()
        }
        let want = try reference.linear(
            try reference.upload(wanted, shape: [rows, width]), weight: w.1, bias: nil, adding: residual.1)
        return try compare(
            quantizedOnDevice ? "siluMul>fp8" : "siluMul>fp8w", "[\(rows),2x\(width)] -> \(outFeatures)+r", (got, want),
            tolerance: tolerance)
    }

    /// A norm read by an 8-bit product: ``Backend/rmsNorm(_:weight:eps:feeding:)`` (on FP8 tensor cores
    /// quantized in the same kernel) into the product, in two row slices cut at an odd row as the MLP's row
    /// chunks cut it (the second slice's row scales are then not 16-byte aligned). The reference: the norm
    /// rounded to bf16 as the device rounds it (the normalised row, then its product with the weight), the
    /// same per-row quantization on the host, and its product.
    private mutating func checkRMSNormIntoScaledLinear(rows: Int, width: Int, outFeatures: Int) throws -> Check {
        let xValues = values(rows * width, range: 4), weightValues = values(width, range: 2)
        let x = try activations(xValues, shape: [rows, width])
        let normWeight = try weights(weightValues, shape: [width])
        let matrix = try values(outFeatures * width, range: 1 / Float(width).squareRoot()).withUnsafeBytes {
            try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: outFeatures, columns: width)
        }
        let w = try matrix.values.withUnsafeBytes { bytes in
            (
                try device.scaledWeight(bytes, rowScales: matrix.scales, shape: [outFeatures, width]),
                try reference.scaledWeight(bytes, rowScales: matrix.scales, shape: [outFeatures, width])
            )
        }
        let normed = try device.rmsNorm(x.0, weight: normWeight.0, eps: 1e-6, feeding: w.0)
        let cut = rows > 3 ? 3 : rows
        let got = try [0..<cut, cut..<rows].filter { !$0.isEmpty }.flatMap {
            try device.download(try device.linear(try normed.rows($0), weight: w.0, bias: nil))
        }
        let bf16 = { (value: Float) in HalfConversion.float(bf16: HalfConversion.bf16Bits(value)) }
        var wanted = [Float]()
        wanted.reserveCapacity(rows * width)
        for row in 0..<rows {
            let values = xValues[(row * width)..<((row + 1) * width)]
            let inverse = 1 / (values.reduce(0) { $0 + $1 * $1 } / Float(width) + 1e-6).squareRoot()
            wanted += zip(values, weightValues).map { bf16(bf16($0 * inverse) * $1) }
        }
        if device.runsFP8Products {
            wanted = try wanted.withUnsafeBytes {
                try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: rows, columns: width)
            }.dequantized()
        }
        let want = try reference.linear(try reference.upload(wanted, shape: [rows, width]), weight: w.1, bias: nil)
        return Self.compare(
            normed.dtype == .f8e4m3 ? "rmsNorm>fp8" : "rmsNorm>fp8w", "[\(rows),\(width)] -> \(outFeatures)", got,
            try reference.download(want), tolerance: tolerance)
    }

    private mutating func checkRMSNorm(rows: Int, width: Int) throws -> Check {
        let x = try activations(values(rows * width, range: 4), shape: [rows, width])
        let w = try weights(values(width, range: 2), shape: [width])
        let out = (try device.rmsNorm(x.0, weight: w.0, eps: 1e-6), try reference.rmsNorm(x.1, weight: w.1, eps: 1e-6))
        return try compare("rmsNorm", "[\(rows),\(width)]", out, tolerance: tolerance)
    }

    /// ``Backend/linear(rowChunks:of:weight:bias:adding:)`` (one chunk: the plain residual product) against
    /// the reference's product then add.
    private mutating func checkLinearAdding(chunks: [Int], inFeatures: Int, outFeatures: Int, bias: Bool) throws
        -> Check
    {
        let rows = chunks.reduce(0, +)
        let x = try activations(values(rows * inFeatures), shape: [rows, inFeatures])
        let w = try weights(
            values(outFeatures * inFeatures, range: 1 / Float(inFeatures).squareRoot()),
            shape: [outFeatures, inFeatures])
        let b = bias ? try weights(values(outFeatures), shape: [outFeatures]) : nil
        let residual = try activations(values(rows * outFeatures, range: 4), shape: [rows, outFeatures])
        var ranges = [Range<Int>](), start = 0
        for count in chunks { ranges.append(start..<(start + count)); start += count }
        let got =
            chunks.count == 1
            ? try device.linear(x.0, weight: w.0, bias: b?.0, adding: residual.0)
            : try device.linear(
                rowChunks: ranges, of: { try x.0.rows($0) }, weight: w.0, bias: b?.0, adding: residual.0)
        let want = try reference.add(residual.1, try reference.linear(x.1, weight: w.1, bias: b?.1))
        return try compare(
            "linear+r", "\(chunks) x[\(outFeatures),\(inFeatures)]\(bias ? "+b" : "")", (got, want),
            tolerance: tolerance)
    }

    private mutating func checkBinary(
        _ op: String, rows: Int, width: Int, _ body: (any Backend, Tensor, Tensor) throws -> Tensor
    ) throws -> Check {
        let a = try activations(values(rows * width, range: 4), shape: [rows, width])
        let b = try activations(values(rows * width, range: 4), shape: [rows, width])
        return try compare(
            op, "[\(rows),\(width)]", (try body(device, a.0, b.0), try body(reference, a.1, b.1)), tolerance: tolerance)
    }

    private mutating func checkGateUp(rows: Int, width: Int) throws -> Check {
        let x = try activations(values(rows * 2 * width, range: 4), shape: [rows, 2 * width])
        let out = (try device.siluMul(gateUp: x.0), try reference.siluMul(gateUp: x.1))
        return try compare("siluMul gateUp", "[\(rows),2x\(width)]", out, tolerance: tolerance)
    }

    private mutating func checkSplitRope(tokens: Int, heads: Int, kvHeads: Int, headDim: Int) throws -> Check {
        let width = (heads + 2 * kvHeads) * headDim
        let x = try activations(values(tokens * width, range: 3), shape: [tokens, width])
        let (c, s) = try rotaryInputs(tokens: tokens, headDim: headDim)
        let got = try device.splitRope(x.0, heads: heads, kvHeads: kvHeads, cos: c.0, sin: s.0)
        let want = try reference.splitRope(x.1, heads: heads, kvHeads: kvHeads, cos: c.1, sin: s.1)
        let flat = { (parts: (query: Tensor, key: Tensor, value: Tensor), backend: any Backend) in
            try backend.download(parts.query) + backend.download(parts.key) + backend.download(parts.value)
        }
        return Self.compare(
            "splitRope", "[\(tokens),(\(heads)+2x\(kvHeads))x\(headDim)]", try flat(got, device),
            try flat(want, reference),
            tolerance: tolerance)
    }

    /// ``Backend/splitRopeAttention(_:heads:kvHeads:cos:sin:cuSeqlens:scale:)`` against the reference; on a CUDA
    /// backend that runs the window kernel, also against its own split path (`splitRope`, then the attention
    /// kernel), which it must equal to the bit.
    private mutating func checkSplitRopeAttention(lengths: [Int], heads: Int, kvHeads: Int, headDim: Int) throws
        -> [Check]
    {
        let tokens = lengths.reduce(0, +)
        var cuSeqlens: [Int32] = [0]
        for length in lengths { cuSeqlens.append((cuSeqlens.last ?? 0) + Int32(length)) }
        let x = try activations(
            values(tokens * (heads + 2 * kvHeads) * headDim, range: 2),
            shape: [tokens, (heads + 2 * kvHeads) * headDim])
        let (c, s) = try rotaryInputs(tokens: tokens, headDim: headDim)
        let scale = 1 / Float(headDim).squareRoot()
        let run = { (backend: any Backend, x: Tensor, c: Tensor, s: Tensor) in
            try backend.splitRopeAttention(
                x, heads: heads, kvHeads: kvHeads, cos: c, sin: s, cuSeqlens: cuSeqlens, scale: scale)
        }
        let got = try run(device, x.0, c.0, s.0)
        let lengthText = lengths.count > 6 ? "\(lengths.count) seqs of <=\(lengths.max() ?? 0)" : "\(lengths)"
        let cuda = device as? CUDABackend
        let fused =
            cuda.map {
                CUDABackend.runsWindowKernel(
                    enabled: $0.fusedWindowAttention, headDim: headDim, heads: heads, kvHeads: kvHeads,
                    cuSeqlens: cuSeqlens, elements: x.0.elementCount)
            } ?? false
        let shape = "h\(heads)/kv\(kvHeads) d\(headDim)\(fused ? "f" : "") \(lengthText)"
        var checks = [try compare("ropeAttn", shape, (got, try run(reference, x.1, c.1, s.1)), tolerance: tolerance)]
        if let cuda, fused {
            cuda.fusedWindowAttention = false
            defer { cuda.fusedWindowAttention = true }
            let split = try run(cuda, x.0, c.0, s.0)
            checks.append(
                Self.compare(
                    "ropeAttn=split", shape, try cuda.download(got), try cuda.download(split), tolerance: 0))
        }
        return checks
    }

    /// ``Backend/rotaryTables(_:)`` against the reference's tables rounded to the device's activation type:
    /// equal to the bit (the values the host tables uploaded would have). Random angle values (not
    /// bf16-representable, so the rounding is exercised) over `span` positions; M-RoPE sources (sections
    /// 16/24/24 over t, h, w, scaled to the head) or 2D vision ones (rows, then columns).
    private mutating func checkRotaryTables(tokens: Int, headDim: Int, vision: Bool) throws -> Check {
        let half = headDim / 2
        let frequencies = vision ? half / 2 : half
        let span = vision ? 120 : tokens / 2 + 1
        let angles = (0..<(span * frequencies)).map { _ in Float.random(in: 0..<(2 * .pi), using: &generator) }
        let components = vision ? 2 : 3
        let positions = (0..<components).map { _ in
            (0..<tokens).map { _ in Int32.random(in: 0..<Int32(span), using: &generator) }
        }
        let columns = (0..<half).map { j in
            vision
                ? RotaryTablePlan.Column(component: j < frequencies ? 0 : 1, frequency: j % frequencies)
                : RotaryTablePlan.Column(component: j < half / 4 ? 0 : (j < half * 5 / 8 ? 1 : 2), frequency: j)
        }
        let plan = try RotaryTablePlan(
            headDim: headDim, frequencies: frequencies, angleCos: angles.map { Foundation.cos($0) },
            angleSin: angles.map { Foundation.sin($0) }, positions: positions, columns: columns)
        let got = try device.rotaryTables(plan)
        let want = try reference.rotaryTables(plan)
        let dtype = device.activationDType
        let rounded = { (values: [Float]) in values.map { Self.rounded($0, to: dtype) } }
        return Self.compare(
            "rotaryTables", "\(tokens) x \(headDim) \(vision ? "vision" : "M-RoPE"), \(span) positions",
            try device.download(got.cos) + device.download(got.sin),
            rounded(try reference.download(want.cos) + reference.download(want.sin)), tolerance: 0)
    }

    /// Rotary cosine and sine tables `[tokens, headDim]` of random angles, rounded to bf16, on both backends.
    private mutating func rotaryInputs(tokens: Int, headDim: Int) throws -> (
        cos: (Tensor, Tensor), sin: (Tensor, Tensor)
    ) {
        let angles = (0..<(tokens * headDim)).map { _ in Float.random(in: 0..<(2 * .pi), using: &generator) }
        func table(_ function: (Float) -> Float) throws -> (Tensor, Tensor) {
            try activations(
                angles.map { HalfConversion.float(bf16: HalfConversion.bf16Bits(function($0))) },
                shape: [tokens, headDim])
        }
        return (try table { Foundation.cos($0) }, try table { Foundation.sin($0) })
    }

    private mutating func checkGELU(rows: Int, width: Int) throws -> Check {
        let x = try activations(values(rows * width, range: 5), shape: [rows, width])
        return try compare(
            "gelu", "[\(rows),\(width)]", (try device.gelu(x.0), try reference.gelu(x.1)), tolerance: tolerance)
    }

    private mutating func checkRope(tokens: Int, heads: Int, headDim: Int) throws -> Check {
        let x = try activations(values(tokens * heads * headDim, range: 3), shape: [tokens, heads, headDim])
        let (c, s) = try rotaryInputs(tokens: tokens, headDim: headDim)
        let out = (try device.applyRope(x.0, cos: c.0, sin: s.0), try reference.applyRope(x.1, cos: c.1, sin: s.1))
        return try compare("applyRope", "[\(tokens),\(heads),\(headDim)]", out, tolerance: tolerance)
    }

    private mutating func checkGather(rows: Int, width: Int, count: Int) throws -> Check {
        let x = try activations(values(rows * width), shape: [rows, width])
        let indices = (0..<count).map { _ in Int32.random(in: 0..<Int32(rows), using: &generator) }
        let out = (try device.gatherRows(x.0, indices: indices), try reference.gatherRows(x.1, indices: indices))
        return try compare("gatherRows", "[\(rows),\(width)] -> \(count) rows", out, tolerance: 0)
    }

    private mutating func checkScatter(rows: Int, width: Int, destinationRows: Int) throws -> Check {
        let source = try activations(values(rows * width), shape: [rows, width])
        let destination = try activations(values(destinationRows * width), shape: [destinationRows, width])
        var order = Array(0..<Int32(destinationRows))
        order.shuffle(using: &generator)
        let indices = Array(order.prefix(rows))
        try device.scatterRows(source.0, into: destination.0, at: indices)
        try reference.scatterRows(source.1, into: destination.1, at: indices)
        return try compare(
            "scatterRows", "[\(rows),\(width)] into [\(destinationRows),\(width)]", destination, tolerance: 0)
    }

    /// Parts uploaded one after another against the joined values on the reference.
    private mutating func checkUploadParts(sizes: [Int]) throws -> Check {
        var parts = [[Float]]()
        for size in sizes { parts.append(values(size, range: 3)) }
        let total = sizes.reduce(0, +)
        let out = (
            try device.upload(concatenating: parts, shape: [total]),
            try reference.upload(parts.flatMap { $0 }, shape: [total])
        )
        return try compare("upload parts", "\(sizes)", out, tolerance: 0)
    }

    /// Tensors downloaded as stored (``Backend/downloadRows(_:)``: bf16 bytes on the device) and uploaded again one
    /// after another (``Backend/upload(rows:shape:)``, the image and prefix caches' round trip): the same values.
    private mutating func checkRowsRoundTrip(sizes: [Int]) throws -> Check {
        let parts = sizes.map { values($0, range: 3) }
        let rows = try parts.map { try device.downloadRows(try device.upload($0, shape: [$0.count])) }
        let total = sizes.reduce(0, +)
        let out = (
            try device.upload(rows: rows, shape: [total]), try reference.upload(parts.flatMap { $0 }, shape: [total])
        )
        return try compare("rows round trip", "\(sizes) \(rows.first?.dtype ?? .f32)", out, tolerance: 0)
    }

    /// Rows copied to the host without waiting (``Backend/downloadRowsLater(_:)``: on CUDA, a copy stream behind
    /// the work queued before it), several in flight, each made by an op just queued and one more copy of each
    /// abandoned unread, then uploaded again: exactly the values the device computed.
    private mutating func checkRowsLater(sizes: [Int]) throws -> Check {
        var sums = [Tensor]()
        var pending = [PendingHostRows]()
        for size in sizes {
            let a = try device.upload(values(size, range: 3), shape: [size])
            let b = try device.upload(values(size, range: 3), shape: [size])
            let sum = try device.add(a, b)
            sums.append(sum)
            pending.append(try device.downloadRowsLater(sum))
            _ = try device.downloadRowsLater(sum)  // abandoned at once: its memory comes back unread
        }
        let rows = try pending.map { try $0.wait() }
        let total = sizes.reduce(0, +)
        let got = try device.download(device.upload(rows: rows, shape: [total]))
        let want = try sums.flatMap { try device.download($0) }
        return Self.compare("rows copied later", "\(sizes) \(rows.first?.dtype ?? .f32)", got, want, tolerance: 0)
    }

    /// Random images cut into patch rows by both backends, compared in bf16 (the reference's fp32 rows rounded
    /// as an upload rounds them): must be equal, each value being one table entry. The table holds random
    /// values and two halfway cases (ties to even), which every image's first pixel reads.
    private mutating func checkPatchify(
        sizes: [(width: Int, height: Int)], patchSize: Int, mergeSize: Int, frames: Int
    ) throws -> Check {
        var table = (0..<(3 * 256)).map { _ in Float.random(in: -3...3, using: &generator) }
        table[0] = 1.00390625  // halfway between 1 and 1 + 2^-7: rounds to 1
        table[256] = -1.01171875  // halfway between -(1 + 2^-7) and -(1 + 2^-6): rounds to -(1 + 2^-6)
        let layout = PatchifyLayout(
            patchSize: patchSize, mergeSize: mergeSize, temporalPatchSize: frames, normalization: table)
        var images = [PatchifySource]()
        for size in sizes {
            var pixels = (0..<(size.width * size.height * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            pixels[0] = 0
            pixels[1] = 0
            images.append(
                PatchifySource(
                    pixels: pixels, width: size.width, height: size.height, gridHeight: size.height / patchSize,
                    gridWidth: size.width / patchSize))
        }
        let bf16 = { (values: [Float]) in values.map { HalfConversion.float(bf16: HalfConversion.bf16Bits($0)) } }
        let got = bf16(try device.download(device.patchify(images, layout: layout)))
        let want = bf16(try reference.download(reference.patchify(images, layout: layout)))
        let shape = sizes.map { "\($0.width)x\($0.height)" }.joined(separator: ",") + " px, rows of \(layout.rowWidth)"
        return Self.compare("patchify", shape, got, want, tolerance: 0)
    }

    private mutating func checkConcatenate(widths rows: [Int], width: Int) throws -> Check {
        var device = [Tensor](), reference = [Tensor]()
        for count in rows {
            let part = try activations(values(count * width), shape: [count, width])
            device.append(part.0)
            reference.append(part.1)
        }
        let out = (try self.device.concatenateRows(device), try self.reference.concatenateRows(reference))
        return try compare("concatRows", "\(rows) x \(width)", out, tolerance: 0)
    }

    /// Ids drawn from `distinct` different ones (all `vocab` by default): few distinct ids take the path that
    /// uploads each distinct row once and gathers them on the device.
    private mutating func checkEmbedding(vocab: Int, width: Int, count: Int, distinct: Int? = nil) throws -> Check {
        let bits = values(vocab * width).map(HalfConversion.bf16Bits)
        let tables = try bits.withUnsafeBytes { bytes in
            (
                try device.embeddingTable(bytes, dtype: .bf16, shape: [vocab, width], keepingAlive: nil),
                try reference.embeddingTable(bytes, dtype: .bf16, shape: [vocab, width], keepingAlive: nil)
            )
        }
        let pool = (0..<(distinct ?? vocab)).map { _ in Int32.random(in: 0..<Int32(vocab), using: &generator) }
        let ids = (0..<count).map { _ in pool[Int.random(in: 0..<pool.count, using: &generator)] }
        let out = (try device.embedding(tables.0, ids: ids), try reference.embedding(tables.1, ids: ids))
        return try compare(
            "embedding", "[\(vocab),\(width)] -> \(count) ids\(distinct.map { " of \($0)" } ?? "")", out, tolerance: 0)
    }

    /// With `sharedPrefix`, the first sequence is a prefix every later one also attends to.
    private mutating func checkAttention(
        lengths: [Int], heads: Int, kvHeads: Int, headDim: Int, causal: Bool, sharedPrefix: Bool = false,
        kernel: AttentionKernelChoice = .sixteenRows, oneHeadABlock: Bool = false
    ) throws -> Check {
        let cuda = device as? CUDABackend
        let previous = cuda.map { ($0.wideAttention, $0.hopperAttention, $0.packedAttention) }
        cuda?.wideAttention = kernel == .wide
        cuda?.hopperAttention = kernel == .hopper
        cuda?.packedAttention = !oneHeadABlock
        defer {
            if let previous {
                cuda?.wideAttention = previous.0
                cuda?.hopperAttention = previous.1
                cuda?.packedAttention = previous.2
            }
        }
        // Where the device has no Hopper instructions, the warpgroup choice runs the 16-row kernel: say so. The
        // kernels pack grouped heads into their rows unless told not to ("/1": one head a block).
        let mark =
            (cuda?.hopperAttention == true ? "h" : cuda?.wideAttention == true ? "w" : "")
            + (oneHeadABlock && kvHeads < heads ? "/1" : "")
        let tokens = lengths.reduce(0, +)
        var cuSeqlens: [Int32] = [0]
        for length in lengths { cuSeqlens.append((cuSeqlens.last ?? 0) + Int32(length)) }
        let prefixes: [Range<Int32>] =
            sharedPrefix ? [0..<0] + Array(repeating: 0..<cuSeqlens[1], count: lengths.count - 1) : []
        let q = try activations(values(tokens * heads * headDim, range: 2), shape: [tokens, heads, headDim])
        let k = try activations(values(tokens * kvHeads * headDim, range: 2), shape: [tokens, kvHeads, headDim])
        let v = try activations(values(tokens * kvHeads * headDim), shape: [tokens, kvHeads, headDim])
        let scale = 1 / Float(headDim).squareRoot()
        let out = (
            try device.attention(
                query: q.0, key: k.0, value: v.0, cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, scale: scale
            ),
            try reference.attention(
                query: q.1, key: k.1, value: v.1, cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, scale: scale
            )
        )
        let lengthText = lengths.count > 6 ? "\(lengths.count) seqs of <=\(lengths.max() ?? 0)" : "\(lengths)"
        return try compare(
            (causal ? "attn causal" : "attn full") + (sharedPrefix ? "+pfx" : ""),
            "h\(heads)/kv\(kvHeads) d\(headDim)\(mark) \(lengthText)", out,
            tolerance: tolerance)
    }
}

/// Which attention kernel a self-test check runs on a CUDA backend.
enum AttentionKernelChoice: CaseIterable {
    /// ``CUDABackend/hopperAttention``: warpgroup products (sm_90a).
    case hopper
    /// ``CUDABackend/wideAttention``: two 16-row tiles a warp.
    case wide
    /// 16 rows a warp.
    case sixteenRows
}
