import Foundation
import SafeTensors
import Testing

@Suite("Float conversions")
struct FloatConversionTests {
    #if !(os(macOS) && arch(x86_64))
        @Test func everyHalfBitPatternMatchesFloat16() {
            for bits in UInt16.min...UInt16.max {
                let ours = FloatConversion.f16ToFloat(bits)
                let reference = Float(Float16(bitPattern: bits))
                if reference.isNaN {
                    #expect(ours.isNaN, "bits \(bits)")
                } else {
                    #expect(ours.bitPattern == reference.bitPattern, "bits \(String(bits, radix: 16))")
                }
            }
        }

        @Test(arguments: [
            Float(0), -0.0, 1, -1, 65504, 65519.99, 65520, 1e10, -1e10, .infinity, -.infinity,
            0x1p-14, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1.000002p-25, 0x1p-26, 6e-8, 3.14159, 1.0009765625, 1.00048828125,
            1.00146484375, 0.1, 2049, 2051,
        ])
        func narrowingToHalfMatchesFloat16(value: Float) {
            #expect(FloatConversion.floatToF16(value) == Float16(value).bitPattern, "\(value)")
        }

        @Test func narrowingRandomValuesToHalfMatchesFloat16() {
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<20000 {
                let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
                guard !value.isNaN else { continue }
                #expect(FloatConversion.floatToF16(value) == Float16(value).bitPattern, "\(value)")
            }
        }
    #endif

    @Test func halfNaNStaysNaN() {
        #expect(FloatConversion.f16ToFloat(0x7e00).isNaN)
        #expect(FloatConversion.f16ToFloat(FloatConversion.floatToF16(.nan)).isNaN)
        #expect(FloatConversion.f16ToFloat(0x7c00) == .infinity)
        #expect(FloatConversion.f16ToFloat(0x0001) == 0x1p-24)
        #expect(FloatConversion.f16ToFloat(0x03ff) == 0x1.ff8p-15)
    }

    @Test func bf16IsTheTopHalfOfFloat() {
        #expect(FloatConversion.bf16ToFloat(0x3f80) == 1)
        #expect(FloatConversion.bf16ToFloat(0xc000) == -2)
        #expect(FloatConversion.bf16ToFloat(0x7f80) == .infinity)
        #expect(FloatConversion.bf16ToFloat(0x0001) == Float(bitPattern: 0x0001_0000))
    }

    @Test func bf16RoundsToNearestEven() {
        #expect(FloatConversion.floatToBF16(Float(bitPattern: 0x3f80_8000)) == 0x3f80)  // tie, even stays
        #expect(FloatConversion.floatToBF16(Float(bitPattern: 0x3f81_8000)) == 0x3f82)  // tie, odd rounds up
        #expect(FloatConversion.floatToBF16(Float(bitPattern: 0x3f80_8001)) == 0x3f81)
        #expect(FloatConversion.floatToBF16(Float(bitPattern: 0x7f7f_ffff)) == 0x7f80)  // overflow to infinity
        #expect(FloatConversion.bf16ToFloat(FloatConversion.floatToBF16(.nan)).isNaN)
    }

    @Test func bulkConversionHandlesUnalignedInput() {
        let values: [Float] = [1, -2, 0.5, 1024]
        let half = FloatConversion.bytes(of: values, as: .f16)
        let brain = FloatConversion.bytes(of: values, as: .bf16)
        let single = FloatConversion.bytes(of: values, as: .f32)
        for (bytes, dtype) in [(half, TensorDType.f16), (brain, .bf16), (single, .f32)] {
            let shifted: [UInt8] = [0xAA] + bytes
            shifted.withUnsafeBytes { raw in
                let view = UnsafeRawBufferPointer(rebasing: raw[1...])
                #expect(FloatConversion.floats(view, dtype: dtype) == values, "\(dtype)")
            }
        }
    }

    @Test func throughputIsReported() {
        let count = 1 << 24
        let source = [UInt16](repeating: 0x3c00, count: count)
        var output = [Float](repeating: 0, count: count)
        for dtype in [TensorDType.bf16, .f16] {
            let start = Date()
            source.withUnsafeBytes { raw in
                output.withUnsafeMutableBufferPointer { FloatConversion.convert(raw, dtype: dtype, into: $0) }
            }
            let seconds = Date().timeIntervalSince(start)
            print(
                "\(dtype.safetensorsName) -> F32: \(String(format: "%.0f", Double(count) / seconds / 1e6)) M elements/s (debug build)"
            )
        }
        #expect(output[count - 1] == 1)
    }
}
