import Foundation
import RegularFiles

/// Reads the `--documents` file of the CLI: JSON Lines, one document per line,
/// `{"text": "...", "image": "path/to/file.png"}` with either key or both. Relative image paths are
/// resolved against the file's folder. Blank lines are skipped.
public enum DocumentsFile {
    /// Why a documents file was refused; each message names the line.
    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case unreadable(path: String, reason: String)
        case notUTF8(path: String)
        case invalidJSON(line: Int, reason: String)
        case notAnObject(line: Int)
        case wrongType(line: Int, key: String)
        case empty(line: Int)
        case missingImage(line: Int, path: String)
        case noDocuments(path: String)

        public var description: String {
            switch self {
            case let .unreadable(path, reason): "cannot read documents file \(path): \(reason)"
            case let .notUTF8(path): "documents file \(path) is not UTF-8 text; save it as UTF-8 JSON Lines"
            case let .invalidJSON(line, reason):
                "documents file line \(line): not valid JSON (\(reason)); write one JSON object per line"
            case let .notAnObject(line):
                "documents file line \(line): expected an object like {\"text\": \"...\", \"image\": \"file.png\"}"
            case let .wrongType(line, key): "documents file line \(line): \"\(key)\" must be a string"
            case let .empty(line):
                "documents file line \(line): the document has neither \"text\" nor \"image\"; give at least one"
            case let .missingImage(line, path): "documents file line \(line): image file \(path) does not exist"
            case let .noDocuments(path): "documents file \(path) holds no documents"
            }
        }
    }

    /// Parses the file at `url`.
    public static func load(_ url: URL) throws(ParseError) -> [RerankItem] {
        let data: Data
        do { data = try RegularFile.contents(of: url) } catch {
            throw .unreadable(path: url.path, reason: error.reason)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .notUTF8(path: url.path) }
        let items = try parse(text, baseDirectory: url.deletingLastPathComponent())
        guard !items.isEmpty else { throw .noDocuments(path: url.path) }
        return items
    }

    /// Parses JSON Lines text; image paths are resolved against `baseDirectory`.
    public static func parse(_ text: String, baseDirectory: URL) throws(ParseError) -> [RerankItem] {
        var items = [RerankItem]()
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let number = offset + 1
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
            } catch {
                throw .invalidJSON(line: number, reason: (error as NSError).localizedDescription)
            }
            guard let fields = object as? [String: Any] else { throw .notAnObject(line: number) }
            var item = RerankItem()
            if let value = fields["text"] {
                guard let text = value as? String else { throw .wrongType(line: number, key: "text") }
                item.text = text
            }
            if let value = fields["image"] {
                guard let path = value as? String else { throw .wrongType(line: number, key: "image") }
                let url =
                    path.hasPrefix("/")
                    ? URL(fileURLWithPath: path) : baseDirectory.appendingPathComponent(path)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw .missingImage(line: number, path: url.path)
                }
                item.image = .file(url)
            }
            guard !item.isEmpty else { throw .empty(line: number) }
            items.append(item)
        }
        return items
    }
}
