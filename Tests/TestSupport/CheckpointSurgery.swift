import Foundation
import SafeTensors

/// Broken copies of the fixture checkpoints: a folder copied to a temporary place, then one tensor or file
/// rewritten.
public enum CheckpointSurgery {
    /// A fresh temporary copy of `Fixtures/checkpoints/<name>`.
    public static func copyFixture(_ name: String = "tiny-untied-legacy") throws -> URL {
        let folder = try Fixtures.temporaryDirectory("checkpoint-\(name)")
        let copy = folder.appendingPathComponent(name)
        try FileManager.default.copyItem(at: Fixtures.url("checkpoints/\(name)"), to: copy)
        return copy
    }

    /// Rewrites tensor `name` (stored name) in whichever safetensors file of `folder` holds it, its values
    /// replaced by `transform(values)` in the same dtype; every other tensor and the metadata stay as they were.
    public static func rewrite(_ name: String, in folder: URL, _ transform: ([Float]) -> [Float]) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        for fileName in files {
            let url = folder.appendingPathComponent(fileName)
            let tensors: [SafeTensorWriter.Tensor]
            let metadata: [String: String]
            do {
                let file = try SafeTensorFile(url: url, loading: .readIntoMemory)
                guard file.tensors[name] != nil else { continue }
                metadata = file.metadata
                tensors = try file.tensorNames.map { tensorName in
                    guard let info = file.tensors[tensorName] else {
                        throw SafeTensorsError.tensorNotFound(name: tensorName, location: url.path)
                    }
                    if tensorName == name {
                        return SafeTensorWriter.Tensor(
                            name: tensorName, dtype: info.dtype, shape: info.shape,
                            values: transform(try file.floats(tensorName)))
                    }
                    return SafeTensorWriter.Tensor(
                        name: tensorName, dtype: info.dtype, shape: info.shape, data: Array(try file.bytes(tensorName)))
                }
            }
            try Data(SafeTensorWriter.serialize(tensors, metadata: metadata)).write(to: url)
            return
        }
        throw SafeTensorsError.tensorNotFound(name: name, location: folder.path)
    }
}
