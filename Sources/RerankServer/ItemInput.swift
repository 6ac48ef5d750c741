import Foundation

/// A query or a document as clients send it, in any of the dialects:
/// - a bare string (text);
/// - an object with `text` and/or `image` (base64, a `data:` URL, or an http(s) URL when the server
///   allows image URLs), plus any other string, number or boolean fields (Cohere v1 structured
///   documents, ranked by `rank_fields`);
/// - a vLLM multimodal object `{"content": [{"type": "text", "text"}, {"type": "image_url",
///   "image_url": {"url"}}]}`: its text parts joined in order, at most one image (placed before the text,
///   as Lychee lays items out).
public struct ItemInput: Codable, Sendable, Equatable {
    public var text: String?
    public var image: String?
    /// The object's other scalar fields, as text (`rank_fields` may name them).
    public var fields: [String: String]

    public init(text: String? = nil, image: String? = nil, fields: [String: String] = [:]) {
        self.text = text
        self.image = image
        self.fields = fields
    }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.singleValueContainer(), let text = try? container.decode(String.self) {
            self.init(text: text)
            return
        }
        guard let object = try? decoder.container(keyedBy: AnyKey.self) else {
            throw DecodingError.typeMismatch(
                ItemInput.self,
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "expected a string, an object with \"text\" and/or \"image\", or "
                        + "{\"content\": [parts]}"))
        }
        // `content` as a list is vLLM's parts; as a string it is an ordinary field (`rank_fields`).
        if (try? object.nestedUnkeyedContainer(forKey: AnyKey("content"))) != nil {
            self = try Self.decodeContent(try object.decode([ContentPart].self, forKey: AnyKey("content")), in: decoder)
            return
        }
        var fields = [String: String]()
        for key in object.allKeys where key.stringValue != "text" && key.stringValue != "image" {
            if let value = try? object.decode(String.self, forKey: key) {
                fields[key.stringValue] = value
            } else if let value = try? object.decode(Bool.self, forKey: key) {
                fields[key.stringValue] = String(value)
            } else if let value = try? object.decode(Double.self, forKey: key) {
                fields[key.stringValue] =
                    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            }
        }
        self.init(
            text: try object.decodeIfPresent(String.self, forKey: AnyKey("text")),
            image: try object.decodeIfPresent(String.self, forKey: AnyKey("image")),
            fields: fields)
    }

    public func encode(to encoder: any Encoder) throws {
        var object = encoder.container(keyedBy: AnyKey.self)
        try object.encodeIfPresent(text, forKey: AnyKey("text"))
        try object.encodeIfPresent(image, forKey: AnyKey("image"))
        for (name, value) in fields { try object.encode(value, forKey: AnyKey(name)) }
    }

    /// The item as `return_documents` echoes it: text and fields as sent, an image only when it is an
    /// http(s) URL (never megabytes of base64 sent back).
    public var echoed: ItemInput {
        var copy = self
        if let image, !Self.isURL(image) { copy.image = nil }
        return copy
    }

    /// The text the model reads when `rank_fields` names fields: `name: value` lines in the given order,
    /// fields the item lacks left out (`text` is a field too; `image` is never text).
    public func rankText(fields names: [String]) -> String {
        names.compactMap { name -> String? in
            guard name != "image", let value = name == "text" ? text : fields[name] else { return nil }
            return "\(name): \(value)"
        }.joined(separator: "\n")
    }

    static func isURL(_ image: String) -> Bool {
        let lowered = image.prefix(8).lowercased()
        return lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    // MARK: vLLM content parts

    /// One element of a vLLM `content` list.
    struct ContentPart: Decodable {
        struct ImageURL: Decodable { var url: String }
        var type: String
        var text: String?
        var imageURL: ImageURL?
        enum CodingKeys: String, CodingKey {
            case type, text
            case imageURL = "image_url"
        }

        /// Reads only the field its type needs (other fields are ignored, as vLLM does).
        init(from decoder: any Decoder) throws {
            let object = try decoder.container(keyedBy: CodingKeys.self)
            type = try object.decode(String.self, forKey: .type)
            switch type {
            case "text":
                text = try object.decode(String.self, forKey: .text)
            case "image_url":
                // An object `{"url"}` in the OpenAI shape; some clients send the URL string itself.
                if let url = try? object.decode(String.self, forKey: .imageURL) {
                    imageURL = ImageURL(url: url)
                } else {
                    imageURL = try object.decode(ImageURL.self, forKey: .imageURL)
                }
            default:
                break
            }
        }
    }

    static func decodeContent(_ parts: [ContentPart], in decoder: any Decoder) throws -> ItemInput {
        func invalid(_ message: String) -> DecodingError {
            .dataCorrupted(.init(codingPath: decoder.codingPath + [AnyKey("content")], debugDescription: message))
        }
        var texts = [String]()
        var image: String?
        for part in parts {
            switch part.type {
            case "text":
                texts.append(part.text ?? "")
            case "image_url":
                let url = part.imageURL?.url ?? ""
                guard image == nil else {
                    throw invalid("has more than one image; Lychee reads one image per query or document")
                }
                image = url
            default:
                throw invalid(
                    "part type \"\(part.type)\" is not supported; use \"text\" or \"image_url\" parts")
            }
        }
        return ItemInput(text: texts.isEmpty ? nil : texts.joined(), image: image)
    }
}

/// A coding key for any name (objects with fields the client chooses).
struct AnyKey: CodingKey, Hashable {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// One item or a list of items (vLLM accepts a single document, or a single `text_1`, where a list goes).
public struct ItemList: Decodable, Sendable {
    public var items: [ItemInput]

    public init(_ items: [ItemInput]) { self.items = items }

    public init(from decoder: any Decoder) throws {
        if let items = try? decoder.singleValueContainer().decode([ItemInput].self) {
            self.items = items
            return
        }
        // Decoding the list again gives the error of the offending element.
        if (try? decoder.unkeyedContainer()) != nil {
            self.items = try decoder.singleValueContainer().decode([ItemInput].self)
            return
        }
        self.items = [try ItemInput(from: decoder)]
    }
}
