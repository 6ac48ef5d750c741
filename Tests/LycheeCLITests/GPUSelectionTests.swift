import Foundation
import TestSupport
import Testing

/// `serve --gpus`: what a user gets for a list that cannot be served, on any machine.
@Suite("serve --gpus")
struct GPUSelectionTests {
    static let model = Fixtures.url("checkpoints/tiny-untied-legacy").path

    @Test("a malformed list is refused with a message naming it", arguments: ["x", "0,x", "-1", ""])
    func malformed(list: String) throws {
        let run = try CommandLineRun.run(
            ["serve", "--model", Self.model, "--gpus", list, "--host", "127.0.0.1", "--port", "0"], seconds: 30)
        #expect(!run.timedOut)
        #expect(run.status != 0)
        #expect(run.standardError.contains("--gpus"), "\(run.standardError)")
    }

    @Test("a GPU that is not there is a clear error, not a fallback to the CPU")
    func missingDevice() throws {
        let run = try CommandLineRun.run(
            ["serve", "--model", Self.model, "--gpus", "7", "--host", "127.0.0.1", "--port", "0"], seconds: 30)
        #expect(!run.timedOut)
        #expect(run.status != 0)
        #expect(
            run.standardError.contains("GPU 7") || run.standardError.contains("no usable CUDA"), "\(run.standardError)")
        #expect(!run.standardError.contains("serving"))
    }
}
