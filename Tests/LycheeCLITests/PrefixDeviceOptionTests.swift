import Foundation
import Testing

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
