import Foundation

/// Checks on a request body that Foundation's JSON decoder reports without naming the field (it says
/// only "the given data was not valid JSON"): bytes that are not UTF-8, and numbers that must be whole.
enum RequestBodyCheck {
    /// Throws an ``APIError`` naming the field that holds the first byte that is not UTF-8.
    static func requireUTF8(_ body: Data) throws {
        guard let offset = body.withUnsafeBytes({ firstInvalidUTF8Offset($0) }) else { return }
        let bytes = [UInt8](body)
        let byte = String(format: "0x%02X", bytes[offset])
        let place = JSONFieldLocator.path(at: offset, in: bytes).map { "field \($0)" } ?? "the body"
        throw APIError.invalidRequest(
            "\(place) is not valid UTF-8 (byte \(byte) at offset \(offset)): JSON must be UTF-8 text; "
                + "send text as UTF-8 and images as base64")
    }

    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence, or nil.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { firstInvalidUTF8Offset($0) }
    }

    /// ``firstInvalidUTF8Offset(_:)`` over raw bytes. Runs of ASCII (base64 images: nearly the whole of a large
    /// body) are passed over eight bytes at a time.
    static func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                while index + 8 <= bytes.count,
                    bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
                {
                    index += 8
                }
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF  // no overlong forms
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F  // no surrogates
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F  // nothing above U+10FFFF
            default: return index
            }
            for position in 1..<max(length, 1) {
                let next = index + position
                guard next < bytes.count else { return index }
                let range = position == 1 ? secondRange : 0x80...0xBF
                guard range.contains(bytes[next]) else { return index }
            }
            index += length
        }
        return nil
    }
}

/// Finds which JSON field a byte offset falls in, as the API names fields (`documents[1].text`).
enum JSONFieldLocator {
    private enum Frame {
        case object(key: String?)
        case array(index: Int)
    }

    /// The path of the value (or key) holding byte `offset`; nil when it is outside every field.
    static func path(at offset: Int, in bytes: [UInt8]) -> String? {
        var stack = [Frame]()
        var expectingKey = false
        var index = 0
        while index < bytes.count, index <= offset {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                stack.append(.object(key: nil))
                expectingKey = true
            case UInt8(ascii: "["):
                stack.append(.array(index: 0))
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectingKey = false
            case UInt8(ascii: ","):
                switch stack.last {
                case .array(let position)?: stack[stack.count - 1] = .array(index: position + 1)
                case .object?: expectingKey = true
                case nil: break
                }
            case UInt8(ascii: ":"):
                expectingKey = false
            case UInt8(ascii: "\""):
                let end = endOfString(startingAt: index, in: bytes)
                if expectingKey, case .object? = stack.last {
                    let key = String(decoding: bytes[(index + 1)..<min(end, bytes.count)], as: UTF8.self)
                    stack[stack.count - 1] = .object(key: key)
                    if offset <= end { return describe(stack) }
                } else if offset <= end {
                    return describe(stack)
                }
                index = end
            default:
                break
            }
            index += 1
        }
        return describe(stack)
    }

    /// The index of the quote closing the string that opens at `start` (or the end of the bytes).
    private static func endOfString(startingAt start: Int, in bytes: [UInt8]) -> Int {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index
            default: index += 1
            }
        }
        return bytes.count
    }

    private static func describe(_ stack: [Frame]) -> String? {
        var text = ""
        for frame in stack {
            switch frame {
            case .object(let key?): text += (text.isEmpty ? "" : ".") + key
            case .object(nil): break
            case .array(let index): text += "[\(index)]"
            }
        }
        return text.isEmpty ? nil : text
    }
}
