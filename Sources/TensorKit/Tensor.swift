/// Memory that holds a tensor's elements on some device.
///
/// Each backend defines its own storage class (host memory, a CUDA allocation) and recognises its own
/// tensors by it. Storage is reference counted: tensors that share it see each other's writes.
public protocol TensorStorage: AnyObject, Sendable {
    /// Size of the memory in bytes.
    var byteCount: Int { get }
    /// Where the memory lives, for error messages ("CPU", "CUDA device 0").
    var deviceName: String { get }
}

/// A handle to an n-dimensional, row-major, contiguous array living on a backend's device.
///
/// Copying a `Tensor` copies the handle, not the elements: both copies refer to the same storage.
/// Ops on a ``Backend`` read tensors and return new ones; only ``Backend/scatterRows(_:into:at:)``
/// writes into an existing tensor. `reshaped` and `rows` are free: they make new handles onto the
/// same storage.
public struct Tensor: Sendable {
    /// Extent of each axis, outermost first.
    public let shape: [Int]
    /// Element type.
    public let dtype: DType
    /// The memory the elements live in.
    public let storage: any TensorStorage
    /// Where the first element starts inside `storage`, in bytes.
    public let byteOffset: Int
    /// For an 8-bit weight (``DType/f8e4m3``): the fp32 scale of each row (the first axis), so that an
    /// element's value is its stored value times its row's scale. Nil for every other tensor.
    public let rowScales: RowScales?

    /// Wraps `storage` as a tensor of `shape` and `dtype` starting at `byteOffset`.
    ///
    /// - Throws: ``TensorError/invalidShape(_:)`` for a negative dimension,
    ///   ``TensorError/byteCountMismatch(expected:actual:)`` when the storage is too small.
    public init(
        shape: [Int], dtype: DType, storage: any TensorStorage, byteOffset: Int = 0, rowScales: RowScales? = nil
    ) throws {
        let count = try Tensor.elementCount(of: shape)
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw TensorError.invalidShape(shape) }
        guard byteOffset >= 0, byteOffset <= storage.byteCount, bytes <= storage.byteCount - byteOffset else {
            throw TensorError.byteCountMismatch(expected: byteOffset + bytes, actual: storage.byteCount)
        }
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.byteOffset = byteOffset
        if let rowScales, rowScales.count != (shape.first ?? 1) {
            throw TensorError.shapeMismatch(
                op: "rowScales", detail: "\(rowScales.count) scales for a tensor of \(shape.first ?? 1) rows")
        }
        self.rowScales = rowScales
    }

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Number of bytes the elements occupy.
    public var byteCount: Int { elementCount * dtype.byteSize }

    /// Number of axes.
    public var rank: Int { shape.count }

    /// Extent of the first axis (rows), or 1 for a scalar.
    public var rowCount: Int { shape.first ?? 1 }

    /// Elements per row: the product of every axis after the first.
    public var rowWidth: Int { shape.dropFirst().reduce(1, *) }

    /// The same elements seen with another shape of the same element count.
    ///
    /// - Throws: ``TensorError/shapeMismatch(op:detail:)`` when the element counts differ.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let count = try Tensor.elementCount(of: newShape)
        guard count == elementCount else {
            throw TensorError.shapeMismatch(
                op: "reshape", detail: "\(shape) has \(elementCount) elements, \(newShape) has \(count)")
        }
        guard rowScales == nil || newShape.first == shape.first else {
            throw TensorError.shapeMismatch(
                op: "reshape", detail: "a weight with row scales keeps its rows: \(shape) -> \(newShape)")
        }
        return try Tensor(shape: newShape, dtype: dtype, storage: storage, byteOffset: byteOffset, rowScales: rowScales)
    }

    /// Rows `range` of the first axis, sharing storage (used to split a fused qkv weight, for example).
    ///
    /// - Throws: ``TensorError/shapeMismatch(op:detail:)`` for a scalar or a range outside the rows.
    public func rows(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw TensorError.shapeMismatch(
                op: "rows", detail: "rows \(range) requested from a tensor of shape \(shape)")
        }
        var newShape = shape
        newShape[0] = range.count
        let rowBytes = rowWidth * dtype.byteSize
        return try Tensor(
            shape: newShape, dtype: dtype, storage: storage, byteOffset: byteOffset + range.lowerBound * rowBytes,
            rowScales: rowScales?.rows(range))
    }

    /// The product of `shape`, checking for negative dimensions and overflow.
    public static func elementCount(of shape: [Int]) throws -> Int {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { throw TensorError.invalidShape(shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw TensorError.invalidShape(shape) }
            count = product
        }
        return count
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(shape), \(dtype), \(storage.deviceName))" }
}

/// The fp32 scales of an 8-bit weight's rows, living beside it on its backend's device.
public struct RowScales: Sendable {
    /// The memory the scales live in.
    public let storage: any TensorStorage
    /// Where the first scale starts inside `storage`, in bytes.
    public let byteOffset: Int
    /// Number of scales (rows).
    public let count: Int

    public init(storage: any TensorStorage, byteOffset: Int = 0, count: Int) throws {
        guard count >= 0, byteOffset >= 0, byteOffset + count * 4 <= storage.byteCount else {
            throw TensorError.byteCountMismatch(expected: byteOffset + count * 4, actual: storage.byteCount)
        }
        self.storage = storage
        self.byteOffset = byteOffset
        self.count = count
    }

    /// The scales of rows `range`.
    func rows(_ range: Range<Int>) throws -> RowScales {
        try RowScales(storage: storage, byteOffset: byteOffset + range.lowerBound * 4, count: range.count)
    }
}
