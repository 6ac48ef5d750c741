import Foundation

/// Writes safetensors files laid out exactly as the reference Python/Rust `safetensors` writer does:
/// tensors ordered by dtype (widest first, in the reference's dtype order) then by name, compact
/// JSON with `__metadata__` first (keys sorted), header padded with spaces to a multiple of 8.
public enum SafeTensorWriter {
    /// One tensor to write: a dtype name, a shape and its little-endian bytes.
    public struct Tensor: Sendable {
        public let name: String
        public let dtypeName: String
        public let elementSize: Int
        public let shape: [Int]
        public let data: [UInt8]

        /// A tensor of a supported dtype.
        public init(name: String, dtype: TensorDType, shape: [Int], data: [UInt8]) {
            self.init(
                name: name, dtypeName: dtype.safetensorsName, elementSize: dtype.byteSize, shape: shape, data: data)
        }

        /// A tensor of any dtype name (for tools and tests that need F64, I64, ... files).
        public init(name: String, dtypeName: String, elementSize: Int, shape: [Int], data: [UInt8]) {
            self.name = name
            self.dtypeName = dtypeName
            self.elementSize = elementSize
            self.shape = shape
            self.data = data
        }

        /// A float tensor stored as `dtype` (rounded to nearest even when narrowing).
        public init(name: String, dtype: TensorDType, shape: [Int], values: [Float]) {
            self.init(name: name, dtype: dtype, shape: shape, data: FloatConversion.bytes(of: values, as: dtype))
        }
    }

    /// The reference writer's dtype order; tensors are written from the highest rank down.
    private static let dtypeOrder = [
        "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
    ]

    /// The complete file contents for `tensors`.
    public static func serialize(_ tensors: [Tensor], metadata: [String: String] = [:]) throws(SafeTensorsError)
        -> [UInt8]
    {
        try validate(tensors)
        let ordered = tensors.sorted { left, right in
            let leftRank = dtypeOrder.firstIndex(of: left.dtypeName) ?? -1
            let rightRank = dtypeOrder.firstIndex(of: right.dtypeName) ?? -1
            return leftRank != rightRank ? leftRank > rightRank : left.name < right.name
        }
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            entries.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in ordered {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\(jsonString(tensor.name)):{\"dtype\":\(jsonString(tensor.dtypeName)),\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(offset + tensor.data.count)]}")
            offset += tensor.data.count
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var output: [UInt8] = []
        output.reserveCapacity(8 + header.count + offset)
        let length = UInt64(header.count)
        for shift in stride(from: 0, to: 64, by: 8) {
            output.append(UInt8(truncatingIfNeeded: length >> UInt64(shift)))
        }
        output.append(contentsOf: header)
        for tensor in ordered { output.append(contentsOf: tensor.data) }
        return output
    }

    /// Writes `tensors` to `url` (replacing any file there).
    public static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to url: URL)
        throws(SafeTensorsError)
    {
        let bytes = try serialize(tensors, metadata: metadata)
        do {
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw .writeFailed(file: url.path, reason: error.localizedDescription)
        }
    }

    private static func validate(_ tensors: [Tensor]) throws(SafeTensorsError) {
        var seen: Set<String> = []
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name != "__metadata__" else {
                throw .invalidTensorForWriting(name: tensor.name, detail: "the name is empty or reserved")
            }
            guard seen.insert(tensor.name).inserted else {
                throw .invalidTensorForWriting(name: tensor.name, detail: "the name appears twice")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.elementSize > 0 else {
                throw .invalidTensorForWriting(name: tensor.name, detail: "negative dimension or element size")
            }
            guard
                let expected = SafeTensorHeader.checkedByteCount(shape: tensor.shape, elementSize: tensor.elementSize),
                expected == tensor.data.count
            else {
                throw .invalidTensorForWriting(
                    name: tensor.name,
                    detail:
                        "shape \(describe(shape: tensor.shape)) of \(tensor.dtypeName) needs a different byte count than the \(tensor.data.count) given"
                )
            }
        }
    }

    /// A JSON string literal escaped as serde_json does (quote, backslash, control characters).
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case let control where control.value < 0x20:
                result += "\\u00" + String(control.value, radix: 16).leftPadded(to: 2)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
