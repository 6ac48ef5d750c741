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
    /// Tensors of at most `elementLimit` values (norm weights, biases and other small tensors, cheap to
    /// read in full even for a 7B model) that hold NaN or infinite values, sorted by name.
    public func nonFiniteSmallTensors(elementLimit: Int = 1 << 16) -> [NonFiniteTensor] {
        var found: [NonFiniteTensor] = []
        for name in tensorNames {
            guard let info = info(name), info.elementCount <= elementLimit, let file = file(containing: name),
                let values = try? file.floats(name)
            else { continue }
            let bad = values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            if bad > 0 { found.append(NonFiniteTensor(name: name, nonFiniteCount: bad, elementCount: values.count)) }
        }
        return found
    }
}
