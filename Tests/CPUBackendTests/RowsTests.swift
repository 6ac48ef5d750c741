import CPUBackend
import TensorKit
import Testing

/// gatherRows, scatterRows and embedding move values without arithmetic: results must be exact.
@Suite("CPU row ops")
struct RowsTests {
    @Test("rows downloaded as stored upload back to the same tensor, several parts one after another")
    func hostRowsRoundTrip() throws {
        let backend = CPUBackend()
        var random = SeededGenerator(seed: 43)
        let a = random.floats(12), b = random.floats(8)
        let rows = [try backend.downloadRows(try backend.upload(a, shape: [3, 4])), HostRows(b)]
        #expect(rows[0].dtype == backend.activationDType)
        let joined = try backend.upload(rows: rows, shape: [5, 4])
        #expect(try backend.download(joined) == a + b)
        #expect(throws: TensorError.self) { try backend.upload(rows: rows, shape: [6, 4]) }
    }

    @Test(arguments: Backends.all)
    func gatherRows(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 41)
        for shape in [[7], [7, 3], [50, 4, 5], [2000, 9]] {
            let values = random.floats(shape.reduce(1, *))
            let width = shape.dropFirst().reduce(1, *)
            let indices = (0..<(shape[0] + 3)).map { _ in Int32.random(in: 0..<Int32(shape[0]), using: &random) }
            let y = try backend.gatherRows(try backend.upload(values, shape: shape), indices: indices)
            #expect(y.shape == [indices.count] + shape.dropFirst())
            let expected = indices.flatMap { values[Int($0) * width..<(Int($0) + 1) * width] }
            #expect(try backend.download(y) == expected)
        }
        let none = try backend.gatherRows(try backend.upload([1, 2], shape: [1, 2]), indices: [])
        #expect(none.shape == [0, 2])
    }

    @Test("Gathering with a permutation and then its inverse restores the rows", arguments: Backends.all)
    func permutationRoundTrip(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 42)
        let values = random.floats(64 * 5)
        let permutation = (0..<64).map(Int32.init).shuffled(using: &random)
        var inverse = [Int32](repeating: 0, count: 64)
        for (i, p) in permutation.enumerated() { inverse[Int(p)] = Int32(i) }
        let x = try backend.upload(values, shape: [64, 5])
        let back = try backend.gatherRows(try backend.gatherRows(x, indices: permutation), indices: inverse)
        #expect(try backend.download(back) == values)
    }

    @Test(arguments: Backends.all)
    func scatterRows(backend: CPUBackend) throws {
        var random = SeededGenerator(seed: 43)
        for (rowsCount, width, written) in [(1, 1, 1), (10, 3, 4), (3000, 7, 1200)] {
            let base = random.floats(rowsCount * width)
            let targets = Array((0..<Int32(rowsCount)).shuffled(using: &random).prefix(written))
            let rows = random.floats(written * width)
            let destination = try backend.upload(base, shape: [rowsCount, width])
            let alias = destination  // a second handle onto the same storage
            try backend.scatterRows(try backend.upload(rows, shape: [written, width]), into: destination, at: targets)
            var expected = base
            for (i, target) in targets.enumerated() {
                expected.replaceSubrange(
                    Int(target) * width..<(Int(target) + 1) * width, with: rows[i * width..<(i + 1) * width])
            }
            #expect(try backend.download(alias) == expected)
        }
    }

    @Test(arguments: Backends.all, DType.allCases)
    func embedding(backend: CPUBackend, dtype: DType) throws {
        var random = SeededGenerator(seed: 44)
        let (vocab, width) = (97, 13)
        let (table, exact) = try makeWeight(
            backend, random.floats(vocab * width, in: -4...4), shape: [vocab, width], dtype: dtype)
        let ids = (0..<300).map { _ in Int32.random(in: 0..<Int32(vocab), using: &random) } + [0, Int32(vocab - 1)]
        let y = try backend.embedding(table, ids: ids)
        #expect(y.shape == [ids.count, width])
        #expect(try backend.download(y) == ids.flatMap { exact[Int($0) * width..<(Int($0) + 1) * width] })
    }
}
