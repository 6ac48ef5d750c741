/// The element types a tensor can hold.
///
/// Activations are `f32` on the CPU backend (a GPU backend may keep them in `bf16`); weights arrive
/// from the checkpoint as `bf16` (sometimes `f16` or `f32`) and stay in that type in memory, or are
/// kept in 8 bits (`f8e4m3`, with a scale per row) when the model runs in FP8.
public enum DType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// IEEE 754 binary32.
    case f32
    /// bfloat16: the upper 16 bits of a binary32.
    case bf16
    /// IEEE 754 binary16.
    case f16
    /// 8-bit float E4M3 (``FP8E4M3``), only for weights: each row carries an fp32 scale
    /// (``Tensor/rowScales``).
    case f8e4m3

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32: 4
        case .bf16, .f16: 2
        case .f8e4m3: 1
        }
    }

    public var description: String { rawValue }
}

/// Conversions between `Float` and the 16-bit storage formats, bit-exact with PyTorch's casts.
public enum HalfConversion {
    /// The `Float` a bfloat16 bit pattern stands for (exact: bf16 is a truncated binary32).
    @inlinable
    public static func float(bf16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 bit pattern nearest to `value` (round half to even; NaN stays NaN).
    @inlinable
    public static func bf16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// The `Float` an IEEE binary16 bit pattern stands for (exact).
    @inlinable
    public static func float(f16 bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// The binary16 bit pattern nearest to `value` (round half to even, overflow to infinity).
    @inlinable
    public static func f16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }
}
