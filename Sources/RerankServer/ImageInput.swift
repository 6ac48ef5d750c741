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

    /// The bytes of base64 `text`; ASCII whitespace (the line breaks of wrapped base64) is skipped. Works on
    /// the UTF-8 bytes: an image is hundreds of kilobytes of base64, and walking it as Characters took ~10 ms
    /// a request.
    private func base64(_ text: Substring, field: String) throws -> Data {
        var compact = Data(text.utf8)
        let isWhitespace = { (byte: UInt8) in byte == 0x20 || (0x09...0x0D).contains(byte) }
        if compact.contains(where: isWhitespace) { compact.removeAll(where: isWhitespace) }
        guard !compact.isEmpty, let data = Data(base64Encoded: compact) else {
            throw APIError.invalidRequest(
                "\(field).image is not valid base64; send the file's bytes as standard base64 or a data: URL")
        }
        return data
    }
}
