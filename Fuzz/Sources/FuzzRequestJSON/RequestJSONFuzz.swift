import Foundation
import Hummingbird
@testable import RerankServer

/// One fuzz input: the input is the body of `POST /v1/rerank` or `POST /v2/rerank`.
///
/// Decodes it as both request shapes with the server's decoder. A body that decodes has its query and documents
/// turned into items as the server does before ranking (text checks, `data:` URLs and base64 images, image URLs
/// refused because the fuzzer's server fetches none); a body that does not is turned into the server's error
/// answer. Either way every refusal must be a 400 `invalid_request` with a message, never a crash or a 500.
func requestJSONFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let body = Data(bytes: start, count: count)
    if let request = decodeOrExplain(RerankRequestV1.self, body) {
        resolveItems(query: request.query, documents: request.documents)
    }
    if let request = decodeOrExplain(RerankRequestV2.self, body) {
        resolveItems(query: request.query, documents: request.documents)
    }
    return 0
}

/// The decoded request, or nil after checking that the server answers its decoding error with a 400.
func decodeOrExplain<Request: Decodable>(_ type: Request.Type, _ body: Data) -> Request? {
    do {
        return try JSONDecoder().decode(type, from: body)
    } catch {
        expectClientError(error)
        return nil
    }
}

/// Resolves every item as `RerankController` does before ranking; refusals must be client errors.
func resolveItems(query: ItemInput, documents: [ItemInput]) {
    let resolver = ImageInputResolver(fetcher: nil)
    let items = [("query", query)] + documents.enumerated().map { ("documents[\($0.offset)]", $0.element) }
    for (field, item) in items {
        runBlocking {
            do {
                _ = try await resolver.item(item, field: field)
            } catch {
                expectClientError(error)
            }
        }
    }
}

/// The server's answer to `error` must be a 4xx with a message, as the error middleware renders it.
func expectClientError(_ error: any Error) {
    let answer = ObservabilityMiddleware<BasicRequestContext>.apiError(for: error)
    precondition(
        (400..<500).contains(answer.status.code) && !answer.message.isEmpty,
        "a bad request became \(answer.status.code) \(answer.type): \(answer.message) (from \(error))")
}

/// Runs `work` to completion on the cooperative pool and waits for it (the harness entry point is synchronous).
func runBlocking(_ work: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await work()
        done.signal()
    }
    done.wait()
}
