import CPUBackend
import Foundation
import Reranker
import TestSupport
import Testing

@testable import LycheeCLI

/// `--prefix-device-mib` on `serve` and `bench`: a negative size is refused before the model loads, naming
/// the option.
@Suite("--prefix-device-mib")
struct PrefixDeviceOptionTests {
    @Test("a negative size is refused with the option's name", arguments: ["serve", "bench"])
    func negativeRefused(command: String) throws {
        let run = try CommandLineRun.run([command, "--model", "/nonexistent", "--prefix-device-mib=-1"], seconds: 30)
        #expect(run.status != 0)
        #expect(run.standardError.contains("--prefix-device-mib must be 0 or more"), "\(run.standardError)")
    }
}

/// How much device memory the copies of cached prefixes get.
@Suite("Prefix copies' device memory")
struct PrefixCopySizingTests {
    @Test("on the CPU none unless asked for; asked for, what was asked")
    func cpuSizing() throws {
        let reranker = try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: CPUBackend(),
            options: RerankerOptions(prefixCacheBytes: 1 << 20))
        #expect(
            BackendSelection.prefixCopyBytes(
                requestedMiB: nil, backend: reranker.model.backend, model: reranker.model, budget: 4096) == 0)
        #expect(
            BackendSelection.prefixCopyBytes(
                requestedMiB: 3, backend: reranker.model.backend, model: reranker.model, budget: 4096) == 3 << 20)
    }
}
