import Foundation

extension KeyedDecodingContainer {
    /// A whole number that clients may send as `3` or `3.0`; `1.5` or `1e30` is an error that names the
    /// field (Foundation's decoder would call the whole body "not valid JSON").
    func decodeWholeNumberIfPresent(forKey key: Key) throws -> Int? {
        guard let value = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        guard value.isFinite, value == value.rounded(), abs(value) < 9.0e15 else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath + [key],
                    debugDescription: "must be a whole number, got \(value)"))
        }
        return Int(value)
    }
}
