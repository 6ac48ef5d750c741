import Testing

@testable import TensorKit

@Suite("FP8 E4M3")
struct FP8Tests {
    @Test("every finite pattern converts back to itself")
    func roundTrip() {
        for pattern in 0..<256 where pattern & 0x7F != 0x7F {
            let bits = UInt8(pattern)
            let value = FP8E4M3.float(bits)
            // -0 and +0 are the one pair of patterns with one value; the sign survives.
            #expect(FP8E4M3.bits(value) == bits, "pattern \(pattern) -> \(value)")
        }
        #expect(FP8E4M3.float(0x7F).isNaN)
        #expect(FP8E4M3.float(0xFF).isNaN)
    }

    @Test("known values: largest, smallest normal and subnormal, one")
    func knownValues() {
        #expect(FP8E4M3.float(0x7E) == 448)
        #expect(FP8E4M3.float(0x08) == 0x1p-6)
        #expect(FP8E4M3.float(0x01) == 0x1p-9)
        #expect(FP8E4M3.float(0x38) == 1)
        #expect(FP8E4M3.float(0xB8) == -1)
    }

    @Test("rounds to nearest, ties to even; saturates; NaN stays NaN")
    func rounding() {
        // Between 1 (0x38) and 1.125 (0x39): the midpoint goes to the even mantissa (1).
        #expect(FP8E4M3.bits(1.0625) == 0x38)
        #expect(FP8E4M3.bits(1.0626) == 0x39)
        // Between 1.125 and 1.25: the midpoint goes to 1.25 (even).
        #expect(FP8E4M3.bits(1.1875) == 0x3A)
        // Subnormal midpoint 1.5 * 2^-9 goes to 2 * 2^-9.
        #expect(FP8E4M3.bits(1.5 * 0x1p-9) == 0x02)
        #expect(FP8E4M3.bits(0.4 * 0x1p-9) == 0x00)
        // 2^-6 - tiny rounds up across into the smallest normal.
        #expect(FP8E4M3.bits(0x1p-6 - 0x1p-12) == 0x08)
        // 464 is past the midpoint between 448 and the (missing) 480: saturates.
        #expect(FP8E4M3.bits(1e9) == 0x7E)
        #expect(FP8E4M3.bits(-500) == 0xFE)
        #expect(FP8E4M3.bits(.infinity) == 0x7E)
        #expect(FP8E4M3.bits(.nan) & 0x7F == 0x7F)
    }

    @Test("each value goes to the nearest representable value")
    func nearest() {
        let finite = (0..<128).map { FP8E4M3.float(UInt8($0)) }.filter { !$0.isNaN }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<5000 {
            let value = Float.random(in: -460...460, using: &generator) * (Bool.random(using: &generator) ? 1 : 0.001)
            let got = FP8E4M3.float(FP8E4M3.bits(value))
            let best = finite.map { abs(abs(value) - $0) }.min() ?? 0
            #expect(abs(abs(got) - abs(value)) <= best * (1 + 1e-6), "\(value) -> \(got)")
        }
    }

    @Test("per-row quantization: scales are max/448 and values within half a step")
    func quantizeRows() throws {
        let rows = 5, columns = 37
        var generator = SeededGenerator(seed: 3)
        var values = (0..<(rows * columns)).map { _ in Float.random(in: -2...2, using: &generator) }
        for c in 0..<columns { values[2 * columns + c] = 0 }  // a row of zeros gets scale 1
        values[4 * columns] = 300  // an outlier sets its row's scale
        let bits = values.map(HalfConversion.bf16Bits)
        let matrix = try bits.withUnsafeBytes {
            try RowQuantizedMatrix(quantizing: $0, dtype: .bf16, rows: rows, columns: columns)
        }
        #expect(matrix.scales[2] == 1)
        #expect(matrix.scales[4] == Float(300) / 448)
        for r in 0..<rows {
            let exact = (0..<columns).map { HalfConversion.float(bf16: bits[r * columns + $0]) }
            let largest = exact.map(abs).max() ?? 0
            if largest > 0 { #expect(matrix.scales[r] == largest / 448) }
            for c in 0..<columns {
                let restored = FP8E4M3.float(matrix.values[r * columns + c]) * matrix.scales[r]
                // E4M3 keeps 3 mantissa bits: relative error at most 2^-4 for normals.
                #expect(abs(restored - exact[c]) <= abs(exact[c]) / 16 + matrix.scales[r] * 0x1p-10)
            }
        }
        let widened = matrix.bf16Bits()
        #expect(HalfConversion.float(bf16: widened[4 * columns]) == 300)
    }

    @Test("8-bit data cannot be quantized again, and sizes must match")
    func quantizeRefusals() {
        let bytes = [UInt8](repeating: 0, count: 6)
        #expect(throws: TensorError.self) {
            try bytes.withUnsafeBytes { try RowQuantizedMatrix(quantizing: $0, dtype: .f8e4m3, rows: 2, columns: 3) }
        }
        #expect(throws: TensorError.self) {
            try bytes.withUnsafeBytes { try RowQuantizedMatrix(quantizing: $0, dtype: .bf16, rows: 2, columns: 3) }
        }
    }
}
