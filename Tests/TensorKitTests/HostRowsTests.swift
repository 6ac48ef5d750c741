import TensorKit
import Testing

@Suite("HostRows: tensor elements on the host as stored")
struct HostRowsTests {
    @Test("fp32 values and bf16 bytes read back as the same floats")
    func floats() throws {
        let values: [Float] = [1, -2.5, 0.15625, .infinity, 3e-20]
        let fp32 = HostRows(values)
        #expect(fp32.dtype == .f32 && fp32.count == 5 && fp32.byteCount == 20)
        #expect(fp32.floats() == values)
        // bf16 keeps the top half of each fp32 pattern: these values are exact in bf16 (3e-20 is not).
        let exact = values.dropLast()
        let bits = exact.flatMap { value -> [UInt8] in
            let top = UInt16(value.bitPattern >> 16)
            return [UInt8(top & 0xff), UInt8(top >> 8)]
        }
        let bf16 = try HostRows(dtype: .bf16, bytes: bits)
        #expect(bf16.count == 4 && bf16.byteCount == 8)
        #expect(bf16.floats() == Array(exact))
    }

    @Test("no elements: empty floats")
    func empty() throws {
        #expect(try HostRows(dtype: .bf16, bytes: []).floats().isEmpty)
        #expect(HostRows([]).floats().isEmpty)
    }

    @Test("a byte count that is not a whole number of elements is refused")
    func partialElement() {
        #expect(throws: TensorError.self) { try HostRows(dtype: .bf16, bytes: [1, 2, 3]) }
        #expect(throws: TensorError.self) { try HostRows(dtype: .f32, bytes: [1, 2]) }
    }
}
