import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite("Writer: byte-identical to the reference writer, round trips through the reader")
struct WriterTests {
    /// The tensors `tools/make_layout_fixtures.py` wrote into writer-reference.safetensors.
    static let referenceTensors: [SafeTensorWriter.Tensor] = [
        .init(name: "a.bf16", dtype: .bf16, shape: [2, 3], values: [1, -2, 0.5, 3.14159, 1e-3, -0.0]),
        .init(name: "b.f16", dtype: .f16, shape: [4], values: [1, 65504, 6e-8, -.infinity]),
        .init(name: "c.f32", dtype: .f32, shape: [2, 2], values: [0.1, 0.2, 0.3, 0.4]),
        .init(name: "d.empty", dtype: .f32, shape: [0, 3], values: []),
        .init(name: "é/quoted\"name", dtype: .f16, shape: [1], values: [2.5]),
    ]
    static let referenceMetadata = ["format": "pt"]

    @Test func matchesReferenceWriterByteForByte() throws {
        let reference = try Data(contentsOf: Fixtures.url("models/writer-reference.safetensors"))
        let ours = try SafeTensorWriter.serialize(Self.referenceTensors, metadata: Self.referenceMetadata)
        #expect(ours == Array(reference))
    }

    @Test func readsReferenceValuesExactly() throws {
        struct Expected: Decodable {
            struct Tensor: Decodable { let dtype: String; let shape: [Int]; let float32_bits: [UInt32] }
            let metadata: [String: String]
            let tensors: [String: Tensor]
        }
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: Fixtures.url("models/writer-reference.json")))
        let file = try SafeTensorFile(url: Fixtures.url("models/writer-reference.safetensors"))
        #expect(file.metadata == expected.metadata)
        #expect(Set(file.tensorNames) == Set(expected.tensors.keys))
        for (name, tensor) in expected.tensors {
            let info = try #require(file.tensors[name])
            #expect(info.dtype.safetensorsName == tensor.dtype)
            #expect(info.shape == tensor.shape)
            #expect(try file.floats(name).map(\.bitPattern) == tensor.float32_bits, "\(name)")
        }
    }

    @Test func roundTripThroughTheReader() throws {
        let folder = try Fixtures.temporaryDirectory("writer")
        let url = folder.appendingPathComponent("round.safetensors")
        var generator = SystemRandomNumberGenerator()
        let values = (0..<300).map { _ in Float.random(in: -4...4, using: &generator) }
        try SafeTensorWriter.write(
            [
                .init(name: "w32", dtype: .f32, shape: [10, 30], values: values),
                .init(name: "w16", dtype: .f16, shape: [300], values: values),
                .init(name: "wbf", dtype: .bf16, shape: [3, 100], values: values),
            ], metadata: ["k": "v", "quote\"": "line\nbreak\u{1}é"], to: url)
        let file = try SafeTensorFile(url: url)
        #expect(try file.floats("w32") == values)
        #expect(try file.floats("w16") == values.map { FloatConversion.f16ToFloat(FloatConversion.floatToF16($0)) })
        #expect(try file.floats("wbf") == values.map { FloatConversion.bf16ToFloat(FloatConversion.floatToBF16($0)) })
        #expect(file.tensors["wbf"]?.byteCount == 600)
        #expect(file.tensors["wbf"]?.elementCount == 300)
        #expect(try file.bytes("w32").count == 1200)
        #expect(file.metadata == ["k": "v", "quote\"": "line\nbreak\u{1}é"])
    }

    @Test func refusesDuplicateNames() {
        let tensor = SafeTensorWriter.Tensor(name: "x", dtype: .f32, shape: [1], values: [1])
        #expect(throws: SafeTensorsError.invalidTensorForWriting(name: "x", detail: "the name appears twice")) {
            try SafeTensorWriter.serialize([tensor, tensor])
        }
    }

    @Test func refusesDataOfTheWrongSize() {
        let tensor = SafeTensorWriter.Tensor(name: "x", dtype: .f32, shape: [2], data: [0, 0, 0])
        #expect {
            try SafeTensorWriter.serialize([tensor])
        } throws: { error in
            "\(error)".contains("cannot write tensor x") && "\(error)".contains("3 given")
        }
    }

    @Test func refusesReservedName() {
        let tensor = SafeTensorWriter.Tensor(name: "__metadata__", dtype: .f32, shape: [1], values: [1])
        #expect(
            throws: SafeTensorsError.invalidTensorForWriting(
                name: "__metadata__", detail: "the name is empty or reserved")
        ) {
            try SafeTensorWriter.serialize([tensor])
        }
    }

    @Test func writeFailureNamesTheFile() {
        let url = URL(fileURLWithPath: "/nonexistent-folder-for-test/x.safetensors")
        #expect {
            try SafeTensorWriter.write([], to: url)
        } throws: { error in
            "\(error)".contains("cannot write /nonexistent-folder-for-test/x.safetensors")
        }
    }
}
