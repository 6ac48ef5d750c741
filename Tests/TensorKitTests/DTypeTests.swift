import TensorKit
import Testing

@Suite("DType and half-precision conversions")
struct DTypeTests {
    @Test func byteSizes() {
        #expect(DType.f32.byteSize == 4)
        #expect(DType.bf16.byteSize == 2)
        #expect(DType.f16.byteSize == 2)
    }

    @Test("bf16 rounds to nearest, ties to even, like torch's cast")
    func bf16Rounding() {
        // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        #expect(HalfConversion.bf16Bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3 * 2^-8 lies between 1 + 2^-7 (odd) and 1 + 2^-6 (even): goes up to even.
        #expect(HalfConversion.bf16Bits(1 + 3 * 0x1p-8) == 0x3F82)
        // Just above the tie rounds up.
        #expect(HalfConversion.bf16Bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(HalfConversion.bf16Bits(-2) == 0xC000)
        #expect(HalfConversion.bf16Bits(.infinity) == 0x7F80)
        #expect(HalfConversion.float(bf16: HalfConversion.bf16Bits(.nan)).isNaN)
        // The largest finite float rounds to infinity, as in torch.
        #expect(HalfConversion.bf16Bits(.greatestFiniteMagnitude) == 0x7F80)
    }

    @Test("bf16 -> Float is exact and round-trips every bit pattern that is not NaN")
    func bf16RoundTrip() {
        for bits in UInt16.min...UInt16.max {
            let value = HalfConversion.float(bf16: bits)
            if value.isNaN { continue }
            #expect(HalfConversion.bf16Bits(value) == bits)
        }
    }

    @Test func f16Conversions() {
        #expect(HalfConversion.f16Bits(1) == 0x3C00)
        #expect(HalfConversion.float(f16: 0xC000) == -2)
        #expect(HalfConversion.f16Bits(70000) == 0x7C00)  // beyond f16's range: infinity
        #expect(HalfConversion.float(f16: 0x0001) == 0x1p-24)  // smallest subnormal
    }
}
