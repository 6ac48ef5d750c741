import Foundation

/// One fuzz input: the body of `POST /v1/rerank` or `POST /v2/rerank`.
///
/// `APITypes.swift`, `ItemInput.swift` and `WholeNumberDecoding.swift` here are links to the server's own files, so
/// the request types fuzzed here are the server's, compiled without its HTTP stack (Fuzz/Package.swift says why). The body
/// is decoded as both shapes with `JSONDecoder`, as `RerankController.decode` does. What must hold:
/// - a refusal is a `DecodingError`, the one kind of error the server answers with a 400 naming the field (any
///   other error would become a 500);
/// - a decoded request's items survive the server's echo (`return_documents`): encoding them and decoding the
///   result gives the same items.
func requestJSONFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let body = Data(bytes: start, count: count)
    if let request = decodeOrCheckRefusal(RerankRequestV1.self, body) {
        checkEcho([request.query] + request.documents)
    }
    if let request = decodeOrCheckRefusal(RerankRequestV2.self, body) {
        checkEcho([request.query] + request.documents)
    }
    return 0
}

/// The decoded request, or nil after checking that the refusal is a `DecodingError`.
func decodeOrCheckRefusal<Request: Decodable>(_ shape: Request.Type, _ body: Data) -> Request? {
    do {
        return try JSONDecoder().decode(shape, from: body)
    } catch {
        precondition(error is DecodingError, "a bad body threw \(type(of: error)), which the server answers 500")
        return nil
    }
}

/// Items encoded as the server echoes them, then decoded, must be the same items.
func checkEcho(_ items: [ItemInput]) {
    do {
        let encoded = try JSONEncoder().encode(items)
        let decoded = try JSONDecoder().decode([ItemInput].self, from: encoded)
        precondition(decoded == items, "items changed through an echo: \(items) became \(decoded)")
    } catch {
        preconditionFailure("decoded items cannot be echoed: \(error)")
    }
}
