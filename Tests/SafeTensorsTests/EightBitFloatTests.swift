import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite("F8_E4M3: headers, exact conversions, NaN in the finite-values check")
struct EightBitFloatTests {
    let files: HostileFiles
    init() throws { files = try HostileFiles() }

    @Test func headerEntryIsReadAsOneBytePerElement() throws {
        let header =
            #"{"w":{"dtype":"F8_E4M3","shape":[2,3],"data_offsets":[0,6]},"s":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]}}"#
        let data: [UInt8] = [0x38, 0xB8, 0x7E, 0x00, 0x01, 0x08, 0, 0] + FloatConversion.bytes(of: [0.5, 2], as: .f32)
        let file = try SafeTensorFile(url: try files.file("f8.safetensors", header: header, data: data))
        let info = try #require(file.tensors["w"])
        #expect(info.dtype == .f8e4m3 && info.shape == [2, 3] && info.byteCount == 6 && info.elementCount == 6)
        #expect(try file.floats("w") == [1, -1, 448, 0, 0x1p-9, 0x1p-6])
        #expect(TensorDType(safetensorsName: "F8_E4M3") == .f8e4m3 && TensorDType.f8e4m3.byteSize == 1)
    }

    @Test func eightBitSizeMismatchIsReported() throws {
        let header = #"{"w":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,6]}}"#
        let url = try files.file("f8size.safetensors", header: header, data: Array(repeating: 0, count: 6))
        let message = HostileFiles.openError(url)?.description ?? ""
        #expect(message.contains("tensor w in file") && message.contains("spans 6 bytes") && message.contains("need 3"))
    }

    @Test(arguments: ["F8_E5M2", "F8_E8M0"])
    func otherEightBitFloatsAreRefusedByName(dtype: String) throws {
        let header = "{\"w\":{\"dtype\":\"\(dtype)\",\"shape\":[2],\"data_offsets\":[0,2]}}"
        let url = try files.file("e5m2.safetensors", header: header, data: [0, 0])
        #expect(
            HostileFiles.openError(url)?.description
                == "tensor w in file \(url.path) has dtype \(dtype); only BF16, F16, F32, F8_E4M3 are supported "
                + "(E4M3 is the 8-bit float type supported: use an FP8 checkpoint quantized to F8_E4M3, or a BF16 one)")
    }

    @Test func everyPatternDecodesToTheFormula() {
        for bits in UInt8.min...UInt8.max {
            let value = FloatConversion.e4m3ToFloat(bits)
            let exponent = Int(bits >> 3) & 0xF, mantissa = Double(bits & 7)
            let sign: Double = bits & 0x80 == 0 ? 1 : -1
            if bits & 0x7F == 0x7F {
                #expect(value.isNaN, "pattern \(bits)")
                continue
            }
            let expected =
                exponent == 0 ? sign * mantissa / 8 * 0x1p-6 : sign * (1 + mantissa / 8) * pow(2, Double(exponent - 7))
            #expect(Double(value) == expected, "pattern \(bits)")
            #expect(FloatConversion.floatToE4M3(value) == bits, "pattern \(bits) round trip")
        }
        #expect(FloatConversion.e4m3ToFloat(0x80).sign == .minus)
    }

    @Test(arguments: [
        (Float(1.0625), UInt8(0x38)),  // tie between 1 and 1.125: even mantissa
        (1.1875, 0x3A),  // tie between 1.125 and 1.25: even mantissa
        (1.07, 0x39),
        (0x1p-10, 0x00),  // half the smallest subnormal: ties to zero
        (0x1.8p-9, 0x02),  // 1.5 subnormal steps: ties to 2
        (0x1.fp-7, 0x08),  // just below the smallest normal rounds up to it
        (240, 0x77), (464, 0x7E), (500, 0x7E), (1e9, 0x7E), (-1e9, 0xFE), (.infinity, 0x7E), (-0.0, 0x80),
    ])
    func roundsToNearestEvenAndSaturates(value: Float, expected: UInt8) {
        #expect(FloatConversion.floatToE4M3(value) == expected, "\(value)")
    }

    @Test func nanStaysNaN() {
        #expect(FloatConversion.floatToE4M3(.nan) & 0x7F == 0x7F)
        #expect(FloatConversion.e4m3ToFloat(0xFF).isNaN)
    }

    @Test func writerStoresEightBitValues() throws {
        let tensor = SafeTensorWriter.Tensor(name: "w", dtype: .f8e4m3, shape: [4], values: [1, -0.5, 1000, 0.3])
        #expect(tensor.data == [0x38, 0xB0, 0x7E, 0x2A])
        let url = files.folder.appendingPathComponent("written.safetensors")
        try SafeTensorWriter.write([tensor], to: url)
        #expect(try SafeTensorFile(url: url).floats("w") == [1, -0.5, 448, 0.3125])
    }

    @Test func eightBitNaNIsFoundByTheFiniteValuesCheck() throws {
        let url = files.folder.appendingPathComponent("model.safetensors")
        try SafeTensorWriter.write(
            [
                .init(name: "bad", dtype: .f8e4m3, shape: [4], data: [0x7F, 0x38, 0xFF, 0x7E]),
                .init(name: "good", dtype: .f8e4m3, shape: [2], data: [0x7E, 0xFE]),
            ], to: url)
        let checkpoint = try Checkpoint(url: url)
        let found = checkpoint.nonFiniteSmallTensors()
        #expect(found.map(\.name) == ["bad"] && found.first?.nonFiniteCount == 2 && found.first?.elementCount == 4)
    }
}
