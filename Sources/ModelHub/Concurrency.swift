/// Runs `body` over `items` with at most `limit` running at once; results keep the order of `items`.
func mapConcurrently<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async throws -> Result
) async throws -> [Result] {
    try await withThrowingTaskGroup(of: (Int, Result).self) { group in
        var results = [Result?](repeating: nil, count: items.count)
        var next = 0
        func startNext() {
            guard next < items.count else { return }
            let index = next, item = items[index]
            group.addTask { (index, try await body(item)) }
            next += 1
        }
        for _ in 0..<max(1, min(limit, items.count)) { startNext() }
        while let (index, result) = try await group.next() {
            results[index] = result
            startNext()
        }
        return results.compactMap { $0 }
    }
}
