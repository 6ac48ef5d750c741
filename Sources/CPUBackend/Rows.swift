import TensorKit

extension CPUBackend {
    public func gatherRows(_ x: Tensor, indices: [Int32]) throws -> Tensor {
        let shape = try OpChecks.gatherRows(x, indices: indices)
        let input = try floats(x, op: "gatherRows", argument: "x")
        let (output, result) = try makeFloatTensor(shape: shape)
        let width = x.rowWidth
        guard width > 0 else { return output }
        indices.withUnsafeBufferPointer { indices in
            parallel.forEachChunk(of: indices.count, minChunk: max(1, (1 << 14) / width)) { chunk in
                for i in chunk {
                    (result + i * width).update(from: input + Int(indices[i]) * width, count: width)
                }
            }
        }
        return output
    }

    public func scatterRows(_ rows: Tensor, into destination: Tensor, at indices: [Int32]) throws {
        try OpChecks.scatterRows(rows, into: destination, at: indices)
        let source = try floats(rows, op: "scatterRows", argument: "rows")
        let target = try writableFloats(destination, op: "scatterRows", argument: "destination")
        let width = rows.rowWidth
        guard width > 0 else { return }
        indices.withUnsafeBufferPointer { indices in
            parallel.forEachChunk(of: indices.count, minChunk: max(1, (1 << 14) / width)) { chunk in
                for i in chunk {
                    (target + Int(indices[i]) * width).update(from: source + i * width, count: width)
                }
            }
        }
    }

    public func concatenateRows(_ parts: [Tensor]) throws -> Tensor {
        let shape = try OpChecks.concatenateRows(parts)
        let (output, result) = try makeFloatTensor(shape: shape)
        var offset = 0
        for part in parts {
            let count = part.elementCount
            (result + offset).update(from: try floats(part, op: "concatenateRows", argument: "parts"), count: count)
            offset += count
        }
        return output
    }

    public func embedding(_ table: Tensor, ids: [Int32]) throws -> Tensor {
        let width = try OpChecks.embedding(table, ids: ids)
        let rows = try hostBytes(table, op: "embedding")
        let (output, result) = try makeFloatTensor(shape: [ids.count, width])
        guard width > 0 else { return output }
        let rowBytes = width * table.dtype.byteSize
        let dtype = table.dtype
        let scales = try table.rowScales.map { try scaleValues($0, op: "embedding") }
        ids.withUnsafeBufferPointer { ids in
            parallel.forEachChunk(of: ids.count, minChunk: max(1, (1 << 14) / width)) { chunk in
                for i in chunk {
                    let row = Int(ids[i])
                    if let scales {
                        convertScaledRows(
                            rows + row * rowBytes, scales: scales + row, rows: 1, columns: width,
                            into: result + i * width)
                    } else {
                        convertToFloat(rows + row * rowBytes, dtype: dtype, into: result + i * width, count: width)
                    }
                }
            }
        }
        return output
    }
}
