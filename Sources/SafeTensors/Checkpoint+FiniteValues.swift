/// A tensor holding NaN or infinite values.
public struct NonFiniteTensor: Sendable, Equatable {
    /// The stored tensor name.
    public let name: String
    /// How many of its values are NaN or infinite.
    public let nonFiniteCount: Int
    /// How many values it holds.
    public let elementCount: Int
}

extension Checkpoint {
    /// Tensors of at most `elementLimit` values (norm weights, biases, weight scales and other small tensors,
    /// cheap to read in full even for a 7B model) that hold NaN or infinite values, sorted by name.
    /// An E4M3 tensor has no infinity; its NaN patterns (`0x7F`, `0xFF`) are counted from the bytes.
    public func nonFiniteSmallTensors(elementLimit: Int = 1 << 16) -> [NonFiniteTensor] {
        var found: [NonFiniteTensor] = []
        for name in tensorNames {
            guard let info = info(name), info.elementCount <= elementLimit, let bad = nonFiniteCount(info) else {
                continue
            }
            if bad > 0 {
                found.append(NonFiniteTensor(name: name, nonFiniteCount: bad, elementCount: info.elementCount))
            }
        }
        return found
    }

    /// How many of a tensor's values are NaN or infinite; nil when it cannot be read.
    private func nonFiniteCount(_ info: TensorInfo) -> Int? {
        switch info.dtype {
        case .f8e4m3:
            guard let bytes = try? bytes(info.name) else { return nil }
            return bytes.reduce(0) { $0 + ($1 & 0x7F == 0x7F ? 1 : 0) }
        case .bf16, .f16, .f32:
            guard let values = try? floats(info.name) else { return nil }
            return values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        }
    }
}
