import Foundation

/// The validated header of a safetensors file: tensor descriptions and free-form metadata.
///
/// Layout of a file: an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON, then the
/// data region. Validation happens here, before any tensor byte is touched.
struct SafeTensorHeader: Sendable {
    /// Header lengths above this are refused as absurd (the same bound the reference reader uses).
    static let maximumHeaderLength: UInt64 = 100_000_000

    var tensors: [String: TensorInfo]
    var metadata: [String: String]
    /// Offset of the data region from the start of the file (8 + header length).
    var dataStart: Int

    /// Parses and validates the header at the start of `file` (the whole file's bytes).
    ///
    /// - Parameter path: used only in error messages.
    init(file: UnsafeRawBufferPointer, path: String) throws(SafeTensorsError) {
        guard file.count >= 8 else { throw .fileTooSmall(file: path, size: file.count) }
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(file[index]) << (8 * UInt64(index)) }
        let available = UInt64(file.count - 8)
        guard headerLength >= 2, headerLength <= available, headerLength <= Self.maximumHeaderLength else {
            throw .headerLengthInvalid(file: path, headerLength: headerLength, fileSize: file.count)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + Int(headerLength))])
        let entries = try Self.decodeJSON(headerBytes, path: path)
        dataStart = 8 + Int(headerLength)
        metadata = entries.metadata
        tensors = try Self.validate(entries.tensors, dataSize: file.count - dataStart, path: path)
    }

    // MARK: JSON

    private static func decodeJSON(_ bytes: UnsafeRawBufferPointer, path: String) throws(SafeTensorsError) -> RawHeader
    {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .headerNotUTF8(file: path) }
        let data = Data(bytes)
        do {
            return try JSONDecoder().decode(RawHeader.self, from: data)
        } catch let error as SafeTensorsError {
            throw error
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw .headerNotJSON(file: path, detail: "the top level is not an object")
        } catch let error as DecodingError {
            let keys = error.path.map(\.stringValue)
            guard let tensor = keys.first else { throw .headerNotJSON(file: path, detail: error.summary) }
            if tensor == RawHeader.metadataKey {
                throw .invalidMetadata(file: path, detail: "it must map strings to strings (\(error.summary))")
            }
            throw .invalidEntry(file: path, tensor: tensor, detail: error.summary)
        } catch {
            throw .headerNotJSON(file: path, detail: "\(error)")
        }
    }

    // MARK: Validation

    private static func validate(
        _ raw: [String: RawEntry], dataSize: Int, path: String
    ) throws(SafeTensorsError) -> [String: TensorInfo] {
        var tensors: [String: TensorInfo] = [:]
        var unsupported: [UnsupportedTensor] = []
        var spans: [(name: String, begin: Int, end: Int)] = []
        for name in raw.keys.sorted() {
            guard let entry = raw[name] else { continue }
            guard entry.dataOffsets.count == 2, entry.dataOffsets[0] >= 0, entry.dataOffsets[0] <= entry.dataOffsets[1]
            else {
                throw .offsetsInvalid(file: path, tensor: name, offsets: entry.dataOffsets)
            }
            let begin = entry.dataOffsets[0], end = entry.dataOffsets[1]
            guard end <= dataSize else {
                throw .offsetsOutOfBounds(file: path, tensor: name, end: end, dataSize: dataSize)
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw .negativeDimension(file: path, tensor: name, shape: entry.shape)
            }
            spans.append((name, begin, end))
            guard let dtype = TensorDType(safetensorsName: entry.dtype) else {
                unsupported.append(UnsupportedTensor(tensor: name, file: path, dtype: entry.dtype))
                continue
            }
            guard let byteCount = checkedByteCount(shape: entry.shape, elementSize: dtype.byteSize) else {
                throw .sizeOverflow(file: path, tensor: name, shape: entry.shape)
            }
            guard byteCount == end - begin else {
                throw .sizeMismatch(file: path, tensor: name, expectedBytes: byteCount, actualBytes: end - begin)
            }
            tensors[name] = TensorInfo(
                name: name, dtype: dtype, shape: entry.shape, byteCount: byteCount, dataOffset: begin)
        }
        try checkOverlaps(spans, path: path)
        guard unsupported.isEmpty else { throw .unsupportedDTypes(unsupported) }
        return tensors
    }

    /// Product of the shape times the element size, or nil on overflow.
    static func checkedByteCount(shape: [Int], elementSize: Int) -> Int? {
        var total = elementSize
        for dimension in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            total = product
        }
        return total
    }

    /// Two non-empty spans may not share a byte. Empty tensors occupy nothing and overlap nothing.
    private static func checkOverlaps(
        _ spans: [(name: String, begin: Int, end: Int)], path: String
    ) throws(SafeTensorsError) {
        let occupied = spans.filter { $0.end > $0.begin }.sorted {
            ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name)
        }
        guard var furthest = occupied.first else { return }
        for span in occupied.dropFirst() {
            if span.begin < furthest.end {
                throw .overlappingTensors(file: path, first: furthest.name, second: span.name)
            }
            if span.end > furthest.end { furthest = span }
        }
    }
}

// MARK: - Raw JSON shapes

/// The header object: tensor entries plus the optional `__metadata__` string map.
private struct RawHeader: Decodable {
    static let metadataKey = "__metadata__"
    var tensors: [String: RawEntry] = [:]
    var metadata: [String: String] = [:]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys {
            if key.stringValue == Self.metadataKey {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                tensors[key.stringValue] = try container.decode(RawEntry.self, forKey: key)
            }
        }
    }
}

/// One tensor's entry as written in the JSON.
private struct RawEntry: Decodable {
    var dtype: String
    var shape: [Int]
    var dataOffsets: [Int]

    enum CodingKeys: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dtype = try c.decode(String.self, forKey: .dtype)
        shape = try Self.integers(c, .shape)
        dataOffsets = try Self.integers(c, .dataOffsets)
    }

    /// An array of JSON integers; a fraction or a number too large for `Int` is reported by field.
    private static func integers(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Int] {
        let numbers = try c.decode([JSONNumber].self, forKey: key)
        guard let bad = numbers.first(where: { $0.integer == nil }) else { return numbers.compactMap(\.integer) }
        throw DecodingError.dataCorruptedError(
            forKey: key, in: c, debugDescription: "\(key.stringValue) must hold integers, found \(bad.value)")
    }
}

/// A JSON number that may or may not be an integer.
private struct JSONNumber: Decodable {
    var integer: Int?
    var value: Double

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let integer = try? c.decode(Int.self) {
            self.integer = integer
            value = Double(integer)
        } else {
            value = try c.decode(Double.self)
            integer = nil
        }
    }
}

/// A coding key for objects whose keys are data (tensor names).
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension DecodingError {
    /// A one-line account of what was wrong, without the coding path noise.
    var summary: String {
        switch self {
        case let .keyNotFound(key, _): "missing field \"\(key.stringValue)\""
        case let .typeMismatch(type, context): "\(Self.field(context)) is not \(Self.kind(type))"
        case let .valueNotFound(type, context): "\(Self.field(context)) is null, expected \(Self.kind(type))"
        case let .dataCorrupted(context): context.debugDescription
        @unknown default: "\(self)"
        }
    }

    /// The coding path where decoding failed.
    var path: [any CodingKey] {
        switch self {
        case let .keyNotFound(_, context), let .typeMismatch(_, context), let .valueNotFound(_, context),
            let .dataCorrupted(context):
            context.codingPath
        @unknown default: []
        }
    }

    /// The field inside a tensor entry that failed ("shape", "data_offsets.1"), or "the entry".
    private static func field(_ context: Context) -> String {
        let inner = context.codingPath.dropFirst().map { $0.intValue.map(String.init) ?? $0.stringValue }
        return inner.isEmpty ? "the entry" : inner.joined(separator: ".")
    }

    private static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is [Int].Type, is [Any].Type: "an array of integers"
        case is [String: Any].Type: "a JSON object"
        default: "of the expected type (\(type))"
        }
    }
}
