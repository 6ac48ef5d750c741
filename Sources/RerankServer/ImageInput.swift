import Foundation
import Reranker

/// Turns the `image` strings of a request into image bytes: a `data:` URL, bare base64, or (when the
/// server allows it) an http(s) URL fetched under ``ImageURLFetcher``'s rules.
struct ImageInputResolver: Sendable {
    /// Fetches image URLs; nil when image URLs are off.
    let fetcher: ImageURLFetcher?

    /// The item for `input`; `field` names it in error messages (`query`, `documents[3]`).
    /// - Parameter allowsEmpty: whether an item with no text and no image is scored (documents: the
    ///   prompt then holds a bare document prefix, as the reference renders it) or refused (the query).
    func item(_ input: ItemInput, field: String, allowsEmpty: Bool = false) async throws -> RerankItem {
        let text = input.text ?? ""
        guard let image = input.image, !image.isEmpty else {
            guard allowsEmpty || !text.isEmpty else {
                throw APIError.invalidRequest("\(field) is empty: give \"text\", \"image\" or both")
            }
            return RerankItem(text: text)
        }
        return RerankItem(text: text, image: .encoded(try await bytes(of: image, field: field)))
    }

    func bytes(of image: String, field: String) async throws -> Data {
        let lowered = image.prefix(8).lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            guard let fetcher else {
                throw APIError.invalidRequest(
                    "\(field).image is a URL, but this server does not fetch image URLs; send the image as base64 "
                        + "or a data: URL (or start the server with --allow-image-host)")
            }
            do {
                return try await fetcher.fetch(image)
            } catch let error as ImageFetchError {
                throw APIError(.badRequest, type: "image_fetch_failed", message: "\(field).image: \(error)")
            }
        }
        if lowered.hasPrefix("data:") {
            guard let comma = image.firstIndex(of: ",") else {
                throw APIError.invalidRequest("\(field).image is a data: URL without a comma before its data")
            }
            let header = image[image.index(image.startIndex, offsetBy: 5)..<comma].lowercased()
            guard header.split(separator: ";").contains("base64") else {
                throw APIError.invalidRequest(
                    "\(field).image is a data: URL that is not base64; use data:image/png;base64,...")
            }
            return try base64(image[image.index(after: comma)...], field: field)
        }
        return try base64(Substring(image), field: field)
    }

    /// The bytes of base64 `text`; ASCII whitespace (the line breaks of wrapped base64) is skipped.
    private func base64(_ text: Substring, field: String) throws -> Data {
        guard let data = Self.decodeBase64(text) else {
            throw APIError.invalidRequest(
                "\(field).image is not valid base64; send the file's bytes as standard base64 or a data: URL")
        }
        return data
    }

    /// Standard base64 to bytes, skipping ASCII whitespace; nil when empty or not base64. Works on the
    /// string's UTF-8 bytes in place: an image is hundreds of kilobytes of base64, and walking it as
    /// Characters (~10 ms a request) or testing each byte through `Data` (~0.4 ms an image) showed in the
    /// request's `inputs` stage.
    static func decodeBase64(_ text: Substring) -> Data? {
        let decode = { (bytes: UnsafeBufferPointer<UInt8>) -> Data? in
            guard bytes.contains(where: isASCIIWhitespace) else {
                return bytes.isEmpty ? nil : Data(base64Encoded: Data(bytes))
            }
            var compact = [UInt8]()
            compact.reserveCapacity(bytes.count)
            for byte in bytes where !isASCIIWhitespace(byte) { compact.append(byte) }
            return compact.isEmpty ? nil : Data(base64Encoded: Data(compact))
        }
        if let decoded = text.utf8.withContiguousStorageIfAvailable(decode) { return decoded }
        return Array(text.utf8).withUnsafeBufferPointer(decode)
    }

    @inline(__always) private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }
}
