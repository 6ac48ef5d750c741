import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite("Header validation refuses hostile files with a message naming file and tensor")
struct HeaderValidationTests {
    let files: HostileFiles
    init() throws { files = try HostileFiles() }

    private func expectError(_ url: URL, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let error = HostileFiles.openError(url)
        #expect(error != nil, "file opened but should have been refused", sourceLocation: sourceLocation)
        let message = error?.description ?? ""
        for fragment in fragments {
            #expect(message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"", sourceLocation: sourceLocation)
        }
    }

    @Test func missingFile() {
        expectError(files.folder.appendingPathComponent("absent.safetensors"), ["cannot open", "absent.safetensors"])
    }

    @Test func fileShorterThanLengthPrefix() throws {
        expectError(try files.file("tiny.safetensors", bytes: [1, 2, 3]), ["tiny.safetensors", "3 bytes, too small"])
    }

    @Test func headerLongerThanFile() throws {
        let url = try files.file("long.safetensors", header: "{}", declaredLength: 1000)
        expectError(url, ["long.safetensors", "1000-byte header", "truncated"])
    }

    @Test func absurdHeaderLength() throws {
        let url = try files.file("absurd.safetensors", header: "{}", declaredLength: UInt64.max)
        expectError(url, ["absurd.safetensors", "\(UInt64.max)-byte header"])
    }

    @Test func zeroHeaderLength() throws {
        expectError(
            try files.file("zero.safetensors", header: "", declaredLength: 0), ["zero.safetensors", "0-byte header"])
    }

    @Test func headerNotUTF8() throws {
        let url = try files.file(
            "latin1.safetensors", bytes: HostileFiles.bytes(header: [0x7b, 0xff, 0xfe, 0x7d], data: []))
        expectError(url, ["latin1.safetensors", "not valid UTF-8"])
    }

    @Test func headerNotJSON() throws {
        expectError(
            try files.file("json.safetensors", header: "{\"a\": [1, "), ["json.safetensors", "not a valid JSON object"])
    }

    @Test func headerNotAnObject() throws {
        expectError(
            try files.file("array.safetensors", header: "[1, 2]  "),
            ["array.safetensors", "top level is not an object"])
    }

    @Test func entryMissingDType() throws {
        let url = try files.file(
            "nodtype.safetensors", header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "nodtype.safetensors", "missing field \"dtype\""])
    }

    @Test func entryWithFractionalOffset() throws {
        let url = try files.file(
            "frac.safetensors", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#,
            data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "frac.safetensors", "data_offsets must hold integers, found 4.5"])
    }

    @Test func offsetTooLargeForInt() throws {
        let url = try files.file(
            "huge.safetensors", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,1e30]}}"#,
            data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "data_offsets must hold integers"])
    }

    @Test func entryShapeNotArray() throws {
        let url = try files.file(
            "shape.safetensors", header: #"{"w":{"dtype":"F32","shape":"big","data_offsets":[0,4]}}"#,
            data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "shape is not an array of integers"])
    }

    @Test func metadataNotStrings() throws {
        let url = try files.file("meta.safetensors", header: #"{"__metadata__":{"n":1}}"#)
        expectError(url, ["__metadata__", "meta.safetensors", "strings to strings"])
    }

    @Test func offsetsPastEnd() throws {
        let url = try files.file(
            "past.safetensors", header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "past.safetensors", "ends at byte 8", "only 4 bytes", "truncated"])
    }

    @Test func reversedOffsets() throws {
        let url = try files.file(
            "rev.safetensors", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "data_offsets [4, 0]", "begin <= end"])
    }

    @Test func threeOffsets() throws {
        let url = try files.file(
            "three.safetensors", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
            data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "data_offsets [0, 4, 8]"])
    }

    @Test func negativeDimension() throws {
        let url = try files.file(
            "neg.safetensors", header: #"{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,4]}}"#,
            data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "negative dimension", "[-1, 4]"])
    }

    @Test func sizeDisagreesWithShape() throws {
        let url = try files.file(
            "size.safetensors", header: #"{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}"#,
            data: Array(repeating: 0, count: 8))
        expectError(url, ["tensor w in file", "spans 8 bytes", "need 6"])
    }

    @Test func shapeProductOverflows() throws {
        let big = Int.max / 2
        let url = try files.file(
            "overflow.safetensors",
            header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(big),\(big)],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])
        expectError(url, ["tensor w in file", "overflows"])
    }

    @Test func overlappingTensors() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let url = try files.file("overlap.safetensors", header: header, data: Array(repeating: 0, count: 12))
        expectError(url, ["tensors a and b", "overlap.safetensors", "overlap"])
    }

    @Test func emptyTensorsMayShareAnOffset() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"F16","shape":[0,7],"data_offsets":[4,4]}}"#
        let file = try SafeTensorFile(url: try files.file("empty.safetensors", header: header, data: [0, 0, 128, 63]))
        #expect(file.tensorNames == ["a", "b", "c"])
        #expect(try file.floats("b") == [1.0])
        #expect(try file.floats("a").isEmpty)
    }

    @Test func unsupportedDTypesAreListedByName() throws {
        let header =
            #"{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"y":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"z":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[16,18]},"ok":{"dtype":"F32","shape":[1],"data_offsets":[18,22]}}"#
        let url = try files.file("dtypes.safetensors", header: header, data: Array(repeating: 0, count: 22))
        let path = url.path
        expectError(
            url,
            [
                "tensor x in file \(path) has dtype F64; only BF16, F16, F32, F8_E4M3 are supported",
                "tensor y in file \(path) has dtype I64; only BF16, F16, F32, F8_E4M3 are supported",
                "tensor z in file \(path) has dtype F8_E5M2; only BF16, F16, F32, F8_E4M3 are supported (E4M3 is the 8-bit float type supported: use an FP8 checkpoint quantized to F8_E4M3, or a BF16 one)",
            ])
        #expect(HostileFiles.openError(url)?.description.contains("tensor ok") == false)
    }

    @Test func truncatedCopyOfARealFile() throws {
        let original = try Data(contentsOf: Fixtures.url("models/tiny-legacy-untied/model.safetensors"))
        let url = try files.file("cut.safetensors", bytes: Array(original.prefix(original.count - 100)))
        expectError(url, ["cut.safetensors", "truncated"])
    }

    @Test func truncatedInsideHeader() throws {
        let original = try Data(contentsOf: Fixtures.url("models/tiny-legacy-untied/model.safetensors"))
        let url = try files.file("cuthead.safetensors", bytes: Array(original.prefix(200)))
        expectError(url, ["cuthead.safetensors", "byte header"])
    }

    @Test func directoryIsNotAFile() {
        expectError(files.folder, ["cannot open", "not a regular file"])
    }

    @Test func unknownTensorNameIsAnError() throws {
        let file = try SafeTensorFile(url: Fixtures.url("models/tiny-legacy-untied/model.safetensors"))
        #expect(throws: SafeTensorsError.tensorNotFound(name: "nope", location: file.url.path)) {
            try file.bytes("nope")
        }
    }
}
